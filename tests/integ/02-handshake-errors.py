#!/usr/bin/python3
"""HTTP/1.1 upgrade handshake: every error status with its required headers,
the daemon keeps serving after each bad request, unique connection IDs."""

import re
import socket

import wshtest
from wshtest import upgrade_request, http_request, RawWS, OP_TEXT

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()
ID_RE = re.compile(r"^[0-9a-f]{16}$")


def good_client_works(port):
    with RawWS(port, "/echo", timeout=5) as ws:
        ws.send_text("still alive")
        m = ws.recv_message(5)
        if m != (OP_TEXT, b"still alive"):
            return "echo after the bad request: got %r" % (m,)
    return None


def expect_status(d, name, data, status, headers=(), header_checks=()):
    """Send |data|; check status, Connection: close, a body, the connection
    being closed, the headers given as (name, value-regex), then that a good
    client still works."""
    def fn():
        resp = http_request(d.port, data, timeout=5)
        if resp is None:
            return "connection closed without a response"
        problems = []
        if resp.status != status:
            problems.append("status %d, expected %d" % (resp.status, status))
        conn = (resp.header("connection") or "").lower()
        if "close" not in conn:
            problems.append("no 'Connection: close' (got %r)" % conn)
        if not resp.body.strip():
            problems.append("empty body (a short text body is expected)")
        if not resp.closed:
            problems.append("server did not close the connection after the error")
        for hname, rx in headers:
            v = resp.header(hname)
            if v is None or not re.search(rx, v, re.I):
                problems.append("header %s: %r does not match %r" % (hname, v, rx))
        if resp.header("sec-websocket-accept") is not None:
            problems.append("error response carries Sec-WebSocket-Accept")
        if problems:
            return "; ".join(problems) + "\nresponse: %r" % resp
        return good_client_works(d.port)
    rep.run(name, fn)


with wshtest.Daemon(max_header_size=8192, max_headers=64) as d:
    P = d.port

    # ---- the good handshake
    def good():
        resp = http_request(P, upgrade_request("/echo", key="dGhlIHNhbXBsZSBub25jZQ=="),
                            read_body=False)
        problems = []
        if resp is None or resp.status != 101:
            return "expected 101, got %r" % (resp,)
        resp.sock.close()
        if resp.header("sec-websocket-accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=":
            problems.append("Sec-WebSocket-Accept %r" % resp.header("sec-websocket-accept"))
        if (resp.header("upgrade") or "").lower() != "websocket":
            problems.append("Upgrade header %r" % resp.header("upgrade"))
        if "upgrade" not in (resp.header("connection") or "").lower():
            problems.append("Connection header %r" % resp.header("connection"))
        cid = resp.header("wshub-connection-id")
        if cid is None or not ID_RE.match(cid):
            problems.append("Wshub-Connection-Id %r is not 16 lowercase hex chars" % cid)
        if resp.header("sec-websocket-protocol") is not None:
            problems.append("unexpected Sec-WebSocket-Protocol on a route without protocols")
        return "; ".join(problems) or None
    rep.run("valid upgrade -> 101 with RFC sample accept key and connection id", good)

    rep.run("Connection: keep-alive, Upgrade and Upgrade: WebSocket (case) accepted",
            lambda: None if http_request(P, upgrade_request(
                "/echo", connection="keep-alive, Upgrade", upgrade="WebSocket"),
                read_body=False).status == 101 else "not 101")

    rep.run("query string on a route is accepted",
            lambda: None if http_request(P, upgrade_request("/echo?x=1"),
                                         read_body=False).status == 101 else "not 101")

    # ---- errors
    expect_status(d, "unknown path -> 404", upgrade_request("/nope"), 404)
    expect_status(d, "POST on a WebSocket route -> 405 with Allow: GET",
                  upgrade_request("/echo", method="POST", extra=["Content-Length: 0"]), 405,
                  [("allow", r"^GET$")])
    expect_status(d, "PUT on a WebSocket route -> 405 with Allow: GET",
                  upgrade_request("/echo", method="PUT", extra=["Content-Length: 0"]), 405,
                  [("allow", r"^GET$")])
    expect_status(d, "missing Sec-WebSocket-Version -> 426 with Sec-WebSocket-Version: 13",
                  upgrade_request("/echo", version=None), 426,
                  [("sec-websocket-version", r"^13$")])
    expect_status(d, "Sec-WebSocket-Version: 8 -> 426 with Sec-WebSocket-Version: 13",
                  upgrade_request("/echo", version="8"), 426,
                  [("sec-websocket-version", r"^13$")])
    expect_status(d, "Sec-WebSocket-Version: 14 -> 426",
                  upgrade_request("/echo", version="14"), 426,
                  [("sec-websocket-version", r"^13$")])
    expect_status(d, "request head larger than max_header_size -> 431",
                  upgrade_request("/echo", extra=["X-Big: " + "a" * 9000]), 431)
    expect_status(d, "more than max_headers header fields -> 431",
                  upgrade_request("/echo", extra=["X-H%d: v" % i for i in range(70)]), 431)
    expect_status(d, "missing Host -> 400", upgrade_request("/echo", host=None), 400)
    expect_status(d, "duplicate Host -> 400",
                  upgrade_request("/echo", extra=["Host: other.example"]), 400)
    expect_status(d, "missing Sec-WebSocket-Key -> 400",
                  upgrade_request("/echo", key=False), 400)
    expect_status(d, "Sec-WebSocket-Key not base64 -> 400",
                  upgrade_request("/echo", key="not base64 at all!!"), 400)
    expect_status(d, "Sec-WebSocket-Key decodes to 15 bytes -> 400",
                  upgrade_request("/echo", key="AAAAAAAAAAAAAAAAAAAA"), 400)
    expect_status(d, "Sec-WebSocket-Key decodes to 17 bytes -> 400",
                  upgrade_request("/echo", key="AAAAAAAAAAAAAAAAAAAAAAA="), 400)
    expect_status(d, "Connection without 'upgrade' -> 400",
                  upgrade_request("/echo", connection="keep-alive"), 400)
    expect_status(d, "HTTP/1.0 upgrade -> 400",
                  upgrade_request("/echo", http="HTTP/1.0"), 400)
    expect_status(d, "malformed request line (no version) -> 400",
                  b"GET /echo\r\nHost: x\r\n\r\n", 400)
    expect_status(d, "malformed request line (garbage) -> 400",
                  b"\x01\x02 garbage\r\n\r\n", 400)
    expect_status(d, "malformed header line (no colon) -> 400",
                  upgrade_request("/echo", extra=["NoColonHere"]), 400)
    expect_status(d, "header name with a space -> 400",
                  upgrade_request("/echo", extra=["Bad Name: v"]), 400)
    expect_status(d, "plain GET on a WebSocket route -> 426 with Upgrade: websocket",
                  b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 426,
                  [("upgrade", r"^websocket$")])

    def healthz():
        resp = http_request(P, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               b"Connection: close\r\n\r\n")
        if resp is None or resp.status != 200:
            return "expected 200, got %r" % (resp,)
    rep.run("GET /healthz -> 200", healthz)

    # ---- a half-sent request that gets dropped does not disturb others
    def dropped():
        s = socket.create_connection(("127.0.0.1", P), timeout=5)
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr")
        s.close()
        return good_client_works(P)
    rep.run("client dropping mid-request does not disturb others", dropped)

    # ---- connection ids unique
    def unique_ids():
        ids, socks = [], []
        try:
            for _ in range(50):
                ws = RawWS(P, "/echo", timeout=5)
                socks.append(ws)
                ids.append(ws.response.header("wshub-connection-id"))
        finally:
            for ws in socks:
                ws.close()
        bad = [i for i in ids if i is None or not ID_RE.match(i)]
        if bad:
            return "malformed ids: %r" % bad[:5]
        if len(set(ids)) != 50:
            return "only %d distinct ids among 50: %r" % (len(set(ids)), ids)
    rep.run("connection ids unique across 50 connections", unique_ids)
    rep.run("daemon still serves after all of the above", lambda: good_client_works(P))
rep.done()
