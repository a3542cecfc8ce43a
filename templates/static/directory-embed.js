// Pasted with the directory iframe snippet: sizes each Co-op Data Club directory iframe
// to the height its page reports, and tells it whether this page is light or dark, so
// it matches. It trusts only messages from the Club's own address (this script's).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var origin = new URL(script.src).origin;
  function frames() { return document.querySelectorAll("iframe[data-coopclub-directory]"); }
  function luminance(colour) {
    var m = colour.match(/\d+(\.\d+)?/g);
    if (!m || m.length < 3 || (m.length > 3 && Number(m[3]) === 0)) return null;
    return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
  }
  function theme() {
    // The page's own background decides; a transparent page follows its color-scheme.
    var nodes = [document.body, document.documentElement];
    for (var i = 0; i < nodes.length; i++) {
      if (!nodes[i]) continue;
      var l = luminance(getComputedStyle(nodes[i]).backgroundColor);
      if (l !== null) return l < 0.5 ? "dark" : "light";
    }
    var scheme = getComputedStyle(document.documentElement).colorScheme || "";
    if (scheme.indexOf("dark") !== -1 && scheme.indexOf("light") === -1) return "dark";
    if (scheme.indexOf("dark") !== -1 && window.matchMedia &&
        window.matchMedia("(prefers-color-scheme: dark)").matches) return "dark";
    return "light";
  }
  function tell(frame) {
    if (frame.contentWindow) frame.contentWindow.postMessage({ type: "coopclub:theme", theme: theme() }, origin);
  }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== origin || !data) return;
    var all = frames();
    for (var i = 0; i < all.length; i++) {
      if (all[i].contentWindow !== event.source) continue;
      if (data.type === "coopclub:height") {
        var height = Number(data.height);
        if (isFinite(height)) all[i].style.height = Math.min(Math.max(Math.round(height), 120), 6000) + "px";
      } else if (data.type === "coopclub:ready") {
        tell(all[i]);
      }
    }
  });
  // This script loads asynchronously: a frame that loaded before it listened has
  // already sent its height and asked for the look, so ask it again and tell it now.
  var loaded = frames();
  for (var i = 0; i < loaded.length; i++) {
    tell(loaded[i]);
    if (loaded[i].contentWindow) loaded[i].contentWindow.postMessage({ type: "coopclub:measure" }, origin);
  }
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
      var all = frames();
      for (var i = 0; i < all.length; i++) tell(all[i]);
    });
  }
})();
