// Copy the API token to the clipboard.
"use strict";

(function () {
  const button = document.getElementById("copy-token");
  const status = document.getElementById("copy-status");
  if (!button) {
    return;
  }
  button.addEventListener("click", async function () {
    const input = document.getElementById(button.dataset.copyTarget);
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = "Copied to the clipboard.";
    } catch (error) {
      input.select();
      status.textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
    }
  });
})();
