#!/usr/bin/python3
"""A browser over HTTP/2: headless Chromium loads a page that first fetches
wshubd's TLS origin (so Chromium opens an HTTP/2 connection, sees
SETTINGS_ENABLE_CONNECT_PROTOCOL and pools it, as FIELD-NOTES describes),
then opens wss:// WebSockets to /echo. The net log records which protocol
each WebSocket used; the test requires RFC 8441 (extended CONNECT on the h2
session) and checks the echoes, permessage-deflate and the daemon's side.
Skipped (77) when Chromium is not installed."""

import http.server
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import tlstest
import wshtest

wshtest.require_daemon()
wshtest.overall_alarm(150)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    print("# SKIP: chromium is not installed")
    sys.exit(77)

PAGE = """<!doctype html><meta charset="utf-8"><title>wshub h2</title>
<script>
const ORIGIN = %(origin)s;
function report(obj) {
  fetch("/report?" + encodeURIComponent(JSON.stringify(obj)));
}
function openEcho(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(ORIGIN.replace("https:", "wss:") + "/echo");
    const msg = "hello " + i + " " + "x".repeat(i * 1000);
    ws.onopen = () => ws.send(msg);
    ws.onmessage = (ev) => { resolve({ok: ev.data === msg, ext: ws.extensions}); ws.close(1000); };
    ws.onerror = () => resolve({ok: false, why: "error"});
  });
}
(async () => {
  // Open the HTTP/2 connection first: Chromium only sends WebSockets over
  // an h2 session it already has (the answer's status does not matter).
  try { await fetch(ORIGIN + "/", {credentials: "include", mode: "no-cors"}); } catch (e) {}
  const results = await Promise.all([0, 1, 2].map(openEcho));
  report({results});
})();
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


def browse(url, netlog, timeout=40):
    profile = tempfile.mkdtemp(prefix="wshtest-chromium-")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
           "--ignore-certificate-errors", "--log-net-log=" + netlog,
           "--net-log-capture-mode=Everything",
           "--user-data-dir=" + profile, url]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return reports.get(timeout=timeout)
    except queue.Empty:
        return None
    finally:
        # SIGTERM lets Chromium finish the net log file
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=10)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            p.kill()
        shutil.rmtree(profile, ignore_errors=True)


def netlog_protocols(path):
    """What the net log says about the WebSockets: (h2 websocket streams,
    HTTP/1.1 websocket upgrades)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None, None
    h2ws = text.count(":protocol: websocket")
    h1ws = text.count("Upgrade: websocket")
    return h2ws, h1ws


certs = tlstest.Certs()
d = tlstest.tls_daemon(certs, log_level="debug")
with d:
    origin = "https://localhost:%d" % d.tls_port
    httpd = serve(PAGE % {"origin": json.dumps(origin)})
    netlog = os.path.join(certs.dir, "netlog.json")
    try:
        r = browse("http://127.0.0.1:%d/" % httpd.server_address[1], netlog)
    finally:
        httpd.shutdown()
    if r is None:
        rep.check("chromium reported", False, "no report within 40 s")
    else:
        res = r.get("results") or []
        rep.check("three WebSockets echoed over wss", len(res) == 3 and
                  all(x.get("ok") for x in res), json.dumps(r))
        rep.check("permessage-deflate negotiated over h2 (%s)" % (
            res[0].get("ext") if res else None),
            bool(res) and "permessage-deflate" in (res[0].get("ext") or ""),
            json.dumps(r))
    h2n, h1n = netlog_protocols(netlog)
    rep.note("net log: %r extended CONNECT header blocks, %r HTTP/1.1 upgrades"
             % (h2n, h1n))
    rep.check("Chromium's net log shows the WebSockets on HTTP/2 "
              "(:protocol websocket), not HTTP/1.1 Upgrade",
              h2n is not None and h2n >= 3 and h1n == 0,
              "h2 %r, h1 %r" % (h2n, h1n))
    log = d.stderr_text()
    n = log.count("(RFC 8441)")
    rep.check("the daemon served %d WebSocket(s) on HTTP/2 streams over TLS" % n,
              n >= 3 and "HTTP/2 over TLS" in log)
rep.done()
