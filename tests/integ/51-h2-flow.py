#!/usr/bin/python3
"""Flow control and floods on HTTP/2 (python3-h2 as the client): a stream
that does not read beside streams that do on one connection (the others
get everything, the slow one is bounded by the slow-consumer policy), and
rapid-reset, SETTINGS and PING floods, each answered by ending the flooding
connection without harm to another."""

import json
import re
import socket
import struct
import threading
import time

import h2.errors

import h2ws
import wshtest
from wshtest import OP_TEXT, OP_PING, OP_PONG, OP_CLOSE, encode_frame

wshtest.require_daemon()
wshtest.overall_alarm(180)
rep = wshtest.Report()

ROUTES = [
    {"path": "/echo", "handler": "echo"},
    {"path": "/ws/*", "handler": "pubsub", "allow_publish": True},
]
N, SIZE = 400, 1024


def publish(port, channel, n, size):
    """Publish |n| messages over one HTTP/2 connection of its own."""
    c = h2ws.H2Conn("127.0.0.1", port, window=1 << 24)
    try:
        c.wait_settings()
        for i in range(n):
            body = (b"%06d" % i) + b"x" * (size - 6)
            sid = c.request("POST", "/pub/" + channel, body=body,
                            headers=[("content-type", "application/octet-stream")])
            st, _, out = c.response(sid)
            if st != 200:
                return "publish %d: %r %r" % (i, st, out)
    finally:
        c.close()


def echo_works(port):
    ws = h2ws.H2WS(url="h2c://127.0.0.1:%d/echo" % port)
    try:
        ws.send_raw(encode_frame(OP_TEXT, "alive"))
        f = ws.recv_frame(5)
        return f is not None and f.payload == b"alive"
    finally:
        ws.close()


with wshtest.Daemon(routes=ROUTES, send_buffer_limit="64k",
                    send_buffer_soft_limit="32k", send_buffer_soft_seconds="1s",
                    h2_max_resets=50, log_level="info") as d:

    def slow_beside_fast():
        c = h2ws.H2Conn("127.0.0.1", d.port, window=1 << 24)
        try:
            slow = h2ws.H2WS(conn=c, path="/ws/feed")
            c.no_ack.add(slow.sid)
            fast = [h2ws.H2WS(conn=c, path="/ws/feed") for _ in range(3)]
            for w in fast:
                # room for everything: only the slow stream is ever stopped
                c.conn.increment_flow_control_window(1 << 24, w.sid)
            c.flush()
            errs = []
            t = threading.Thread(target=lambda: errs.append(
                publish(d.port, "feed", N, SIZE)))
            t.start()
            for k, w in enumerate(fast):
                for i in range(N):
                    f = w.recv_frame(10)
                    if f is None or f.payload[:6] != b"%06d" % i:
                        return "fast stream %d, message %d: %r" % (k, i, f)
            t.join()
            if errs[0]:
                return errs[0]
            # the slow stream got at most its window, then the policy
            st = c.stream(slow.sid)
            c.wait(lambda: st.reset is not None or st.ended, 10)
            if st.reset is None and not st.ended:
                return "the slow stream was neither closed nor reset"
            got = len(slow.buf) + len(st.data)
            if got > 70000:
                return "the slow stream received %d bytes past its window" % got
            # the connection and its fast streams live on
            fast[0].send_raw(encode_frame(OP_PING, b"still"))
            f = fast[0].recv_frame(5)
            if f is None or f.opcode != OP_PONG:
                return "fast stream after the slow one went: %r" % f
            m = wshtest.http_request(d.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                     b"Connection: close\r\n\r\n")
            if not re.search(rb"\nwshub_slow_consumer_kicks_total [1-9]",
                             m.body):
                return "metrics do not show the slow consumer"
        finally:
            c.close()
    rep.run("a stream that does not read beside 3 that do on one connection: "
            "they get all %d messages, it is cut off at the limit" % N,
            slow_beside_fast)

    def rapid_reset():
        other = h2ws.H2WS(url="h2c://127.0.0.1:%d/echo" % d.port)
        c = h2ws.H2Conn("127.0.0.1", d.port)
        try:
            c.wait_settings()
            for i in range(500):
                try:
                    sid = c.request("GET", "/healthz")
                    c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
                except h2.exceptions.ProtocolError:
                    break
                if i % 50 == 0:
                    c.flush()
            c.flush()
            c.wait(lambda: c.goaway is not None or c.eof, 5)
            if c.goaway is None:
                return "no GOAWAY after 500 rapid resets (eof %r)" % c.eof
            if c.goaway[0] != h2.errors.ErrorCodes.ENHANCE_YOUR_CALM:
                return "GOAWAY %r, expected ENHANCE_YOUR_CALM" % (c.goaway,)
            other.send_raw(encode_frame(OP_TEXT, "fine"))
            f = other.recv_frame(5)
            if f is None or f.payload != b"fine":
                return "the other connection suffered: %r" % f
        finally:
            c.close()
            other.close()
    rep.run("rapid reset flood: GOAWAY ENHANCE_YOUR_CALM, another connection "
            "unharmed", rapid_reset)

    def raw_flood(name, frame, count):
        other = h2ws.H2WS(url="h2c://127.0.0.1:%d/echo" % d.port)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
                      b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            blob = frame * 2000
            sent = 0
            t0 = time.monotonic()
            # we never read: acknowledgements pile up on the server
            try:
                while sent < count and time.monotonic() - t0 < 20:
                    s.sendall(blob)
                    sent += 2000
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
            # the flooding connection must be ended
            s.settimeout(10)
            closed = False
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    if not s.recv(1 << 20):
                        closed = True
                        break
                except (ConnectionResetError, socket.timeout):
                    closed = True
                    break
            if not closed:
                return "the %s flood connection was not closed" % name
            other.send_raw(encode_frame(OP_TEXT, "fine"))
            f = other.recv_frame(5)
            if f is None or f.payload != b"fine":
                return "the other connection suffered: %r" % f
            if "HTTP/2 flood" not in d.stderr_text():
                return "closed, but not as a flood"
        finally:
            s.close()
            other.close()

    ping = struct.pack("!I", 8)[1:] + b"\x06\x00" + b"\x00\x00\x00\x00" + b"12345678"
    settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    rep.run("PING flood without reading: connection ended, another unharmed",
            raw_flood, "PING", ping, 400000)
    rep.run("SETTINGS flood without reading: connection ended, another unharmed",
            raw_flood, "SETTINGS", settings, 400000)

    def many_settings():
        c = h2ws.H2Conn("127.0.0.1", d.port)
        try:
            c.wait_settings()
            body = b"".join(struct.pack("!HI", 0x4, 65535) for _ in range(40))
            c.send_bytes(struct.pack("!I", len(body))[1:] + b"\x04\x00" +
                         b"\x00\x00\x00\x00" + body)
            c.wait(lambda: c.goaway is not None or c.eof, 5)
            if c.goaway is None and not c.eof:
                return "a SETTINGS frame of 40 entries was taken"
        finally:
            c.close()
    rep.run("a SETTINGS frame with 40 entries ends the connection", many_settings)

    rep.check("the daemon still echoes after the floods", echo_works(d.port))
rep.done()
