import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /`: a small chat page on the jobs API, which resumes its answer after a refresh; and
/// `GET /openapi.json`: the document of every public route (`docs/openapi.json`).
struct WebRoutes {
    func register(on router: Router<SluiceRequestContext>) {
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: Self.page)))
        }
    }

    static let page = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>Sluice</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
    body{font-family:system-ui,sans-serif;max-width:720px;margin:2rem auto;padding:0 1rem;color:#222}
    #log{border:1px solid #ccc;border-radius:6px;padding:1rem;min-height:12rem;white-space:pre-wrap}
    .q{color:#555;margin-top:.8rem}.a{margin-top:.3rem}.status{color:#888;font-size:.9rem}
    form{display:flex;gap:.5rem;margin-top:1rem}input{flex:1;padding:.5rem}button{padding:.5rem 1rem}
    </style></head><body>
    <h1>Sluice</h1>
    <p class="status">Chat through the gateway's queue (model <code>default</code>). Refresh mid-answer: it resumes.</p>
    <div id="log"></div>
    <form id="f"><input id="q" placeholder="Ask a question…" autocomplete="off"><button>Send</button>
    <button type="button" id="cancel">Cancel</button></form>
    <p class="status" id="status"></p>
    <script>
    const user = localStorage.sluiceUser || (localStorage.sluiceUser = "web-" + Math.random().toString(36).slice(2));
    const headers = {"Content-Type": "application/json", "X-Sluice-User": user};
    const log = document.getElementById("log"), status = document.getElementById("status");
    let current = null;
    function bubble(cls, text) { const d = document.createElement("div"); d.className = cls; d.textContent = text; log.appendChild(d); return d; }
    async function follow(id, after, el) {
      current = id; localStorage.sluiceJob = JSON.stringify({id, after, q: el.dataset.q});
      let text = after > 0 ? (localStorage.sluiceText || "") : "";
      el.textContent = text; status.textContent = "Processing…";
      for (let tries = 0; tries < 8; tries++) {
        try {
          const r = await fetch(`/v1/jobs/${id}/stream?after=${after}`, {headers});
          if (!r.ok) { status.textContent = (await r.json()).error.message; break; }
          const reader = r.body.getReader(), dec = new TextDecoder(); let buf = "";
          for (;;) {
            const {value, done} = await reader.read(); if (done) break;
            buf += dec.decode(value, {stream: true}); let i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, i); buf = buf.slice(i + 2);
              let ev = "message", data = "", seq = null;
              for (const line of block.split("\n")) {
                if (line.startsWith("event: ")) ev = line.slice(7);
                else if (line.startsWith("data: ")) data += line.slice(6);
                else if (line.startsWith("id: ")) seq = +line.slice(4);
              }
              if (seq !== null) after = seq;
              const d = data ? JSON.parse(data) : {};
              if (ev === "delta") text += d.text; else if (ev === "reset") text = "";
              el.textContent = text; localStorage.sluiceText = text;
              localStorage.sluiceJob = JSON.stringify({id, after, q: el.dataset.q});
              if (ev === "done") { status.textContent = ""; localStorage.removeItem("sluiceJob"); return; }
              if (ev === "error") { status.textContent = d.message; localStorage.removeItem("sluiceJob"); return; }
            }
          }
        } catch (e) { }
        await new Promise(r => setTimeout(r, Math.random() * 1000 * 2 ** tries));
      }
    }
    document.getElementById("f").onsubmit = async (e) => {
      e.preventDefault(); const q = document.getElementById("q").value.trim(); if (!q) return;
      document.getElementById("q").value = ""; bubble("q", "You: " + q); const el = bubble("a", ""); el.dataset.q = q;
      const r = await fetch("/v1/jobs", {method: "POST", headers, body: JSON.stringify({model: "default", messages: [{role: "user", content: q}]})});
      const j = await r.json(); if (!r.ok) { status.textContent = j.error.message; return; }
      follow(j.id, 0, el);
    };
    document.getElementById("cancel").onclick = () => { if (current) fetch(`/v1/jobs/${current}`, {method: "DELETE", headers}); };
    const saved = localStorage.sluiceJob && JSON.parse(localStorage.sluiceJob);
    if (saved) { bubble("q", "You: " + saved.q); const el = bubble("a", ""); el.dataset.q = saved.q; follow(saved.id, saved.after, el); }
    </script></body></html>
    """#
}
