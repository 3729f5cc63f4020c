// The dashboard's counts, kept live: jobs queued and finished anywhere (another
// tab, the API) move them, not only the rows listed below.
"use strict";

(function () {
  const panel = document.getElementById("dashboard-counts");
  if (!panel) {
    return;
  }
  const INTERVAL_MS = 2000;
  const fields = ["queued", "running", "models", "galleries"];

  async function poll() {
    if (!document.hidden) {
      try {
        const result = await Studio.requestJSON(panel.dataset.countsUrl);
        if (result.ok && result.data) {
          fields.forEach(function (field) {
            const element = document.getElementById("count-" + field);
            const value = String(result.data[field]);
            if (element.textContent !== value) {
              element.textContent = value;
            }
          });
        }
      } catch (error) {
        // A dropped request is retried on the next tick.
      }
    }
    window.setTimeout(poll, INTERVAL_MS);
  }

  window.setTimeout(poll, INTERVAL_MS);
})();
