// The model page's "Draw new ones": fresh samples in place, without a reload.
// Without JavaScript the link reloads the page, which samples anew too.
"use strict";

(function () {
  const link = document.getElementById("draw-samples");
  const block = document.getElementById("samples-block");
  const status = document.getElementById("samples-status");
  if (!link || !block) {
    return;
  }
  link.addEventListener("click", async function (event) {
    event.preventDefault();
    link.setAttribute("aria-disabled", "true");
    status.textContent = "Drawing…";
    try {
      const response = await fetch(link.dataset.samplesUrl, {
        credentials: "same-origin",
        cache: "no-store",
      });
      block.innerHTML = await response.text();
      status.textContent = response.ok ? "New samples drawn." : "";
    } catch (error) {
      status.textContent = "Network error: " + error.message;
    } finally {
      link.removeAttribute("aria-disabled");
    }
  });
})();
