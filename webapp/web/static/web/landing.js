// The landing page's Generate button: the old app's POST /generate, no reload.
"use strict";

(function () {
  const form = document.getElementById("demo-form");
  if (!form) {
    return;
  }
  const grid = document.getElementById("demo-images");
  const status = document.getElementById("demo-status");
  const button = document.getElementById("demo-generate");
  const select = document.getElementById("demo-count");

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const count = parseInt(select.value, 10);
    button.disabled = true;
    button.textContent = "Generating…";
    status.textContent = "";
    const started = performance.now();
    try {
      const result = await Studio.requestJSON(form.dataset.generateUrl, {
        method: "POST",
        body: { n_samples: count },
      });
      if (!result.ok || !result.data || !result.data.success) {
        const message = (result.data && (result.data.error || result.data.detail)) ||
          "The server could not generate images (HTTP " + result.status + ").";
        status.textContent = message;
        status.classList.add("alert", "alert-error");
        return;
      }
      status.classList.remove("alert", "alert-error");
      const items = result.data.images.map(function (src, index) {
        const item = document.createElement("li");
        const image = document.createElement("img");
        image.className = "digit-img";
        image.src = src;
        image.alt = "Generated digit " + (index + 1);
        item.appendChild(image);
        return item;
      });
      grid.replaceChildren.apply(grid, items);
      const seconds = (performance.now() - started) / 1000;
      status.textContent = "Generated " + result.data.count + " new image" +
        (result.data.count === 1 ? "" : "s") + " in " + seconds.toFixed(2) + " s.";
    } catch (error) {
      status.textContent = "Network error: " + error.message;
      status.classList.add("alert", "alert-error");
    } finally {
      button.disabled = false;
      button.textContent = "Generate";
    }
  });
})();
