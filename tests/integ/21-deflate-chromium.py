#!/usr/bin/python3
"""permessage-deflate with a real browser: headless Chromium loads a page
from a small HTTP server on loopback; its script opens a WebSocket to
wshubd's /echo, checks the negotiated extension (ws.extensions) and the echo
of messages of several sizes, and reports back by fetching a URL of the
test's HTTP server. Skipped (77) when Chromium is not installed."""

import http.server
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

import wshtest

wshtest.require_daemon()
wshtest.overall_alarm(120)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    print("# SKIP: chromium is not installed")
    sys.exit(77)

PAGE = """<!doctype html><meta charset="utf-8"><title>wshub deflate</title>
<script>
const WSURL = %(ws)s;
function report(obj) {
  fetch("/report?" + encodeURIComponent(JSON.stringify(obj)));
}
function payload(n, seed) {
  let s = "";
  for (let i = seed; s.length < n; i++) s += '{"seq":' + i + ',"text":"h\\u00e9llo w\\u00f6rld"},';
  return s.slice(0, n);
}
const ws = new WebSocket(WSURL);
ws.binaryType = "arraybuffer";
const sizes = [5, 200, 5000, 100000, 1000000];
const sent = [];
let got = 0;
ws.onopen = () => {
  for (const n of sizes) { const p = payload(n, n); sent.push(p); ws.send(p); }
  const bin = new Uint8Array(70000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7) & 0x3f;
  sent.push(bin);
  ws.send(bin);
};
ws.onmessage = (ev) => {
  const want = sent[got++];
  let same;
  if (typeof want === "string") same = ev.data === want;
  else {
    const a = new Uint8Array(ev.data);
    same = a.length === want.length && a.every((v, i) => v === want[i]);
  }
  if (!same) { report({ok: false, why: "echo " + got + " differs", ext: ws.extensions}); ws.close(); return; }
  if (got === sent.length) { report({ok: true, ext: ws.extensions, n: got}); ws.close(1000); }
};
ws.onerror = () => report({ok: false, why: "websocket error", ext: ws.extensions});
ws.onclose = (ev) => { if (got < sent.length) report({ok: false, why: "closed " + ev.code, ext: ws.extensions}); };
</script>
"""

rep = wshtest.Report()
reports = queue.Queue()


def serve(page):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/report?"):
                reports.put(json.loads(urllib.parse.unquote(self.path[len("/report?"):])))
                body = b"ok"
            else:
                body = page.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def browse(url, timeout=40):
    profile = tempfile.mkdtemp(prefix="wshtest-chromium-")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
           "--user-data-dir=" + profile, url]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return reports.get(timeout=timeout)
    except queue.Empty:
        return None
    finally:
        p.kill()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(profile, ignore_errors=True)


for label, opts in (("default (server_no_context_takeover)", {}),
                    ("server context takeover", {"deflate_no_context_takeover": False})):
    with wshtest.Daemon(log_level="info", max_message_size="4M", max_frame_size="4M",
                        **opts) as d:
        httpd = serve(PAGE % {"ws": json.dumps(d.url("/echo"))})
        try:
            r = browse("http://127.0.0.1:%d/" % httpd.server_address[1])
        finally:
            httpd.shutdown()
        if r is None:
            rep.check("chromium, %s: page reported" % label, False, "no report within 40 s")
            continue
        rep.check("chromium, %s: permessage-deflate negotiated (%s)" % (label, r.get("ext")),
                  "permessage-deflate" in (r.get("ext") or ""), json.dumps(r))
        rep.check("chromium, %s: every echo intact" % label, r.get("ok"), json.dumps(r))
rep.done()
