#!/usr/bin/python3
"""WebSocket over HTTP/2 (RFC 8441) checked by hand with python3-h2, over h2c
(prior knowledge, same port as HTTP/1.1) and over TLS (ALPN h2): the
SETTINGS, extended CONNECT, echo, ping, close ending the stream and not the
connection, rejections, subprotocols, permessage-deflate, connection ids,
the HTTP API over h2 (and curl --http2 / --http2-prior-knowledge), and a
shutdown that closes every WebSocket stream with 1001 before GOAWAY."""

import json
import subprocess
import zlib

import h2.errors
import h2.settings

import h2ws
import tlstest
import wshtest
from wshtest import OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, \
    encode_frame, close_payload

wshtest.require_daemon()
wshtest.overall_alarm(180)
rep = wshtest.Report()
certs = tlstest.Certs()

ROUTES = [
    {"path": "/echo", "handler": "echo"},
    {"path": "/ws/*", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]},
    {"path": "/chat", "handler": "echo", "protocols": ["chat.v2", "chat.v1"]},
]


def check_transport(name, d, tls):
    port = d.tls_port if tls else d.port
    scheme = "h2s" if tls else "h2c"

    def conn():
        return h2ws.H2Conn("127.0.0.1", port, tls=tls)

    def settings():
        c = conn()
        try:
            if tls and c.alpn != "h2":
                return "ALPN chose %r" % c.alpn
            s = c.wait_settings()
            if s is None:
                return "no SETTINGS from the server"
            if s.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL) != 1:
                return "SETTINGS_ENABLE_CONNECT_PROTOCOL is not 1: %r" % s
            if s.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS) != 16:
                return "MAX_CONCURRENT_STREAMS is not the configured 16: %r" % s
            if s.get(h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE) is None:
                return "no MAX_HEADER_LIST_SIZE"
        finally:
            c.close()
    rep.run("%s: SETTINGS carry ENABLE_CONNECT_PROTOCOL=1 and the limits" % name,
            settings)

    def echo_ping_close():
        ws = h2ws.H2WS(url="%s://127.0.0.1:%d/echo" % (scheme, port))
        try:
            cid = ws.response.header("wshub-connection-id")
            if not cid or len(cid) != 16:
                return "no connection id header: %r" % ws.response.headers
            if ws.response.header("sec-websocket-accept"):
                return "Sec-WebSocket-Accept is not used over h2"
            ws.send_raw(encode_frame(OP_TEXT, "héllo"))
            f = ws.recv_frame()
            if f.opcode != OP_TEXT or f.payload != "héllo".encode() or f.masked:
                return "echo: %r" % f
            ws.send_raw(encode_frame(OP_BINARY, bytes(range(256)) * 300))
            f = ws.recv_frame()
            if f.opcode != OP_BINARY or f.payload != bytes(range(256)) * 300:
                return "binary echo of 76800 bytes: %r" % f
            ws.send_raw(encode_frame(OP_PING, b"are you there"))
            f = ws.recv_frame()
            if f.opcode != OP_PONG or f.payload != b"are you there":
                return "no pong: %r" % f
            ws.send_raw(encode_frame(OP_CLOSE, close_payload(1000, "bye")))
            f = ws.recv_frame()
            if f.opcode != OP_CLOSE or f.close_code() != 1000:
                return "close answer: %r" % f
            st = ws.h2.stream(ws.sid)
            ws.h2.wait(lambda: st.ended or st.reset is not None, 3)
            if not st.ended:
                return "the stream did not end after the close (reset %r)" % st.reset
            if st.reset not in (None, h2.errors.ErrorCodes.NO_ERROR):
                return "stream reset with %r" % st.reset
            # the connection is still usable: a second WebSocket on it
            ws.end_stream()
            ws2 = h2ws.H2WS(conn=ws.h2, path="/echo")
            ws2.send_raw(encode_frame(OP_TEXT, "again"))
            f = ws2.recv_frame()
            if f.payload != b"again":
                return "second stream: %r" % f
            if ws2.response.header("wshub-connection-id") == cid:
                return "two streams share a connection id"
            if ws.h2.goaway is not None or ws.h2.eof:
                return "the close ended the connection"
        finally:
            ws.close()
    rep.run("%s: extended CONNECT echo, ping, close ends the stream only" % name,
            echo_ping_close)

    def many_streams():
        c = conn()
        try:
            wss = [h2ws.H2WS(conn=c, path="/echo") for _ in range(10)]
            ids = set(w.response.header("wshub-connection-id") for w in wss)
            if len(ids) != 10:
                return "connection ids not distinct: %r" % ids
            for i, w in enumerate(wss):
                w.send_raw(encode_frame(OP_TEXT, "m%d" % i))
            for i, w in enumerate(wss):
                f = w.recv_frame()
                if f.payload != ("m%d" % i).encode():
                    return "stream %d got %r" % (i, f)
        finally:
            c.close()
    rep.run("%s: 10 WebSockets on one connection, each its own id" % name,
            many_streams)

    def refusal(path, headers=(), protocol="websocket", want=None, method=None,
                version="13"):
        c = conn()
        try:
            c.wait_settings()
            if method == "CONNECT":
                # a plain CONNECT has :authority only: python-h2 is told
                # not to check what it sends
                sid = c.conn.get_next_available_stream_id()
                c.conn.config.validate_outbound_headers = False
                c.conn.send_headers(sid, [(":method", "CONNECT"),
                                          (":authority", "example.com:443")])
                c.conn.config.validate_outbound_headers = True
                c.flush()
            else:
                sid = c.connect_websocket(path, headers, protocol=protocol,
                                          version=version)
            status, hdrs, body = c.response(sid)
            if status != want:
                return "status %r (%r), expected %d" % (status, body, want)
            if c.goaway is not None or c.eof:
                return "the refusal ended the connection"
            # the connection still works afterwards
            sid = c.request("GET", "/healthz")
            if c.response(sid)[0] != 200:
                return "no /healthz after the refusal"
        finally:
            c.close()
    rep.run("%s: CONNECT without :protocol -> 501" % name, refusal, "/echo",
            want=501, method="CONNECT")
    rep.run("%s: :protocol other than websocket -> 501" % name, refusal,
            "/echo", protocol="mqtt", want=501)
    rep.run("%s: unknown path -> 404" % name, refusal, "/nowhere", want=404)
    rep.run("%s: Sec-WebSocket-Version 8 -> 400" % name, refusal, "/echo",
            want=400, version="8")

    def subprotocol():
        c = conn()
        try:
            w = h2ws.H2WS(conn=c, path="/chat", protocols=["chat.v1", "chat.v2"])
            got = w.response.header("sec-websocket-protocol")
            if got != "chat.v2":
                return "selected %r, expected the server's preference chat.v2" % got
        finally:
            c.close()
    rep.run("%s: subprotocol negotiated as over HTTP/1.1" % name, subprotocol)

    def deflate():
        c = conn()
        try:
            w = h2ws.H2WS(conn=c, path="/echo", extra=[
                "Sec-WebSocket-Extensions: permessage-deflate; "
                "client_max_window_bits"])
            ext = w.response.header("sec-websocket-extensions") or ""
            if not ext.startswith("permessage-deflate"):
                return "not accepted: %r" % ext
            text = ("compress me " * 400).encode()
            co = zlib.compressobj(wbits=-15)
            z = co.compress(text) + co.flush(zlib.Z_SYNC_FLUSH)
            w.send_raw(encode_frame(OP_TEXT, z[:-4], rsv=4))
            f = w.recv_frame()
            if f.rsv != 4:
                return "echo not compressed: %r" % f
            plain = zlib.decompressobj(wbits=-15).decompress(f.payload +
                                                             b"\x00\x00\xff\xff")
            if plain != text:
                return "inflated echo differs"
        finally:
            c.close()
    rep.run("%s: permessage-deflate negotiated and used over h2" % name, deflate)

    def api():
        c = conn()
        try:
            sub = h2ws.H2WS(conn=c, path="/ws/news")
            sid = c.request("GET", "/healthz")
            if c.response(sid)[0] != 200:
                return "/healthz"
            sid = c.request("GET", "/metrics")
            st, hdrs, body = c.response(sid)
            if st != 200 or b"wshub_connections" not in body:
                return "/metrics: %r %r" % (st, body[:200])
            sid = c.request("POST", "/pub/news", body=b"breaking",
                            headers=[("content-type", "text/plain")])
            st, hdrs, body = c.response(sid)
            if st != 200 or json.loads(body).get("delivered") != 1:
                return "publish: %r %r" % (st, body)
            f = sub.recv_frame()
            if f.payload != b"breaking":
                return "the h2 subscriber got %r" % f
            sid = c.request("GET", "/")
            if c.response(sid)[0] is None:
                return "no answer to GET /"
            sid = c.request("GET", "/echo")
            if c.response(sid)[0] != 400:
                return "plain GET of a WebSocket route is not 400"
        finally:
            c.close()
    rep.run("%s: HTTP API, /healthz, /metrics and GET / over h2; a publish "
            "reaches an h2 subscriber" % name, api)

    def curl():
        if tls:
            args = ["--http2", "-k", "https://localhost:%d/healthz" % port]
        else:
            args = ["--http2-prior-knowledge", "http://127.0.0.1:%d/healthz" % port]
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w",
                            "%{http_version} %{http_code}", "--max-time", "5"]
                           + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.stdout.decode().strip()
        if out != "2 200":
            return "curl: %r %r" % (out, p.stderr)
        p = subprocess.run(["curl", "-sS", "--max-time", "5", "-X", "POST",
                            "--data-binary", "hello", "-H", "Content-Type: text/plain",
                            "-w", " %{http_version}"] + args[:-1]
                           + [args[-1].replace("/healthz", "/pub/curl")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = p.stdout.decode()
        if not out.endswith(" 2") or '"channel":"curl"' not in out:
            return "curl POST: %r %r" % (out, p.stderr)
    rep.run("%s: curl %s for /healthz and a publish" % (
        name, "--http2" if tls else "--http2-prior-knowledge"), curl)


def echo_on(port):
    ws = h2ws.H2WS(url="h2c://127.0.0.1:%d/echo" % port)
    try:
        ws.send_raw(encode_frame(OP_TEXT, "ok?"))
        f = ws.recv_frame(5)
        return f is not None and f.payload == b"ok?"
    finally:
        ws.close()


d = tlstest.tls_daemon(certs, routes=ROUTES, h2_max_streams=16)
with d:
    check_transport("h2c", d, tls=False)
    check_transport("h2 over TLS", d, tls=True)

    def http11_beside():
        with wshtest.RawWS(port=d.port, path="/echo") as ws:
            ws.send_text("h1")
            if ws.recv_frame().payload != b"h1":
                return "HTTP/1.1 Upgrade on the same port broke"
    rep.run("HTTP/1.1 Upgrade still works on the h2c port", http11_beside)

    def too_many_streams():
        c = h2ws.H2Conn("127.0.0.1", d.port)
        try:
            c.wait_settings()
            wss = [h2ws.H2WS(conn=c, path="/echo") for _ in range(16)]
            c.lift_stream_limit()
            sid = c.connect_websocket("/echo")
            st = c.stream(sid)
            c.wait(lambda: st.reset is not None or st.headers is not None
                   or c.goaway is not None, 3)
            # RFC 9113 5.1.2 allows a stream error; nghttp2 makes a client
            # that ignores the advertised limit a connection error
            if st.reset != h2.errors.ErrorCodes.REFUSED_STREAM and (
                    c.goaway is None or
                    c.goaway[0] != h2.errors.ErrorCodes.PROTOCOL_ERROR):
                return "17th stream: reset %r headers %r goaway %r" % (
                    st.reset, st.headers, c.goaway)
        finally:
            c.close()
        if not echo_on(d.port):
            return "another connection suffered"
    rep.run("a stream over h2_max_streams is refused (REFUSED_STREAM or "
            "GOAWAY PROTOCOL_ERROR)", too_many_streams)

# Shutdown: every WebSocket stream gets close 1001, then GOAWAY.
d = tlstest.tls_daemon(certs, routes=ROUTES)
with d:
    c = h2ws.H2Conn("127.0.0.1", d.tls_port, tls=True)
    wss = [h2ws.H2WS(conn=c, path="/echo") for _ in range(3)]

    def shutdown():
        import signal
        d.send_signal(signal.SIGTERM)
        codes = []
        for w in wss:
            f = w.recv_frame(5)
            codes.append(f.close_code() if f is not None and
                         f.opcode == OP_CLOSE else f)
            w.send_raw(encode_frame(OP_CLOSE, close_payload(1001)))
            # the server ends the stream; we end ours
            w.wait_eof(3)
            w.end_stream()
        if codes != [1001, 1001, 1001]:
            return "closes: %r" % codes
        c.wait(lambda: c.goaway is not None or c.eof, 5)
        if c.goaway is None:
            return "no GOAWAY before the connection closed"
        if c.goaway[0] != h2.errors.ErrorCodes.NO_ERROR:
            return "GOAWAY with %r" % (c.goaway,)
        c.wait(lambda: c.eof, 5)
        if not c.eof:
            return "the connection stayed open"
    rep.run("shutdown: close 1001 on every WebSocket stream, GOAWAY NO_ERROR, "
            "connection closed", shutdown)
rep.done()
