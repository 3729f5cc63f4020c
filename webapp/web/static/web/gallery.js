// A gallery page whose quality figures are still being computed (the
// gallery.evaluate task runs after the images are stored): poll the gallery's API
// row and reload the page once its evaluation_state has moved on.
"use strict";

(function () {
  const section = document.getElementById("quality");
  if (
    !section ||
    section.dataset.evaluationState !== "pending" ||
    !section.dataset.galleryUrl
  ) {
    return;
  }
  const INTERVAL_MS = 1000;

  async function poll() {
    if (!document.hidden) {
      try {
        const result = await Studio.requestJSON(section.dataset.galleryUrl);
        if (result.ok && result.data && result.data.evaluation_state !== "pending") {
          window.location.reload();
          return;
        }
      } catch (error) {
        // A dropped request is retried on the next tick.
      }
    }
    window.setTimeout(poll, INTERVAL_MS);
  }

  window.setTimeout(poll, INTERVAL_MS);
})();
