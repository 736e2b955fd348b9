/* Hermod console and enrollment portal: the little JavaScript the pages need.
 * Loaded from 'self' only (the Content-Security-Policy forbids inline script); every behaviour
 * is attached by delegation or by a timer, so it also works on fragments htmx swaps in. */
(function () {
  "use strict";

  /* Countdowns: <span data-countdown="2026-01-01T12:00:00Z" data-countdown-format="expires in {}">
   * reads "expires in 4:58" (the format's {} is the time left; default "{} left"). */
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.getAttribute("data-countdown")) - now) / 1000);
      if (isNaN(left)) { return; }
      if (left <= 0) {
        el.textContent = el.getAttribute("data-expired-text") || "expired";
        el.classList.add("expired");
        return;
      }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      var left_text = (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s);
      el.textContent = (el.getAttribute("data-countdown-format") || "{} left").replace("{}", left_text);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);

  /* Copy buttons: <button data-copy="element-id">Copy</button> */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.trim()).then(done);
    } else {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
      done();
    }
  });

  /* Confirmation before a destructive plain form: <form data-confirm="Really?"> */
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
})();
