// Berth dashboard: confirmations, the live log tail and the deploy log.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  });
  function append(pre, ev) {
    var text;
    try { text = JSON.parse(ev.data); } catch (_) { return; }
    if (typeof text !== "string") text = ev.type === "error" ? "! " + text.error + "\n" : "";
    var end = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode(text));
    if (end) pre.scrollTop = pre.scrollHeight;
  }
  var log = document.getElementById("log");
  if (log && window.EventSource) {
    var es = new EventSource(log.dataset.src);
    ["stdout", "stderr"].forEach(function (t) { es.addEventListener(t, function (e) { append(log, e); }); });
    es.addEventListener("error", function (e) { if (e.data) { append(log, e); es.close(); } });
    es.addEventListener("result", function () { es.close(); });
  }
  var rb = document.getElementById("rebuild");
  if (rb) rb.addEventListener("click", function () {
    var out = document.getElementById("deploy-log");
    out.hidden = false; out.textContent = ""; rb.disabled = true;
    var body = new FormData(); body.append("csrf", rb.dataset.csrf);
    fetch(rb.dataset.url, { method: "POST", body: body, headers: { Accept: "text/event-stream" } }).then(function (resp) {
      var reader = resp.body.getReader(), dec = new TextDecoder(), buf = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) { rb.disabled = false; out.appendChild(document.createTextNode("\n[done]\n")); return; }
          buf += dec.decode(r.value, { stream: true });
          var i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            var block = buf.slice(0, i), type = "message", data = "";
            buf = buf.slice(i + 2);
            block.split("\n").forEach(function (l) {
              if (l.indexOf("event: ") === 0) type = l.slice(7);
              else if (l.indexOf("data: ") === 0) data += l.slice(6);
            });
            if (data) append(out, { type: type, data: data });
          }
          return pump();
        });
      }
      return pump();
    });
  });
});
