// Inside the Club's signup form when a member's page frames it: tell the framing page
// how tall the form is now, so embed.js there can size the iframe to fit (no scrollbar,
// no cut-off button), on load, whenever the content changes (errors, thank-you), and
// whenever the framing page asks (its script may run after this page has loaded, and a
// message sent before it listens is lost).
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== window.parent || !data || data.type !== "coopclub:measure") return;
    last = 0;
    post();
  });
  function post() {
    // The root element's own height is its content's, whatever the frame's size is
    // now (scrollHeight would never report less than the frame), so it can shrink too.
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "coopclub:height", height: height }, "*");
  }
  window.addEventListener("load", post);
  if ("ResizeObserver" in window) new ResizeObserver(post).observe(document.body);
  else window.addEventListener("resize", post);
})();
