// Asks before an irreversible action (see app/confirmation.py). A button or form with
// data-confirm opens a <dialog> with the question; confirming submits the same form,
// with the same button, plus confirmed=yes. Without this script the server asks on a
// page of its own instead, so nothing irreversible happens on one click either way.
(function () {
  "use strict";
  if (typeof HTMLDialogElement !== "function") return; // the server's page asks instead
  var dialog = null;
  var pending = null; // { form, submitter }

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
    dialog.setAttribute("aria-describedby", "confirm-dialog-message");
    dialog.innerHTML =
      '<form method="dialog">' +
      '<h2 id="confirm-dialog-title"></h2>' +
      '<p id="confirm-dialog-message"></p>' +
      '<p class="actions">' +
      '<button type="submit" value="yes" class="confirm-yes"></button>' +
      '<button type="submit" value="no" class="secondary" autofocus>Go back</button>' +
      "</p></form>";
    document.body.appendChild(dialog);
    dialog.addEventListener("close", function () {
      var chosen = pending;
      pending = null;
      if (!chosen || dialog.returnValue !== "yes") return;
      var mark = chosen.form.querySelector("input[name=confirmed]");
      if (!mark) {
        mark = document.createElement("input");
        mark.type = "hidden";
        mark.name = "confirmed";
        chosen.form.appendChild(mark);
      }
      mark.value = "yes";
      chosen.form.dataset.confirming = "yes";
      if (chosen.submitter && chosen.form.requestSubmit) {
        chosen.form.requestSubmit(chosen.submitter);
      } else if (chosen.form.requestSubmit) {
        chosen.form.requestSubmit();
      } else {
        chosen.form.submit();
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter || null;
    var source = submitter && submitter.hasAttribute("data-confirm") ? submitter
      : form.hasAttribute("data-confirm") ? form : null;
    if (!source) {
      // A confirmation given earlier (then back to this page) must not ride along.
      var stale = form.querySelector("input[name=confirmed]");
      if (stale) stale.remove();
      return;
    }
    if (form.dataset.confirming === "yes") {
      delete form.dataset.confirming; // this is the confirmed submission
      return;
    }
    event.preventDefault();
    if (!dialog) build();
    pending = { form: form, submitter: submitter };
    dialog.querySelector("#confirm-dialog-title").textContent = source.dataset.confirm;
    dialog.querySelector("#confirm-dialog-message").textContent = source.dataset.confirmMessage || "";
    var yes = dialog.querySelector(".confirm-yes");
    yes.textContent = source.dataset.confirmButton || "Yes, do it";
    yes.className = "confirm-yes" + (source.hasAttribute("data-confirm-danger") ? " danger" : "");
    dialog.returnValue = "";
    dialog.showModal();
  }, true);
})();
