// "Copy" buttons: copy the text of the element named by data-copy, and say so.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    var status = document.getElementById(button.dataset.copy + "-status");
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(
        function () { status.textContent = "Copied to your clipboard."; },
        function () { status.textContent = "Copying failed: select the text and copy it."; }
      );
    });
  });
})();
