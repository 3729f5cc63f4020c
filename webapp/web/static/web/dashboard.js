// The dashboard's counts, kept live: jobs queued and finished anywhere (another
// tab, the API) move them. When a job or a gallery was made or deleted elsewhere,
// its lists of recent jobs and latest galleries are fetched again and swapped in.
"use strict";

(function () {
  const panel = document.getElementById("dashboard-counts");
  if (!panel) {
    return;
  }
  const INTERVAL_MS = 2000;
  const fields = ["queued", "running", "models", "galleries"];
  const LISTS = ["latest-galleries", "recent-jobs"];

  async function refreshLists() {
    const response = await fetch(panel.dataset.recentUrl, {
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) {
      return;
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    LISTS.forEach(function (id) {
      const current = document.getElementById(id);
      const replacement = fresh.getElementById(id);
      if (current && replacement) {
        current.replaceWith(replacement);
      }
    });
    StudioJobsTable.watch(document.getElementById("recent-jobs"));
  }

  // The ids the lists hold (data-listed) against those they should (the counts').
  function listsOutOfDate(data) {
    return document.getElementById("recent-jobs").dataset.listed !== data.listed;
  }

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
          if (listsOutOfDate(result.data)) {
            await refreshLists();
          }
        }
      } catch (error) {
        // A dropped request is retried on the next tick.
      }
    }
    window.setTimeout(poll, INTERVAL_MS);
  }

  window.setTimeout(poll, INTERVAL_MS);
})();
