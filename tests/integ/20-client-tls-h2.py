#!/usr/bin/python3
"""The wshub client over TLS (a self-signed test CA made here with the
openssl CLI, a python3-websockets TLS server) and over HTTP/2 (RFC 8441:
nghttpx as an h2c and h2-over-TLS front end of an HTTP/1.1 backend)."""

import os
import shutil
import ssl
import subprocess
import tempfile

import wshtest
from wshclient import PyServer, run_cli

wshtest.overall_alarm(200)
rep = wshtest.Report()
tmp = tempfile.mkdtemp(prefix="wshclient-tls-")


def sh(*args):
    subprocess.run(args, cwd=tmp, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def make_cert(name, cn, san, ca=True):
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
       "-out", name + ".csr", "-subj", "/CN=" + cn)
    with open(os.path.join(tmp, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\n" % san if san else "")
    sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey",
       "ca.key", "-CAcreateserial", "-days", "2", "-out", name + ".pem",
       "-extfile", name + ".ext")


sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
   "-out", "ca.pem", "-days", "2", "-subj", "/CN=wshub test CA")
make_cert("server", "localhost", "DNS:localhost")
make_cert("client", "wshub client", None)
P = lambda n: os.path.join(tmp, n)
ca_text = open(P("ca.pem")).read()


async def echo(ws, path):
    async for m in ws:
        await ws.send(m)


def msgs(out):
    return [l.split("< ", 1)[1] for l in out.splitlines() if "] < " in l]


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(P("server.pem"), P("server.key"))
with PyServer(echo, ssl=ctx) as s:
    url = s.url("/echo", "wss", "localhost")
    rc, out, err = run_cli(["connect", "-n", "1", "--ca", P("ca.pem"), url], b"tls\n")
    rep.check("wss with the test CA file", msgs(out) == ["tls"], out + err)
    rc, out, err = run_cli(["connect", "-n", "1", "--ca", ca_text, url], b"pem\n")
    rep.check("wss with the CA as in-memory PEM", msgs(out) == ["pem"], out + err)
    rc, out, err = run_cli(["connect", "--no-reconnect", url], b"")
    rep.check("wss with the SYSTEM store refuses the test CA",
              rc != 0 and "certificate verification failed" in err, out + err)
    rc, out, err = run_cli(["connect", "-n", "1", "--ca", "NONE", url], b"none\n")
    rep.check("wss with NONE skips verification", msgs(out) == ["none"], out + err)
    ipurl = s.url("/echo", "wss", "127.0.0.1")
    rc, out, err = run_cli(["connect", "--no-reconnect", "--ca", P("ca.pem"), ipurl], b"")
    rep.check("host name checked against the certificate",
              rc != 0 and "verification failed" in err, out + err)
    rc, out, err = run_cli(["connect", "-n", "1", "--no-verify-host", "--ca",
                            P("ca.pem"), ipurl], b"nv\n")
    rep.check("--no-verify-host accepts another name", msgs(out) == ["nv"], out + err)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(P("server.pem"), P("server.key"))
ctx.load_verify_locations(P("ca.pem"))
ctx.verify_mode = ssl.CERT_REQUIRED
with PyServer(echo, ssl=ctx) as s:
    url = s.url("/echo", "wss", "localhost")
    rc, out, err = run_cli(["connect", "-n", "1", "--ca", P("ca.pem"), "--cert",
                            P("client.pem"), "--key", P("client.key"), url], b"mtls\n")
    rep.check("client certificate presented", msgs(out) == ["mtls"], out + err)
    rc, out, err = run_cli(["connect", "--no-reconnect", "--ca", P("ca.pem"), url], b"")
    rep.check("no client certificate: refused", rc != 0 and "connected" not in out,
              out + err)

# HTTP/2 through nghttpx (RFC 8441 front end, HTTP/1.1 backend).
nghttpx = shutil.which("nghttpx") or "/usr/sbin/nghttpx"
if not os.access(nghttpx, os.X_OK):
    rep.note("SKIP HTTP/2 checks: nghttpx is not installed")
else:
    with PyServer(echo, compression=None) as back:
        fport, tport = wshtest.free_port(), wshtest.free_port()
        px = subprocess.Popen(
            [nghttpx, "--conf=/dev/null", "--workers=1",
             "--frontend=127.0.0.1,%d;no-tls" % fport,
             "--frontend=127.0.0.1,%d" % tport,
             "--backend=127.0.0.1,%d" % back.port,
             "--accesslog-file=/dev/null", "--errorlog-file=" + P("nghttpx.log"),
             P("server.key"), P("server.pem")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ok = wshtest.wait_port(fport, 10) and wshtest.wait_port(tport, 10)
            rep.check("nghttpx started", ok)
            h2c = "ws://127.0.0.1:%d/echo" % fport
            rc, out, err = run_cli(["connect", "-n", "2", "--http2", "prefer", h2c],
                                   b"over h2c\n" + b"y" * 60000 + b"\n")
            rep.check("h2c prior knowledge: WebSocket over HTTP/2",
                      "(h2)" in out and msgs(out) == ["over h2c", "y" * 60000],
                      out[:2000] + err)
            rc, out, err = run_cli(["connect", "-n", "1", h2c], b"h1\n")
            rep.check("ws:// defaults to HTTP/1.1", "(http/1.1)" in out and
                      msgs(out) == ["h1"], out + err)
            wss = "wss://localhost:%d/echo" % tport
            rc, out, err = run_cli(["connect", "-n", "1", "--ca", P("ca.pem"), wss],
                                   b"alpn\n")
            rep.check("wss: ALPN h2 picks HTTP/2", "(h2)" in out and
                      msgs(out) == ["alpn"], out + err)
            rc, out, err = run_cli(["connect", "-n", "1", "--http2", "never", "--ca",
                                    P("ca.pem"), wss], b"never\n")
            rep.check("--http2 never stays on HTTP/1.1", "(http/1.1)" in out and
                      msgs(out) == ["never"], out + err)
            rc, out, err = run_cli(["connect", "-n", "1", "--http2", "prefer",
                                    back.url("/echo")], b"fallback\n")
            rep.check("prior knowledge falls back to HTTP/1.1 on an h1 server",
                      "(http/1.1)" in out and msgs(out) == ["fallback"], out + err)
            rc, out, err = run_cli(["connect", "--no-reconnect", "--http2", "require",
                                    back.url("/echo")], b"")
            rep.check("--http2 require fails on an h1 server", rc != 0, out + err)
        finally:
            px.terminate()
            px.wait(10)

shutil.rmtree(tmp, ignore_errors=True)
rep.done()
