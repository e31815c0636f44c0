// Progressive enhancement: without JavaScript the addresses are there to select.
document.querySelectorAll("button.copy").forEach(function (button) {
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = button.closest(".subscribe").querySelector(".status");
  button.hidden = false;
  button.addEventListener("click", function () {
    function fallback() {
      field.focus();
      field.select();
      try { return document.execCommand("copy"); } catch (e) { return false; }
    }
    function say(copied) {
      status.textContent = copied ? "Copied: " + field.value : "Press Ctrl+C (or ⌘C) to copy the selected address.";
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { say(true); }, function () { say(fallback()); });
    } else {
      say(fallback());
    }
  });
});
