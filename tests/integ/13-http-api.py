#!/usr/bin/python3
"""HTTP API on the WebSocket listeners: publish, sendOne, broadcast,
disconnect, channel info and lists with curl, http.client and raw sockets;
API key; body limits (Content-Length and chunked); 100-continue; keep-alive,
pipelining and HTTP/1.0; JSON errors with the right statuses."""

import asyncio
import http.client
import json
import os
import re
import socket
import subprocess
import tempfile
import time

import websockets

import wshtest
from wshtest import RawWS, http_request

wshtest.require_daemon()
wshtest.overall_alarm(240)
rep = wshtest.Report()
HEX16 = re.compile(r"^[0-9a-f]{16}$")
TMP = tempfile.mkdtemp(prefix="wsh13-")


class Curl:
    """The result of one curl run: final status, headers, body, stderr."""

    def __init__(self, status, headers, body, err, statuses):
        self.status, self.headers, self.body = status, headers, body
        self.err, self.statuses = err, statuses

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<curl %r %r %r>" % (self.status, self.headers, self.body[:300])


def curl(port, path, method=None, data=None, headers=(), args=(), timeout=10):
    """Run the real curl binary; |data| (bytes) is sent with --data-binary."""
    bodyfile = os.path.join(TMP, "body")
    cmd = ["curl", "-sS", "-D", "-", "-o", bodyfile, "--max-time", str(timeout)]
    if method:
        cmd += ["-X", method]
    for h in headers:
        cmd += ["-H", h]
    datafile = None
    if data is not None:
        datafile = os.path.join(TMP, "data")
        with open(datafile, "wb") as f:
            f.write(data)
        cmd += ["--data-binary", "@" + datafile]
    cmd += list(args)
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    p = subprocess.run(cmd, capture_output=True, timeout=timeout + 5)
    statuses, headers = [], {}
    for line in p.stdout.decode("latin-1").split("\r\n"):
        m = re.match(r"^HTTP/1\.[01] (\d{3})", line)
        if m:
            statuses.append(int(m.group(1)))
            headers = {}
        elif ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    body = b""
    if os.path.exists(bodyfile):
        with open(bodyfile, "rb") as f:
            body = f.read()
        os.unlink(bodyfile)
    return Curl(statuses[-1] if statuses else None, headers, body,
                p.stderr.decode("utf-8", "replace"), statuses)


def is_json_error(r, status):
    """None when |r| is a JSON error with |status|, else a problem."""
    if r.status != status:
        return "status %r, expected %d: %r" % (r.status, status, r)
    if not (r.header("content-type") or "").startswith("application/json"):
        return "content type %r" % r.header("content-type")
    try:
        j = r.json()
    except ValueError:
        return "body is not JSON: %r" % r.body
    if j.get("status") != status or not isinstance(j.get("error"), str) or not j["error"]:
        return "bad error document %r" % j
    return None


def raw_exchange(port, data, nresp=1, timeout=5.0, heads=()):
    """Send |data| in one write; read |nresp| responses (Content-Length
    framed; those numbered in |heads| answer HEAD and have no body).
    Returns (list of (status, headers dict, body), closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    buf, out = b"", []
    deadline = time.monotonic() + timeout
    closed = False
    while len(out) < nresp and time.monotonic() < deadline:
        if b"\r\n\r\n" in buf:
            head, _, rest = buf.partition(b"\r\n\r\n")
            _, status, _, hl = wshtest.parse_response_head(head)
            h = dict(hl)
            n = 0 if len(out) in heads else int(h.get("content-length", "0"))
            if len(rest) >= n:
                if status != 100:
                    out.append((status, h, rest[:n]))
                buf = rest[n:]
                continue
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            chunk = b""
        if not chunk:
            closed = True
            break
        buf += chunk
    if not closed:
        s.settimeout(1.0)
        try:
            closed = s.recv(1) == b""
        except socket.timeout:
            closed = False
        except OSError:
            closed = True
    s.close()
    return out, closed


def post(path, body, ctype=None, extra=(), version="1.1", chunked=False):
    lines = ["POST %s HTTP/%s" % (path, version), "Host: x"]
    if ctype:
        lines.append("Content-Type: " + ctype)
    lines += list(extra)
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        enc = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in body if p) + b"0\r\n\r\n"
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + enc
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def get(path, extra=(), version="1.1", method="GET"):
    return ("\r\n".join(["%s %s HTTP/%s" % (method, path, version), "Host: x"] + list(extra))
            + "\r\n\r\n").encode()


async def subscribe(d, path):
    return await websockets.connect(d.url(path), open_timeout=5, close_timeout=2,
                                    ping_interval=None, max_size=None, compression=None)


async def curl_async(*a, **kw):
    return await asyncio.to_thread(curl, *a, **kw)


with wshtest.Daemon(max_message_size="256k") as d:
    P = d.port

    # ---- health
    def healthz():
        r = curl(P, "/healthz")
        if r.status != 200 or r.body != b"ok\n":
            return "GET /healthz: %r" % r
        r = curl(P, "/healthz", args=["-I"])
        if r.status != 200 or r.header("content-length") != "3":
            return "HEAD /healthz: %r" % r
        r = curl(P, "/healthz", method="POST", data=b"x")
        if r.status != 405 or "GET" not in (r.header("allow") or ""):
            return "POST /healthz: %r" % r
    rep.run("/healthz: GET 200 'ok', HEAD headers only, POST 405 with Allow", healthz)

    # ---- publish reaches subscribers, text or binary by content type
    async def publish_types():
        a = await subscribe(d, "/ws/news")
        b = await subscribe(d, "/ws/news,sport")
        try:
            cases = [
                (["Content-Type: text/plain"], "hello text".encode(), str),
                (["Content-Type: application/json"], b'{"a":1}', str),
                (["Content-Type: application/octet-stream"], b"\x00\x01\xffbin", bytes),
                (["Content-Type: image/png"], b"PNGish", bytes),
                (["Content-Type: application/x-custom; charset=utf-8"], "caf\u00e9".encode(), str),
                ([], "form default \u00e9".encode(), str),          # curl's form type, UTF-8
                ([], b"\xff\xfe not utf-8", bytes),                 # curl's form type, binary
                (["Content-Type:"], b"no type at all", str),        # header removed
            ]
            seqs = []
            for hdrs, body, kind in cases:
                r = await curl_async(P, "/pub/news", data=body, headers=hdrs)
                if r.status != 200:
                    return "publish %r %r: %r" % (hdrs, body, r)
                j = r.json()
                if j.get("channel") != "news" or not HEX16.match(j.get("epoch", "")) \
                        or j.get("delivered") != 2 or not isinstance(j.get("seq"), int):
                    return "publish reply %r" % j
                seqs.append(j["seq"])
                for ws in (a, b):
                    m = await asyncio.wait_for(ws.recv(), 5)
                    want = body.decode() if kind is str else body
                    if m != want or type(m) is not kind:
                        return "%r with %r: subscriber got %r" % (body, hdrs, m)
            if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                return "sequence numbers not consecutive: %r" % seqs
            r = await curl_async(P, "/api/v1/channels/sport/publish", data=b"alias",
                                 headers=["Content-Type: text/plain"])
            if r.status != 200 or r.json().get("delivered") != 1:
                return "alias publish: %r" % r
            if await asyncio.wait_for(b.recv(), 5) != "alias":
                return "alias publish not delivered"
        finally:
            await a.close()
            await b.close()
    rep.run("POST /pub/<channel> (curl) reaches /ws/ subscribers; text or binary by "
            "Content-Type; seq, epoch, delivered; /api/v1/channels/<c>/publish alias",
            lambda: asyncio.run(publish_types()))

    def publish_errors():
        problems = []
        for hdrs, body, status in [
                (["Content-Type: text/plain"], b"\xc3\x28", 400),
                (["Content-Type: text/plain; charset=iso-8859-1"], b"abc", 415)]:
            r = curl(P, "/pub/news", data=body, headers=hdrs)
            e = is_json_error(r, status)
            if e:
                problems.append("%r: %s" % (hdrs, e))
        for path, status in [("/pub/bad%20name", 400), ("/pub/" + "x" * 129, 400),
                             ("/pub/a%zz", 400), ("/pub/", 404), ("/pub/a/b", 404)]:
            e = is_json_error(curl(P, path, data=b"x"), status)
            if e:
                problems.append("%s: %s" % (path, e))
        r = curl(P, "/pub/news")
        if r.status != 405 or r.header("allow") != "POST" or is_json_error(r, 405):
            problems.append("GET /pub/news: %r" % r)
        # empty body is a message; a POST without any length is 411
        r = curl(P, "/pub/emptyok", data=b"")
        if r.status != 200:
            problems.append("empty body: %r" % r)
        out, _ = raw_exchange(P, b"POST /pub/news HTTP/1.1\r\nHost: x\r\n\r\n")
        if not out or out[0][0] != 411:
            problems.append("POST without length: %r" % out)
        return "\n".join(problems) or None
    rep.run("publish errors: invalid UTF-8 text 400, charset 415, bad channel 400, "
            "bad escape 400, 404, GET 405 with Allow: POST, no length 411", publish_errors)

    # ---- sendOne, broadcast, disconnect
    async def send_one():
        a = await subscribe(d, "/echo")
        b = await subscribe(d, "/echo")
        try:
            cid = a.response_headers.get("Wshub-Connection-Id")
            if not cid or not HEX16.match(cid):
                return "no connection id header: %r" % cid
            r = await curl_async(P, "/api/v1/connections/%s/send" % cid, data=b"just you",
                                 headers=["Content-Type: text/plain"])
            if r.status != 200 or r.json() != {"id": cid, "delivered": 1}:
                return "send: %r" % r
            if await asyncio.wait_for(a.recv(), 5) != "just you":
                return "target did not get the message"
            r = await curl_async(P, "/api/v1/connections/%s/send" % cid.upper(), data=b"\x01\x02",
                                 headers=["Content-Type: application/octet-stream"])
            if r.status != 200 or await asyncio.wait_for(a.recv(), 5) != b"\x01\x02":
                return "binary send with upper-case id: %r" % r
            try:
                m = await asyncio.wait_for(b.recv(), 0.5)
                return "the other connection got %r" % m
            except asyncio.TimeoutError:
                pass
            e = is_json_error(await curl_async(P, "/api/v1/connections/0123456789abcdef/send",
                                               data=b"x"), 404)
            if e:
                return "unknown id: " + e
            e = is_json_error(await curl_async(P, "/api/v1/connections/xyz/send", data=b"x"), 400)
            if e:
                return "malformed id: " + e
        finally:
            await a.close()
            await b.close()
    rep.run("sendOne: POST /api/v1/connections/<id>/send with the id from the handshake "
            "header; 404 unknown id, 400 malformed id", lambda: asyncio.run(send_one()))

    async def broadcast():
        conns = [await subscribe(d, "/broadcast") for _ in range(3)]
        sub = await subscribe(d, "/ws/x")
        try:
            r = await curl_async(P, "/api/v1/broadcast?route=%2Fbroadcast", data=b"to all",
                                 headers=["Content-Type: text/plain"])
            if r.status != 200 or r.json() != {"route": "/broadcast", "delivered": 3}:
                return "broadcast: %r" % r
            for ws in conns:
                if await asyncio.wait_for(ws.recv(), 5) != "to all":
                    return "a client missed the broadcast"
            r = await curl_async(P, "/api/v1/broadcast?route=/ws/*", data=b"\x00b",
                                 headers=["Content-Type: application/octet-stream"])
            if r.status != 200 or r.json().get("delivered") != 1:
                return "broadcast to the prefix route: %r" % r
            if await asyncio.wait_for(sub.recv(), 5) != b"\x00b":
                return "prefix-route client missed the broadcast"
            e = is_json_error(await curl_async(P, "/api/v1/broadcast?route=/nope", data=b"x"), 404)
            if e:
                return "unknown route: " + e
            e = is_json_error(await curl_async(P, "/api/v1/broadcast", data=b"x"), 400)
            if e:
                return "missing route: " + e
        finally:
            for ws in conns + [sub]:
                await ws.close()
    rep.run("sendAll: POST /api/v1/broadcast?route=... to every client of a route; "
            "404 unknown route, 400 missing route", lambda: asyncio.run(broadcast()))

    def disconnect():
        a = RawWS(P, "/echo")
        b = RawWS(P, "/echo")
        try:
            ida = a.response.header("wshub-connection-id")
            idb = b.response.header("wshub-connection-id")
            e = is_json_error(curl(P, "/api/v1/connections/%s/disconnect?code=1005" % ida,
                                   method="POST"), 400)
            if e:
                return "code 1005: " + e
            e = is_json_error(curl(P, "/api/v1/connections/%s/disconnect?code=abc" % ida,
                                   method="POST"), 400)
            if e:
                return "code abc: " + e
            r = curl(P, "/api/v1/connections/%s/disconnect?code=4000&reason=bye+now%%21" % ida,
                     method="POST")
            if r.status != 200 or r.json() != {"id": ida, "code": 4000}:
                return "disconnect: %r" % r
            code, reason, _ = a.expect_close(5)
            if code != 4000 or reason != b"bye now!":
                return "client a got close %r %r" % (code, reason)
            r = curl(P, "/api/v1/connections/%s" % idb, method="DELETE")
            if r.status != 200 or r.json().get("code") != 1000:
                return "DELETE: %r" % r
            code, reason, _ = b.expect_close(5)
            if code != 1000:
                return "client b got close %r" % code
            e = is_json_error(curl(P, "/api/v1/connections/%s" % idb, method="DELETE"), 404)
            if e:
                return "DELETE of a closing connection: " + e
        finally:
            a.close()
            b.close()
    rep.run("disconnect: POST .../disconnect?code=4000&reason=... and DELETE (1000); "
            "invalid code 400", disconnect)

    async def info():
        a = await subscribe(d, "/ws/infochan")
        try:
            for i in range(3):
                r = await curl_async(P, "/pub/infochan", data=b"m%d" % i)
                await asyncio.wait_for(a.recv(), 5)
            r = await curl_async(P, "/api/v1/channels/infochan")
            j = r.json() if r.status == 200 else None
            if not j or j.get("channel") != "infochan" or j.get("subscribers") != 1 \
                    or j.get("seq") != 3 or not HEX16.match(j.get("epoch", "")) \
                    or not isinstance(j.get("history"), dict) \
                    or set(j["history"]) != {"count", "bytes", "first_seq"}:
                return "channel info: %r" % r
            r = await curl_async(P, "/api/v1/channels/infochan", args=["-I"])
            if r.status != 200 or int(r.header("content-length") or 0) <= 0:
                return "HEAD channel info: %r" % r
            r = await curl_async(P, "/api/v1/channels")
            names = [c.get("channel") for c in r.json().get("channels", [])]
            if r.status != 200 or "infochan" not in names or r.json().get("count") != len(names):
                return "channel list: %r" % r
            e = is_json_error(await curl_async(P, "/api/v1/channels/nosuchchannel"), 404)
            if e:
                return "unknown channel: " + e
            e = is_json_error(await curl_async(P, "/api/v1/channels/bad%2Fname"), 400)
            if e:
                return "bad channel name: " + e
            r = await curl_async(P, "/api/v1/connections")
            cid = a.response_headers.get("Wshub-Connection-Id")
            entry = [c for c in r.json().get("connections", []) if c.get("id") == cid]
            if r.status != 200 or len(entry) != 1 or entry[0].get("route") != "/ws/" \
                    or not entry[0].get("peer", "").startswith("127.0.0.1:"):
                return "connection list: %r (looking for %s)" % (r, cid)
        finally:
            await a.close()
    rep.run("GET /api/v1/channels/<c> (info, HEAD), /api/v1/channels, /api/v1/connections; "
            "404 unknown channel, 400 bad name", lambda: asyncio.run(info()))

    def api_errors():
        problems = []
        for method, path, status in [("GET", "/api/v1/nothing", 404),
                                     ("GET", "/api/v2/channels", 404),
                                     ("PUT", "/api/v1/channels/x", 405),
                                     ("POST", "/api/v1/connections", 405),
                                     ("GET", "/api/v1/broadcast", 405),
                                     ("GET", "/nowhere", 404)]:
            r = curl(P, path, method=method)
            e = is_json_error(r, status)
            if e:
                problems.append("%s %s: %s" % (method, path, e))
            elif status == 405 and not r.header("allow"):
                problems.append("%s %s: 405 without Allow" % (method, path))
        return "\n".join(problems) or None
    rep.run("unknown endpoints 404, wrong methods 405 with Allow; JSON errors", api_errors)

    # ---- bodies: limits, chunked, 100-continue
    def limits():
        problems = []
        out, closed = raw_exchange(P, b"POST /pub/news HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: %d\r\n\r\nabc" % (256 * 1024 + 1))
        if not out or out[0][0] != 413 or not closed:
            problems.append("Content-Length over the limit: %r closed=%r" % (out, closed))
        r = curl(P, "/pub/news", data=b"a" * (256 * 1024 + 1))
        if is_json_error(r, 413) or 100 in r.statuses:
            problems.append("curl over the limit: %r" % r)
        r = curl(P, "/pub/limitok", data=b"a" * (256 * 1024))
        if r.status != 200:
            problems.append("body at the limit: %r" % r)
        r = curl(P, "/pub/news", data=b"a" * (300 * 1024), headers=["Transfer-Encoding: chunked"])
        if is_json_error(r, 413):
            problems.append("chunked over the limit (curl): %r" % r)
        out, closed = raw_exchange(P, post("/pub/news", [b"a" * 200000, b"b" * 100000],
                                           chunked=True))
        if not out or out[0][0] != 413 or not closed:
            problems.append("chunked over the limit (raw): %r closed=%r" % (out, closed))
        return "\n".join(problems) or None
    rep.run("413 for a body over max_message_size: from Content-Length before reading "
            "(curl gets no 100), and while reading chunked; a body at the limit is fine", limits)

    async def chunked():
        a = await subscribe(d, "/ws/chunky")
        try:
            body = b"".join([b"5;ext=1\r\nhello\r\n", b"5 ;x=\"q\"\r\n, wor\r\n",
                             b"A\r\nld-chunks!\r\n", b"0\r\nX-Trailer: yes\r\n\r\n"])
            data = ("POST /pub/chunky HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n").encode() + body
            out, closed = await asyncio.to_thread(raw_exchange, P, data)
            if not out or out[0][0] != 200 or closed:
                return "chunked publish: %r closed=%r" % (out, closed)
            m = await asyncio.wait_for(a.recv(), 5)
            if m != "hello, world-chunks!":
                return "subscriber got %r" % m
            # the same, one byte per write
            s = socket.create_connection(("127.0.0.1", P), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
            head = s.recv(4096)
            s.close()
            if not head.startswith(b"HTTP/1.1 200"):
                return "byte-by-byte chunked publish: %r" % head
            if await asyncio.wait_for(a.recv(), 5) != "hello, world-chunks!":
                return "byte-by-byte: wrong message"
        finally:
            await a.close()
    rep.run("chunked body with extensions and trailers, whole and byte by byte",
            lambda: asyncio.run(chunked()))

    def bad_chunked():
        problems = []
        head = b"POST /pub/news HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for name, body in [("no size", b"\r\nabc\r\n0\r\n\r\n"),
                           ("bad hex", b"zz\r\nabc\r\n0\r\n\r\n"),
                           ("bare LF", b"3\nabc\r\n0\r\n\r\n"),
                           ("data too long", b"3\r\nabcd\r\n0\r\n\r\n"),
                           ("blank then text", b"3 x\r\nabc\r\n0\r\n\r\n"),
                           ("CR without LF at the end", b"3\r\nabc\r\n0\r\n\rX")]:
            out, closed = raw_exchange(P, head + body, timeout=3)
            if not out or out[0][0] != 400 or not closed:
                problems.append("%s: %r closed=%r" % (name, out, closed))
        out, closed = raw_exchange(P, b"POST /pub/news HTTP/1.1\r\nHost: x\r\n"
                                      b"Transfer-Encoding: gzip\r\n\r\n")
        if not out or out[0][0] != 501:
            problems.append("gzip coding: %r" % out)
        out, closed = raw_exchange(P, b"POST /pub/news HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        if not out or out[0][0] != 400 or not closed:
            problems.append("both framings: %r" % out)
        out, closed = raw_exchange(P, b"POST /pub/news HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 3\r\nExpect: magic\r\n\r\nabc")
        if not out or out[0][0] != 417:
            problems.append("Expect: magic: %r" % out)
        return "\n".join(problems) or None
    rep.run("malformed chunked bodies 400 and close; unknown coding 501; CL+TE 400; "
            "Expect other than 100-continue 417", bad_chunked)

    async def continue_64k():
        a = await subscribe(d, "/ws/bigchan")
        try:
            body = os.urandom(64 * 1024)
            # curl shows the 100 only when the server sent one; without it,
            # curl would send the body after a one-second wait.
            r = await curl_async(P, "/pub/bigchan", data=body,
                                 headers=["Content-Type: application/octet-stream",
                                          "Expect: 100-continue"])
            if r.status != 200 or r.statuses != [100, 200]:
                return "64 KiB with Expect: %r statuses=%r" % (r, r.statuses)
            m = await asyncio.wait_for(a.recv(), 5)
            if m != body:
                return "subscriber got %d bytes, not the 64 KiB sent" % len(m)
        finally:
            await a.close()
    rep.run("Expect: 100-continue answered with 100 Continue before a 64 KiB body (curl)",
            lambda: asyncio.run(continue_64k()))

    # ---- connections: keep-alive, pipelining, HTTP/1.0, Connection: close
    async def keepalive():
        a = await subscribe(d, "/ws/ka")

        def run():
            c = http.client.HTTPConnection("127.0.0.1", P, timeout=5)
            c.connect()
            sock = c.sock
            for i in range(100):
                c.request("POST", "/pub/ka", body=b"msg %d" % i,
                          headers={"Content-Type": "text/plain"})
                r = c.getresponse()
                body = r.read()
                if r.status != 200 or r.getheader("Connection") != "keep-alive":
                    return "request %d: %d %r %r" % (i, r.status, r.getheaders(), body)
                if c.sock is not sock:
                    return "request %d went on a new connection" % i
            c.request("GET", "/api/v1/channels/ka")
            r = c.getresponse()
            info = json.loads(r.read())
            c.close()
            return info
        try:
            info = await asyncio.to_thread(run)
            if isinstance(info, str):
                return info
            got = [await asyncio.wait_for(a.recv(), 5) for _ in range(100)]
            if got != ["msg %d" % i for i in range(100)]:
                return "subscriber got %r..." % got[:5]
            if info.get("seq") != 100:
                return "channel info after 100 publishes: %r" % info
        finally:
            await a.close()
    rep.run("keep-alive: 100 publishes on one http.client connection, all delivered in order",
            lambda: asyncio.run(keepalive()))

    def pipelined():
        data = (get("/healthz") + post("/pub/pipe", b"first", "text/plain")
                + post("/pub/pipe", [b"sec", b"ond"], "text/plain", chunked=True)
                + get("/api/v1/channels/nope") + get("/healthz", method="HEAD")
                + get("/api/v1/channels/pipe", extra=["Connection: close"]))
        out, closed = raw_exchange(P, data, nresp=6, heads=(4,))
        st = [o[0] for o in out]
        if st != [200, 200, 200, 404, 200, 200]:
            return "statuses %r" % st
        if json.loads(out[1][2]).get("seq") + 1 != json.loads(out[2][2]).get("seq"):
            return "publishes out of order: %r" % out
        if out[4][2] != b"" or out[4][1].get("content-length") != "3":
            return "HEAD answer %r" % (out[4],)
        if json.loads(out[5][2]).get("seq") != json.loads(out[2][2]).get("seq"):
            return "info did not see both publishes: %r" % out[5]
        if out[5][1].get("connection") != "close" or not closed:
            return "Connection: close not honoured: %r closed=%r" % (out[5][1], closed)
        if any(o[1].get("connection") != "keep-alive" for o in out[:5]):
            return "a middle answer was not keep-alive: %r" % out
    rep.run("pipelining: six requests in one write answered in order; the last "
            "(Connection: close) closes", pipelined)

    def http10():
        out, closed = raw_exchange(P, get("/healthz", version="1.0"))
        if not out or out[0][0] != 200 or out[0][1].get("connection") != "close" or not closed:
            return "HTTP/1.0 default: %r closed=%r" % (out, closed)
        out, closed = raw_exchange(P, get("/healthz", ["Connection: keep-alive"], "1.0")
                                   + post("/pub/h10", b"x", "text/plain", version="1.0"), nresp=2)
        if [o[0] for o in out] != [200, 200] or out[0][1].get("connection") != "keep-alive" \
                or out[1][1].get("connection") != "close" or not closed:
            return "HTTP/1.0 keep-alive: %r closed=%r" % (out, closed)
    rep.run("HTTP/1.0: closes by default, keeps the connection with Connection: keep-alive",
            http10)

    def error_keeps_connection():
        # an error answered after the whole request keeps the connection;
        # one answered before an unread body closes it
        out, closed = raw_exchange(P, get("/api/v1/channels/none") + get("/healthz"), nresp=2)
        if [o[0] for o in out] != [404, 200] or closed:
            return "404 then healthz: %r closed=%r" % (out, closed)
        out, closed = raw_exchange(P, post("/api/v1/nothing", b"abc") + get("/healthz"), nresp=2)
        if [o[0] for o in out] != [404] or not closed or out[0][1].get("connection") != "close":
            return "404 before a body: %r closed=%r" % (out, closed)
    rep.run("an error after the whole request keeps the connection; one before an "
            "unread body closes it", error_keeps_connection)

    rep.run("plain GET on a WebSocket route is still 426; upgrade still works",
            lambda: None if (http_request(P, get("/echo")).status == 426 and
                             RawWS(P, "/echo").response.status == 101) else "changed")


# ---- API key, idle keep-alive timeout
with wshtest.Daemon(api_key="s3cret-key", handshake_timeout="1s") as d:
    P = d.port

    def auth():
        problems = []
        for hdrs in ([], ["Authorization: Bearer wrong"], ["X-Api-Key: s3cret-ke"],
                     ["Authorization: Basic czNjcmV0LWtleQ=="]):
            r = curl(P, "/pub/k", data=b"x", headers=hdrs)
            e = is_json_error(r, 401)
            if e or "Bearer" not in (r.header("www-authenticate") or ""):
                problems.append("%r: %s %r" % (hdrs, e, r))
        for hdrs in (["Authorization: Bearer s3cret-key"], ["authorization: bearer  s3cret-key"],
                     ["X-Api-Key: s3cret-key"]):
            r = curl(P, "/pub/k", data=b"x", headers=hdrs)
            if r.status != 200:
                problems.append("%r: %r" % (hdrs, r))
        if curl(P, "/healthz").status != 200:
            problems.append("/healthz needs the key")
        e = is_json_error(curl(P, "/api/v1/channels"), 401)
        if e:
            problems.append("list without the key: " + e)
        # a refused publish with Expect: 100-continue never gets a 100
        r = curl(P, "/pub/k", data=b"a" * 4096, headers=["Expect: 100-continue"])
        if r.status != 401 or 100 in r.statuses:
            problems.append("401 with Expect: %r %r" % (r, r.statuses))
        return "\n".join(problems) or None
    rep.run("api_key: 401 with WWW-Authenticate when missing or wrong; Bearer and "
            "X-Api-Key accepted; /healthz open", auth)

    def idle():
        s = socket.create_connection(("127.0.0.1", P), timeout=6)
        s.sendall(get("/healthz"))
        t0 = time.monotonic()
        buf = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        dt = time.monotonic() - t0
        s.close()
        if not buf.startswith(b"HTTP/1.1 200") or b"keep-alive" not in buf:
            return "answer %r" % buf
        if dt < 0.5 or dt > 4.0:
            return "idle keep-alive connection closed after %.2fs (handshake_timeout 1s)" % dt
    rep.run("an idle keep-alive connection is closed after handshake_timeout", idle)

    def slow_body():
        s = socket.create_connection(("127.0.0.1", P), timeout=6)
        s.sendall(b"POST /pub/k HTTP/1.1\r\nHost: x\r\nX-Api-Key: s3cret-key\r\n"
                  b"Content-Length: 10\r\n\r\nabc")
        t0 = time.monotonic()
        try:
            got = s.recv(4096)
        except OSError:
            got = b""
        dt = time.monotonic() - t0
        s.close()
        if got or dt > 4.0:
            return "a body that never completes: got %r after %.2fs" % (got, dt)
    rep.run("handshake_timeout bounds reading a request body", slow_body)

rep.done()
