// The sweep page's table of runs stays live: while the sweep runs, fetch the
// table again (the server renders it, sorted as the page's query asks).
"use strict";

(function () {
  const INTERVAL_MS = 2000;
  const container = document.getElementById("sweep-runs");
  if (!container) {
    return;
  }

  function isLive() {
    const table = container.querySelector("[data-live]");
    return table !== null && table.dataset.live === "true";
  }

  async function refresh() {
    const params = new URLSearchParams(window.location.search);
    params.set("partial", "1");
    try {
      const response = await fetch(container.dataset.liveUrl + "?" + params.toString(), {
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.ok) {
        container.innerHTML = await response.text();
      }
    } catch (error) {
      // A dropped request is retried on the next tick.
    }
    if (isLive()) {
      window.setTimeout(refresh, INTERVAL_MS);
    } else {
      const cancel = document.getElementById("sweep-cancel-form");
      if (cancel) {
        cancel.hidden = true;
      }
    }
  }

  if (isLive()) {
    window.setTimeout(refresh, INTERVAL_MS);
  }
})();
