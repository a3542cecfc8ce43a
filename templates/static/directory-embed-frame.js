// Inside the embedded directory: report this page's height to the embedding page (which
// sizes the iframe with directory-embed.js), ask it for its light/dark look, and take
// that look from it. Only the page that frames us is listened to.
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  function post() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "coopclub:height", height: height }, "*");
  }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== window.parent || !data) return;
    if (data.type === "coopclub:theme" && (data.theme === "dark" || data.theme === "light")) {
      document.documentElement.setAttribute("data-theme", data.theme);
    } else if (data.type === "coopclub:measure") {
      // The embedding page's script ran after our load message: tell it again.
      last = 0;
      post();
    }
  });
  window.addEventListener("load", function () {
    post();
    window.parent.postMessage({ type: "coopclub:ready" }, "*");
  });
  if ("ResizeObserver" in window) new ResizeObserver(post).observe(document.body);
  else window.addEventListener("resize", post);
})();
