/* The book's own script (served from _static, no library, no network).
 * 1. Tables fit the text column: a table wider than the space it sits in is tightened one step at a time
 *    (data-wedges-fit = 1: less padding, smaller type; 2: smaller still; 3: column headers may break inside
 *    words; 4: every cell may) until it fits. Tables that fit are left alone; hidden ones are fitted when a
 *    toggle opens them, and all again on resize and once the maths is typeset.
 * 2. Click (or Enter on) a figure in the page to see it at full size in an overlay; click or Escape closes it.
 */
(function () {
  "use strict";

  function room(table) {  // the width a table may take: its container's content box
    const box = table.parentElement, s = getComputedStyle(box);
    return box.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  }

  function fitTables() {
    document.querySelectorAll("main table").forEach(function (t) {
      if (!t.offsetWidth) return;  // hidden (a collapsed toggle): fitted when it opens
      t.removeAttribute("data-wedges-fit");
      for (let level = 1; level <= 4 && t.offsetWidth > room(t) + 1; level++) {
        t.setAttribute("data-wedges-fit", String(level));
      }
    });
  }

  function closeZoom(box, from) {
    box.remove();
    document.removeEventListener("keydown", box.wedgesKeys);
    if (from) from.focus();
  }

  function openZoom(img) {
    const box = document.createElement("div"), big = document.createElement("img");
    box.className = "wedges-zoom";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", "the figure at full size (click or Escape to close)");
    box.tabIndex = -1;
    big.src = img.currentSrc || img.src;
    big.alt = img.alt;
    box.appendChild(big);
    box.addEventListener("click", function () { closeZoom(box, img); });
    box.wedgesKeys = function (e) { if (e.key === "Escape") closeZoom(box, img); };
    document.addEventListener("keydown", box.wedgesKeys);
    document.body.appendChild(box);
    box.focus();
  }

  function markFigures() {  // every figure not already a link: enlargeable
    document.querySelectorAll("main img").forEach(function (img) {
      if (img.closest("a") || img.hasAttribute("data-wedges-zoom")) return;
      img.setAttribute("data-wedges-zoom", "");
      img.tabIndex = 0;
      img.setAttribute("role", "button");
      if (!img.title) img.title = "Click to enlarge";
    });
  }

  document.addEventListener("click", function (e) {
    const img = e.target.closest && e.target.closest("main img[data-wedges-zoom]");
    if (img) { e.preventDefault(); openZoom(img); }
    else setTimeout(fitTables, 0);  // a toggle button may have shown a table
  });
  document.addEventListener("keydown", function (e) {
    const img = e.target.matches && e.target.matches("main img[data-wedges-zoom]") ? e.target : null;
    if (img && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); openZoom(img); }
  });
  document.addEventListener("toggle", function () { fitTables(); }, true);  // <details> opened or closed
  window.addEventListener("resize", fitTables);
  window.addEventListener("load", function () {  // fonts, images and typeset maths change widths
    fitTables();
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(fitTables);
  });
  function start() { markFigures(); fitTables(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
