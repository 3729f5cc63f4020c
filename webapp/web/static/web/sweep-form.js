// The training form's sweep mode: show the values to tick only in sweep mode,
// and say on the button what will be queued. Without this script both show.
"use strict";

(function () {
  const form = document.getElementById("training-form");
  const section = document.getElementById("sweep-values");
  const button = document.getElementById("training-submit");
  if (!form || !section || !button) {
    return;
  }
  const radios = Array.from(form.querySelectorAll("input[name=mode]"));

  function update() {
    const checked = radios.find(function (radio) { return radio.checked; });
    const isSweep = checked !== undefined && checked.value === "sweep";
    section.hidden = !isSweep;
    button.textContent = isSweep ? button.dataset.sweepLabel : button.dataset.singleLabel;
  }

  radios.forEach(function (radio) { radio.addEventListener("change", update); });
  update();
})();
