// Live send progress: polls the progress every two seconds while it sends.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) return;
  function set(id, value) { var el = document.getElementById(id); if (el) el.textContent = value; }
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        var c = p.counts;
        set("p-status", p.status);
        set("p-reason", p.pause_reason || "");
        set("p-percent", p.percent);
        set("p-queued", c.queued + c.sending);
        set("p-sent", c.sent);
        set("p-failed", c.failed);
        set("p-bounced", c.bounced + c.complained);
        set("p-skipped", c.skipped);
        set("p-eta", p.eta_seconds === null ? "" : "· about " + p.eta_seconds + " s left");
        var bar = document.getElementById("p-bar");
        bar.setAttribute("aria-valuenow", p.percent);
        bar.querySelector("rect").setAttribute("width", p.percent);
        if (p.status === "sending" || p.status === "scheduled" || p.status === "paused") {
          setTimeout(poll, 2000);
        }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
