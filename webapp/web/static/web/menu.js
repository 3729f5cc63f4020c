// The header's menu button on narrow screens. Loaded in <head>: the "js" class
// hides the menu before the first paint; without JavaScript it stays open.
"use strict";

document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  const toggle = document.getElementById("menu-toggle");
  const menu = document.getElementById("site-menu");
  if (!toggle || !menu) {
    return;
  }
  toggle.addEventListener("click", function () {
    const open = menu.classList.toggle("is-open");
    toggle.setAttribute("aria-expanded", String(open));
  });
});
