// Admin jobs (imports, exports): follow a running job live. An element with
// data-progress-url is refreshed from that JSON every second, field by field (elements
// with data-field="counts.accepted" and the like); once the job has finished the page
// reloads to show its full report. data-reload-while-running reloads the page itself.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  var lang = document.documentElement.lang || "en";
  try { (0).toLocaleString(lang); } catch (e) { lang = "en"; }
  function pick(data, path) {
    return path.split(".").reduce(function (value, key) { return value == null ? value : value[key]; }, data);
  }
  function poll() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        box.querySelectorAll("[data-field]").forEach(function (el) {
          var value = pick(p, el.dataset.field);
          // A state is shown by its name in the page's language (data-names), a number
          // the page language's way.
          var names = el.dataset.names ? JSON.parse(el.dataset.names) : null;
          el.textContent = typeof value === "number" ? value.toLocaleString(lang) :
            (names && names[value]) || value || "";
        });
        var bar = box.querySelector("progress");
        if (bar) { bar.value = p.percent; bar.textContent = p.percent + "%"; }
        if (p.status === "queued" || p.status === "running") setTimeout(poll, 1000);
        else window.location.reload();
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (box) setTimeout(poll, 1000);
  if (document.querySelector("[data-reload-while-running]")) {
    setTimeout(function () { window.location.reload(); }, 2000);
  }
})();
