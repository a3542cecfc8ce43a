// Live send progress: polls the progress while it can still change, and keeps the
// counts, the summary and the controls in step with it (elements marked data-show-when
// show only in the listed statuses). Without JavaScript, reloading shows the same.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) return;
  // The badge holds the status code (data-status) and the word for each in the page's
  // language (data-names); p-eta the page's words for the time left, around "{s}".
  var badge = document.getElementById("p-status");
  var loaded = badge.dataset.status;
  var names = JSON.parse(badge.dataset.names || "{}");
  var about = document.getElementById("p-eta").dataset.about || "about {s} s left";
  var loadedDone = Number(box.dataset.done);
  function set(id, value) { var el = document.getElementById(id); if (el) el.textContent = value; }
  function follow(status) {
    document.querySelectorAll("[data-show-when]").forEach(function (el) {
      el.hidden = el.dataset.showWhen.split(" ").indexOf(status) < 0;
    });
  }
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        var c = p.counts;
        set("p-status", names[p.status] || p.status);
        set("p-reason", p.pause_reason || "");
        set("p-percent", p.percent);
        set("p-queued", c.queued + c.sending);
        set("p-sent", c.sent);
        set("p-failed", c.failed);
        set("p-bounced", c.bounced + c.complained);
        set("p-skipped", c.skipped);
        set("p-eta", p.eta_seconds === null ? "" : "· " + about.replace("{s}", p.eta_seconds));
        var bar = document.getElementById("p-bar");
        bar.value = p.percent;
        bar.textContent = p.percent + "%";
        follow(p.status);
        var stale = document.getElementById("log-stale");
        if (stale) stale.hidden = p.status === loaded && p.done === loadedDone;
        if (p.status === "sending" || p.status === "scheduled" || p.status === "paused") {
          setTimeout(poll, 2000);
        }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
})();
