// The job page: polls GET /api/v1/jobs/{id} and redraws the state, phase,
// progress, queue position, elapsed time, error and result link. A job just
// submitted is often done within a fraction of a second (a gallery of 16 images
// in tens of milliseconds, about when its page is drawn): the first poll comes
// as soon as the page is drawn, the next 100 ms later, each next one twice as
// late, up to once a second.
"use strict";

(function () {
  const root = document.getElementById("job");
  if (!root) {
    return;
  }
  const FINISHED = ["succeeded", "failed", "cancelled"];
  const POLL_MS = 1000;
  let pollDelay = 0;
  const phaseLabels = JSON.parse(document.getElementById("phase-labels").textContent);
  let job = JSON.parse(document.getElementById("job-data").textContent);
  const $ = function (id) { return document.getElementById(id); };

  function isFinished() {
    return FINISHED.indexOf(job.state) !== -1;
  }

  function seconds(from, to) {
    if (!from) {
      return null;
    }
    const end = to ? Date.parse(to) : Date.now();
    return Math.max(0, (end - Date.parse(from)) / 1000);
  }

  function renderElapsed() {
    const element = $("job-elapsed");
    if (job.started_at) {
      const text = Studio.formatDuration(seconds(job.started_at, job.finished_at));
      element.textContent = job.finished_at ? text : text + " so far";
    } else if (job.finished_at) {
      element.textContent = "never started";
    } else {
      element.textContent = "waiting for " + Studio.formatDuration(seconds(job.created_at, null));
    }
  }

  function render() {
    const badge = $("job-state").querySelector("[data-state-badge]");
    badge.className = "badge state-" + job.state;
    badge.textContent = job.state;

    const percent = Math.round((job.progress || 0) * 100);
    const bar = $("job-progress");
    bar.value = percent;
    bar.textContent = percent + "%";
    bar.className = "progress progress-lg is-" + job.state;
    $("job-percent").textContent = percent + "%";

    let phase = phaseLabels[job.phase] || job.phase || "Waiting";
    if (job.state === "queued") {
      phase = "Waiting for a worker";
    } else if (job.state === "waiting") {
      phase = "Waiting for a free training slot (a parameter sweep's run)";
    } else if (job.state === "running" && job.cancel_requested) {
      phase = "Cancelling after the current step";
    } else if (job.state === "failed") {
      phase = "Failed" + (job.phase ? " while " + (phaseLabels[job.phase] || job.phase).toLowerCase() : "");
    } else if (job.state === "cancelled") {
      phase = "Cancelled";
    } else if (job.state === "succeeded") {
      phase = "Finished";
    }
    $("job-phase").textContent = phase;

    $("job-queue").textContent = job.queue_position
      ? "#" + job.queue_position + " in the " + job.kind + " queue"
      : "—";
    $("job-attempts").textContent = String(job.attempts);
    renderElapsed();

    $("job-error").hidden = !job.error;
    $("job-error-text").textContent = job.error || "";
    $("job-log-tail").hidden = !job.log_tail;
    $("job-log-tail-text").textContent = job.log_tail || "";

    let resultUrl = null;
    if (job.model_version) {
      resultUrl = root.dataset.modelUrl.replace("/0/", "/" + job.model_version + "/");
    } else if (job.gallery) {
      resultUrl = root.dataset.galleryUrl.replace("/0/", "/" + job.gallery + "/");
    }
    $("job-result").hidden = resultUrl === null;
    if (resultUrl) {
      $("job-result-link").href = resultUrl;
    }
    // A generation's images, as one sheet, right where its page says it is done.
    const sheet = $("job-result-sheet");
    if (sheet && job.gallery && !sheet.getAttribute("src")) {
      const galleryUrl = function (element) {
        return element.dataset.sheetUrl.replace("/0/", "/" + job.gallery + "/");
      };
      const narrow = $("job-result-sheet-narrow");
      narrow.srcset = galleryUrl(narrow);
      sheet.src = galleryUrl(sheet);
      sheet.hidden = false;
    }

    const cancelForm = $("cancel-form");
    cancelForm.hidden = isFinished();
    const cancelButton = $("cancel-button");
    if (job.cancel_requested && !isFinished()) {
      cancelButton.disabled = true;
      cancelButton.textContent = "Cancelling…";
    }
    if (isFinished()) {
      $("job-live-note").textContent = "This job has finished.";
      document.querySelectorAll("[data-when-finished]").forEach(function (element) {
        element.hidden = false;
      });
      // "Training run … queued." no longer holds.
      document.querySelectorAll("[data-queued-message]").forEach(function (item) {
        const list = item.parentElement;
        item.remove();
        if (list && !list.children.length) {
          list.remove();
        }
      });
    }
  }

  // A training that just succeeded: flag a bandwidth at the edge of its grid,
  // as the page does when it is loaded later.
  async function showGridEdge() {
    const flag = $("grid-edge");
    if (!flag || !flag.hidden || job.state !== "succeeded" || !job.model_version) {
      return;
    }
    const result = await Studio.requestJSON(
      root.dataset.modelApiUrl.replace(/\/0$/, "/" + job.model_version));
    const metrics = result.ok && result.data ? result.data.metrics : null;
    if (!metrics || !metrics.bandwidth_grid_edge) {
      return;
    }
    const lower = metrics.bandwidth_grid_edge === "lower";
    $("grid-edge-text").textContent = Number(metrics.bandwidth.toPrecision(4)) + " is the " +
      (lower ? "smallest" : "largest") + " value tried, so the best bandwidth may be " +
      (lower ? "smaller" : "larger") + ".";
    $("grid-edge-link").href = root.dataset.trainingUrl + "?model=" + job.model_version +
      "&grid=wider";
    flag.hidden = false;
  }

  function pollLater() {
    window.setTimeout(poll, pollDelay);
    pollDelay = Math.min(Math.max(2 * pollDelay, 100), POLL_MS);
  }

  async function poll() {
    try {
      const result = await Studio.requestJSON(root.dataset.apiUrl);
      if (result.ok && result.data) {
        job = result.data;
        render();
      }
    } catch (error) {
      // Network hiccup: try again on the next tick.
    }
    if (!isFinished()) {
      pollLater();
    } else {
      showGridEdge();
    }
  }

  $("cancel-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const confirmed = await Studio.confirm(
      "Cancel this job? A queued job never starts; a running one stops at its next step and keeps no result.",
      "Yes, cancel it",
      "No, keep it running"
    );
    if (!confirmed) {
      return;
    }
    const button = $("cancel-button");
    button.disabled = true;
    button.textContent = "Cancelling…";
    const result = await Studio.requestJSON(root.dataset.cancelUrl, { method: "POST" });
    if (result.ok && result.data) {
      job = result.data;
    } else if (result.status === 409) {
      // It finished first; the next poll shows how.
    } else {
      button.disabled = false;
      button.textContent = "Cancel job";
    }
    render();
  });

  render();
  window.setInterval(function () {
    if (!isFinished()) {
      renderElapsed();
    }
  }, 1000);
  if (!isFinished()) {
    pollLater();
  }
})();
