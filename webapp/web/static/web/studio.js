// Shared helpers for the page scripts: CSRF-aware JSON requests to our own API.
"use strict";

window.Studio = (function () {
  // The CSRF cookie is HttpOnly: every logged-in page carries the token in a
  // form (the log-out button's at least).
  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Resolves to {ok, status, data}; data is the parsed JSON body or null.
  async function requestJSON(url, options) {
    const settings = Object.assign({ method: "GET" }, options || {});
    const headers = { Accept: "application/json" };
    if (settings.method !== "GET") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRFToken"] = csrfToken();
    }
    const response = await fetch(url, {
      method: settings.method,
      headers: headers,
      body: settings.body === undefined ? undefined : JSON.stringify(settings.body),
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) {
      return "—";
    }
    if (seconds < 10) {
      return seconds.toFixed(1) + " s";
    }
    const whole = Math.round(seconds);
    const hours = Math.floor(whole / 3600);
    const minutes = Math.floor((whole % 3600) / 60);
    const secs = whole % 60;
    const pad = function (n) { return String(n).padStart(2, "0"); };
    if (hours) {
      return hours + " h " + pad(minutes) + " m";
    }
    if (minutes) {
      return minutes + " m " + pad(secs) + " s";
    }
    return secs + " s";
  }

  // Ask before something that cannot be undone; resolves to true to go ahead.
  function confirm(message, yes, no) {
    return new Promise(function (resolve) {
      const dialog = document.createElement("dialog");
      dialog.className = "confirm-dialog";
      const text = document.createElement("p");
      text.textContent = message;
      const buttons = document.createElement("div");
      buttons.className = "actions";
      const confirmButton = document.createElement("button");
      confirmButton.type = "button";
      confirmButton.className = "btn btn-danger";
      confirmButton.textContent = yes;
      const keepButton = document.createElement("button");
      keepButton.type = "button";
      keepButton.className = "btn";
      keepButton.textContent = no;
      buttons.append(confirmButton, keepButton);
      dialog.append(text, buttons);
      document.body.appendChild(dialog);
      // Escape closes the dialog: the same as keeping.
      dialog.addEventListener("close", function () {
        dialog.remove();
        resolve(dialog.returnValue === "yes");
      });
      confirmButton.addEventListener("click", function () { dialog.close("yes"); });
      keepButton.addEventListener("click", function () { dialog.close("no"); });
      dialog.showModal();
      keepButton.focus();
    });
  }

  return {
    csrfToken: csrfToken,
    requestJSON: requestJSON,
    formatDuration: formatDuration,
    confirm: confirm,
  };
})();
