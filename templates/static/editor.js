// Issue editor: live preview of the unsaved form (nothing is stored), in desktop,
// phone and plain-text views. Without JavaScript the saved draft is shown instead.
(function () {
  "use strict";
  var form = document.getElementById("issue-form");
  var frame = document.getElementById("preview-html");
  var text = document.getElementById("preview-text");
  var status = document.getElementById("preview-status");
  if (!form || !frame) return;
  var timer = null;
  var latest = 0;

  function refresh() {
    var ticket = ++latest;
    status.textContent = "Updating preview…";
    fetch(form.dataset.previewUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (ticket !== latest) return;
        var problems = Object.keys(data.problems || {});
        if (problems.length) {
          status.textContent = "Preview paused: " + problems.map(function (k) {
            return "block " + k + ": " + data.problems[k];
          }).join("; ");
          return;
        }
        frame.srcdoc = data.html;
        text.textContent = data.text;
        status.textContent = "Preview is up to date.";
      })
      .catch(function () { status.textContent = "Preview could not be updated."; });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  document.querySelectorAll("input[name=preview-width]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      var plain = radio.value === "text";
      frame.hidden = plain;
      text.hidden = !plain;
      if (!plain) frame.width = radio.value;
    });
  });
})();
