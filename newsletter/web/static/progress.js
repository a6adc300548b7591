// The progress page's live figures: fetch progress.json every few seconds and update the page
// in place. Without this script the page still works: it has a Refresh link.
(function () {
  "use strict";
  var root = document.getElementById("send-progress");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-progress-url");
  var every = 1000 * (parseInt(root.getAttribute("data-poll-seconds"), 10) || 2);
  var wasFinished = root.getAttribute("data-finished") === "true";
  var number = new Intl.NumberFormat("en-GB");

  function put(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) { el.textContent = text; }
  }

  function show(data) {
    var t = data.totals;
    put("progress-status", data.status);
    put("where", data.where);
    put("rate", number.format(data.per_minute));
    put("time-left", data.time_left);
    put("progress-percent", String(data.percent));
    put("total-sent-words", number.format(t.sent));
    put("total-to-send-words", number.format(t.to_send));
    put("total-sent", number.format(t.sent));
    put("total-failed", number.format(t.failed));
    put("total-unknown", number.format(t.unknown));
    put("total-skipped", number.format(t.skipped));
    put("total-to-send", number.format(t.to_send));
    put("updated", "Figures as at " + data.at + ".");
    var asked = document.getElementById("send-request");  // a person's request, while open
    if (asked && !data.request) { asked.hidden = true; }
    if (data.request && data.request.state === "started") {
      put("request-state", "The scheduler started it (" + data.request.carried_by + ").");
      var withdraw = document.getElementById("withdraw-form");
      if (withdraw) { withdraw.hidden = true; }
    }
    var stop = document.getElementById("stop-form");  // offered while the send runs
    if (stop) { stop.hidden = data.status !== "sending"; }
    var bar = document.getElementById("progress-bar");
    if (bar) { bar.value = data.percent; }
    var body = document.querySelector("#progress-table tbody");
    var LABELS = { sent: "Sent", failed: "Failed", unknown: "Unknown", skipped: "Left the list", to_send: "Still to send" };
    data.agencies.forEach(function (a) {
      var row = body && body.querySelector('tr[data-agency="' + a.agency + '"]');
      if (!row) {  // the list was taken after the page was drawn: draw the rows once
        if (!body) { return; }
        if (!body.querySelector("tr[data-agency]")) { body.textContent = ""; }
        row = document.createElement("tr");
        row.setAttribute("data-agency", a.agency);
        var head = document.createElement("th");
        head.setAttribute("scope", "row");
        head.textContent = a.name;
        row.appendChild(head);
        ["sent", "failed", "unknown", "skipped", "to_send"].forEach(function (field) {
          var cell = document.createElement("td");
          cell.className = "numeric";
          cell.setAttribute("data-field", field);
          cell.setAttribute("data-label", LABELS[field]);  // a phone shows one card per row
          row.appendChild(cell);
        });
        body.appendChild(row);
      }
      ["sent", "failed", "unknown", "skipped", "to_send"].forEach(function (field) {
        var cell = row.querySelector('[data-field="' + field + '"]');
        var text = number.format(a[field]);
        if (cell && cell.textContent !== text) { cell.textContent = text; }
      });
    });
    if (data.finished && !wasFinished) {
      var ended = document.getElementById("ended");
      if (ended) { ended.hidden = false; }
    }
    return !data.finished;  // keep asking until the send (and any request) has ended
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || show(data)) { window.setTimeout(poll, every); }
      })
      .catch(function () { window.setTimeout(poll, every * 2); });
  }

  window.setTimeout(poll, every);
}());
