// The dashboard's counts, kept live: jobs queued and finished anywhere (another
// tab, the API) move them. When a job or a gallery was made elsewhere, its lists
// of recent jobs and latest galleries are fetched again and swapped in.
"use strict";

(function () {
  const panel = document.getElementById("dashboard-counts");
  if (!panel) {
    return;
  }
  const INTERVAL_MS = 2000;
  const fields = ["queued", "running", "models", "galleries"];
  const LISTS = ["latest-galleries", "recent-jobs"];
  // The galleries count the listed galleries were rendered with.
  let listedGalleries = document.getElementById("count-galleries").textContent;

  // Resolves to whether the lists were swapped.
  async function refreshLists() {
    const response = await fetch(panel.dataset.recentUrl, {
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) {
      return false;
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
    return true;
  }

  function listsOutOfDate(data) {
    const jobs = document.getElementById("recent-jobs");
    return (
      jobs.dataset.latestJob !== (data.latest_job || "") ||
      listedGalleries !== String(data.galleries)
    );
  }

  async function poll() {
    if (!document.hidden) {
      try {
        const result = await Studio.requestJSON(panel.dataset.countsUrl);
        if (result.ok && result.data) {
          const stale = listsOutOfDate(result.data);
          fields.forEach(function (field) {
            const element = document.getElementById("count-" + field);
            const value = String(result.data[field]);
            if (element.textContent !== value) {
              element.textContent = value;
            }
          });
          if (stale && (await refreshLists())) {
            listedGalleries = String(result.data.galleries);
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
