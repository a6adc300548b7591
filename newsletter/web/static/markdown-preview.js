// The month editor's live preview: while the editor types in a Markdown field (a textarea with
// data-live-preview="REGION-ID"), post its text to the form's data-markdown-preview-url a moment
// after the typing stops, and show the answer (the text as the bulletin renders it, sanitised by
// the server, with what plan check would say) in that region under the field.
// Without this script the page still works: "Update the previews" sends the form back.
(function () {
  "use strict";
  var form = document.querySelector("form[data-markdown-preview-url]");
  if (!form || !window.fetch || !window.URLSearchParams) { return; }
  var url = form.getAttribute("data-markdown-preview-url");
  var token = form.querySelector('input[name="csrf"]');
  var WAIT = 400;  // ms after the last key press

  function watch(area) {
    var region = document.getElementById(area.getAttribute("data-live-preview"));
    var body = region && region.querySelector(".prose-preview__body");
    var status = region && document.getElementById(region.id + "-status");
    if (!body || !status || !token) { return; }
    var timer = null;
    var asked = 0;  // only the answer to the latest request is shown

    function show(html) {
      body.innerHTML = html;  // the server's sanitised fragment
      region.hidden = html.trim() === "";
      // Said by a screen reader (a polite live region that is never hidden).
      status.textContent = region.hidden ? "" : body.querySelector(".error-message")
        ? "Preview updated. Plan check will refuse this text."
        : "Preview updated.";
      // The round-trip preview drawn with the page is out of date once the text changes.
      var old = document.querySelector('[data-replaced-by="' + region.id + '"]');
      if (old) { old.hidden = true; }
    }

    function update() {
      var mine = ++asked;
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": token.value, "Accept": "text/html" },
        body: new URLSearchParams({ text: area.value })
      })
        .then(function (response) {
          // 422: the text is too long; the fragment says so in plan check's words.
          return response.ok || response.status === 422 ? response.text() : null;
        })
        .then(function (html) {
          if (html !== null && mine === asked) { show(html); }
        })
        .catch(function () { /* offline: "Update the previews" still works */ });
    }

    area.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, WAIT);
    });
  }

  Array.prototype.forEach.call(form.querySelectorAll("textarea[data-live-preview]"), watch);
}());
