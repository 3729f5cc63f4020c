// The training form: presets fill every field in place (values rendered by the
// server from the generator's PRESETS), and the bandwidth mode shows only the
// fields it uses. Without JavaScript the preset links reload the page instead.
"use strict";

(function () {
  const form = document.getElementById("training-form");
  const source = document.getElementById("preset-values");
  if (!form || !source) {
    return;
  }
  const presets = JSON.parse(source.textContent);
  const sizes = JSON.parse(document.getElementById("dataset-sizes").textContent);
  const trainingImages = form.querySelector('[name="n_train"]');
  // The value this script last put in "Training images", if it did.
  let adaptedTrainingImages = null;

  // Like the server, a preset's training images shrink to fit a smaller data set
  // (and grow back); a number the user typed stays theirs.
  function adaptTrainingImages() {
    const preset = presets[form.querySelector('[name="preset"]').value];
    const size = sizes[form.querySelector('[name="dataset"]').value];
    if (!preset || !size) {
      return;
    }
    const current = trainingImages.value.trim();
    if (current !== preset.n_train && current !== adaptedTrainingImages) {
      return;
    }
    adaptedTrainingImages = String(Math.min(parseInt(preset.n_train, 10), size));
    trainingImages.value = adaptedTrainingImages;
  }

  function setField(name, value) {
    const elements = form.querySelectorAll('[name="' + name + '"]');
    elements.forEach(function (element) {
      if (element.type === "checkbox") {
        element.checked = value === true;
      } else if (element.type === "radio") {
        element.checked = element.value === value;
      } else {
        element.value = value;
      }
    });
  }

  function showBandwidthSections() {
    const checked = form.querySelector('input[name="bandwidth_mode"]:checked');
    const mode = checked ? checked.value : "cv";
    document.querySelectorAll("[data-bandwidth-section]").forEach(function (section) {
      // Keep a section with an error visible so the message can be read.
      const hasError = section.querySelector(".has-error") !== null;
      section.hidden = section.dataset.bandwidthSection !== mode && !hasError;
    });
  }

  function choosePreset(name) {
    const values = presets[name];
    if (!values) {
      return;
    }
    Object.keys(values).forEach(function (key) {
      if (key !== "name") {
        setField(key, values[key]);
      }
    });
    document.querySelectorAll("[data-preset]").forEach(function (link) {
      if (link.dataset.preset === name) {
        link.setAttribute("aria-current", "true");
      } else {
        link.removeAttribute("aria-current");
      }
    });
    document.querySelectorAll("[data-preset-note]").forEach(function (note) {
      note.hidden = note.dataset.presetNote !== name;
    });
    showBandwidthSections();
    adaptedTrainingImages = null;
    adaptTrainingImages();
    const url = new URL(window.location.href);
    url.searchParams.set("preset", name);
    window.history.replaceState(null, "", url);
  }

  document.querySelectorAll("[data-preset]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      choosePreset(link.dataset.preset);
    });
  });
  form.querySelectorAll('input[name="bandwidth_mode"]').forEach(function (radio) {
    radio.addEventListener("change", showBandwidthSections);
  });
  form.querySelector('[name="dataset"]').addEventListener("change", adaptTrainingImages);
  showBandwidthSections();

  // Put the keyboard on the first field the server refused.
  const firstError = form.querySelector('[aria-invalid="true"]');
  if (firstError) {
    firstError.focus();
  }
})();
