// Berth dashboard: confirmations, the live log tail (with a search box)
// and the streamed output of rebuilds and checks.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  });
  function textOf(ev) {
    var text;
    try { text = JSON.parse(ev.data); } catch (_) { return ""; }
    if (typeof text !== "string") text = ev.type === "error" ? "! " + text.error + "\n" : "";
    return text;
  }
  function append(pre, text) {
    if (!text) return;
    var end = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(text));
    if (end) pre.scrollTop = pre.scrollHeight;
  }
  // The log tail keeps its last 2000 lines; the search box shows those
  // that contain its text (case-insensitive).
  var log = document.getElementById("log"), search = document.getElementById("log-search");
  var lines = [], partial = "";
  function query() { return search ? search.value.trim().toLowerCase() : ""; }
  function matches(l, q) { return !q || l.toLowerCase().indexOf(q) >= 0; }
  function render() {
    var q = query();
    log.textContent = lines.filter(function (l) { return matches(l, q); }).map(function (l) { return l + "\n"; }).join("");
    log.scrollTop = log.scrollHeight;
  }
  function tail(text) {
    var parts = (partial + text).split("\n"), q = query();
    partial = parts.pop();
    parts.forEach(function (l) { lines.push(l); if (matches(l, q)) append(log, l + "\n"); });
    if (lines.length > 2000) lines.splice(0, lines.length - 2000);
  }
  if (search) search.addEventListener("input", render);
  if (log && window.EventSource) {
    var es = new EventSource(log.dataset.src);
    ["stdout", "stderr"].forEach(function (t) { es.addEventListener(t, function (e) { tail(textOf(e)); }); });
    es.addEventListener("error", function (e) { if (e.data) { tail(textOf(e)); es.close(); } });
    es.addEventListener("result", function () { es.close(); });
  }
  // The live deploy log: each deploy of the app as it runs, then how it
  // ended; the browser reconnects to wait for the next one.
  var watch = document.getElementById("deploy-watch");
  if (watch && window.EventSource) {
    var ws = new EventSource(watch.dataset.src);
    ["stdout", "stderr"].forEach(function (t) { ws.addEventListener(t, function (e) { append(watch, textOf(e)); }); });
    ws.addEventListener("result", function (e) {
      var r = {};
      try { r = JSON.parse(e.data) || {}; } catch (_) { }
      if (r.running) append(watch, r.ok ? "[deploy finished: " + r.op + "]\n" : "[deploy failed: " + r.error + "]\n");
    });
  }
  // A button.stream POSTs to its data-url and shows the server-sent
  // events of the answer in its data-out element.
  document.querySelectorAll("button.stream").forEach(function (b) {
    b.addEventListener("click", function () {
      var out = document.getElementById(b.dataset.out);
      out.hidden = false; out.textContent = ""; b.disabled = true;
      var body = new FormData(); body.append("csrf", b.dataset.csrf);
      fetch(b.dataset.url, { method: "POST", body: body, headers: { Accept: "text/event-stream" } }).then(function (resp) {
        var reader = resp.body.getReader(), dec = new TextDecoder(), buf = "";
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) { b.disabled = false; append(out, "\n[done]\n"); return; }
            buf += dec.decode(r.value, { stream: true });
            var i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              var block = buf.slice(0, i), type = "message", data = "";
              buf = buf.slice(i + 2);
              block.split("\n").forEach(function (l) {
                if (l.indexOf("event: ") === 0) type = l.slice(7);
                else if (l.indexOf("data: ") === 0) data += l.slice(6);
              });
              if (data) append(out, textOf({ type: type, data: data }));
            }
            return pump();
          });
        }
        return pump();
      });
    });
  });
});
