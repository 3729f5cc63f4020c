// Live rows in job tables (dashboard, history): poll unfinished jobs' API rows.
// StudioJobsTable.watch(root) starts on the rows under root: the page's at load,
// and the dashboard's again when it swaps in a fresh list.
"use strict";

window.StudioJobsTable = (function () {
  const FINISHED = ["succeeded", "failed", "cancelled"];
  const INTERVAL_MS = 1500;
  let phaseLabels = {};

  function resultLink(row, job) {
    if (job.model_version) {
      return ["Model version →", row.dataset.modelUrl.replace("/0/", "/" + job.model_version + "/")];
    }
    if (job.gallery) {
      return ["Gallery →", row.dataset.galleryUrl.replace("/0/", "/" + job.gallery + "/")];
    }
    return null;
  }

  function update(row, job) {
    row.dataset.state = job.state;
    const badge = row.querySelector("[data-state-badge]");
    badge.className = "badge state-" + job.state;
    badge.textContent = job.state;
    const percent = Math.round((job.progress || 0) * 100);
    const bar = row.querySelector("progress");
    bar.value = percent;
    bar.className = "progress is-" + job.state;
    bar.textContent = percent + "%";
    const phase = row.querySelector("[data-phase]");
    if (job.state === "running") {
      phase.textContent = phaseLabels[job.phase] || job.phase || "Starting";
    } else if (job.state === "queued" || job.state === "waiting") {
      phase.textContent = job.queue_position ? "#" + job.queue_position + " in queue" : "waiting";
    } else {
      phase.textContent = percent + "%";
    }
    const link = resultLink(row, job);
    const cell = row.querySelector("[data-result]");
    if (link) {
      const anchor = document.createElement("a");
      anchor.textContent = link[0];
      anchor.href = link[1];
      cell.replaceChildren(anchor);
    } else if (job.state === "failed") {
      cell.innerHTML = '<span class="muted small">failed</span>';
    }
  }

  async function poll(row) {
    if (!row.isConnected) {
      return; // swapped out for a fresh list
    }
    try {
      const result = await Studio.requestJSON(row.dataset.jobApi);
      if (result.ok && result.data) {
        update(row, result.data);
      }
    } catch (error) {
      // A dropped request is retried on the next tick.
    }
    if (FINISHED.indexOf(row.dataset.state) === -1) {
      window.setTimeout(function () { poll(row); }, INTERVAL_MS);
    }
  }

  function watch(root) {
    const labelsSource = root.querySelector("#phase-labels");
    if (labelsSource) {
      phaseLabels = JSON.parse(labelsSource.textContent);
    }
    root.querySelectorAll("[data-live-jobs] tr[data-job-api]").forEach(function (row) {
      if (FINISHED.indexOf(row.dataset.state) === -1) {
        window.setTimeout(function () { poll(row); }, INTERVAL_MS);
      }
    });
  }

  watch(document);
  return { watch: watch };
})();
