// Pasted by a member with the iframe snippet: sizes each Co-op Data Club signup iframe
// on the page to the height its form reports (see embed-frame.js). It trusts only
// messages from the Club's own address, the one this script was loaded from. This script
// loads asynchronously, so a frame may have reported its height before it listened: it
// asks every frame once it runs, and a frame that has not loaded yet reports on load.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var origin = new URL(script.src).origin;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== origin || !data || data.type !== "coopclub:height") return;
    var height = Number(data.height);
    if (!isFinite(height)) return;
    var frames = document.querySelectorAll("iframe[data-coopclub-signup]");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) {
        frames[i].style.height = Math.min(Math.max(Math.round(height), 120), 4000) + "px";
      }
    }
  });
  var frames = document.querySelectorAll("iframe[data-coopclub-signup]");
  for (var i = 0; i < frames.length; i++) {
    if (frames[i].contentWindow) frames[i].contentWindow.postMessage({ type: "coopclub:measure" }, origin);
  }
})();
