#!/usr/bin/python3
"""Resource limits: max_connections, handshake_timeout, idle_timeout,
ping_interval, frame/message size (1009), slow consumers (send_buffer_limit)."""

import asyncio
import socket
import threading
import time

import websockets

import wshtest
from wshtest import RawWS, upgrade_request, OP_TEXT, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_CLOSE, \
    encode_frame

wshtest.require_daemon()
wshtest.overall_alarm(180)
rep = wshtest.Report()


def echo_ok(ws, text="ping?"):
    ws.send_text(text)
    m = ws.recv_message(5)
    return m == (OP_TEXT, text.encode())


def read_head(s, timeout):
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            return None
        if not chunk:
            return buf or b"EOF"
        buf += chunk
    return buf


# ---- max_connections
with wshtest.Daemon(max_connections=3) as d:
    def max_conn():
        held = [RawWS(d.port, "/echo") for _ in range(3)]
        try:
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            s.sendall(upgrade_request("/echo"))
            early = read_head(s, 1.0)
            if early is not None:
                return "4th connection was answered at the limit: %r" % early[:200]
            if not all(echo_ok(w) for w in held):
                return "held connections stopped working at the limit"
            # free one slot: the waiting connection gets its 101
            held[0].send_close(1000)
            held[0].expect_close(3)
            held[0].close()
            head = read_head(s, 5.0)
            if head is None or not head.startswith(b"HTTP/1.1 101"):
                return "after a slot freed the 4th got %r" % (head[:200] if head else head,)
            s.close()
        finally:
            for w in held:
                w.close()
    rep.run("max_connections: the 4th waits (not refused) and is served when one closes",
            max_conn)

# ---- handshake timeout
with wshtest.Daemon(handshake_timeout="1s") as d:
    def closed_within(sock, lo, hi):
        t0 = time.monotonic()
        sock.settimeout(hi)
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
        except socket.timeout:
            return "still open after %.1fs" % hi
        except ConnectionResetError:
            pass
        dt = time.monotonic() - t0
        if dt < lo:
            return "closed after %.2fs, too early" % dt
        return None

    def silent():
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        try:
            return closed_within(s, 0.5, 4.0)
        finally:
            s.close()
    rep.run("handshake_timeout: a silent TCP connection is closed (~1s)", silent)

    def partial():
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        try:
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
            return closed_within(s, 0.5, 4.0)
        finally:
            s.close()
    rep.run("handshake_timeout: a partial request head is closed (~1s)", partial)

    def trickle():
        # bytes keep coming, but the head never completes in time
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        try:
            t0 = time.monotonic()
            s.sendall(b"GET /echo HTTP/1.1\r\n")
            while time.monotonic() - t0 < 4.0:
                try:
                    s.sendall(b"X-A: b\r\n")
                except OSError:
                    break
                s.settimeout(0.2)
                try:
                    if not s.recv(4096):
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
            else:
                return "a trickling head kept the connection open for 4s"
        finally:
            s.close()
    rep.run("handshake_timeout: a trickling head is cut off too", trickle)

    def established_survives():
        with RawWS(d.port, "/echo") as ws:
            time.sleep(2.0)
            if not echo_ok(ws):
                return "an established WebSocket was closed by the handshake timeout"
    rep.run("handshake_timeout does not apply after the upgrade", established_survives)

# ---- idle timeout
with wshtest.Daemon(idle_timeout="1s", ping_interval=0) as d:
    def idle():
        with RawWS(d.port, "/echo") as ws:
            t0 = time.monotonic()
            code, reason, frames = ws.expect_close(4.0)
            dt = time.monotonic() - t0
            if code != 1001:
                return "expected close 1001, got %r %r (frames %r)" % (code, reason, frames)
            if reason != b"idle timeout":
                return "close reason %r, expected 'idle timeout'" % (reason,)
            if dt < 0.7:
                return "closed after %.2fs, before idle_timeout" % dt
            if frames:
                return "unexpected frames before the close: %r" % frames
            ws.send_close(1001)
            if not ws.wait_eof(3):
                return "TCP not closed after the close handshake"
    rep.run("idle_timeout: a silent client is closed with 1001 'idle timeout'", idle)

    def busy():
        with RawWS(d.port, "/echo") as ws:
            for _ in range(8):
                time.sleep(0.4)
                if not echo_ok(ws):
                    return "an active client was closed"
    rep.run("idle_timeout: an active client is not closed", busy)

    def ping_counts():
        with RawWS(d.port, "/echo") as ws:
            for _ in range(6):
                time.sleep(0.4)
                ws.send_frame(OP_PING, b"keepalive")
                f = ws.recv_frame(3)
                if f is None or f.opcode != OP_PONG:
                    return "expected pong, got %r" % (f,)
    rep.run("idle_timeout: client pings count as activity", ping_counts)

# ---- ping interval
with wshtest.Daemon(ping_interval="1s", idle_timeout=0) as d:
    def server_ping():
        with RawWS(d.port, "/echo") as ws:
            t0 = time.monotonic()
            f = ws.recv_frame(4.0)
            dt = time.monotonic() - t0
            if f is None or f.opcode != OP_PING:
                return "expected a ping, got %r" % (f,)
            if f.masked or not f.fin or len(f.payload) > 125:
                return "malformed server ping %r" % (f,)
            if dt < 0.7:
                return "ping after %.2fs, before ping_interval" % dt
            ws.send_frame(OP_PONG, f.payload)
            if not echo_ok(ws):
                return "connection unusable after ping/pong"
    rep.run("ping_interval: a silent client receives a server ping", server_ping)

    def ping_timeout():
        with RawWS(d.port, "/echo") as ws:
            f = ws.recv_frame(4.0)
            if f is None or f.opcode != OP_PING:
                return "expected a ping, got %r" % (f,)
            t0 = time.monotonic()
            # Never answer: the server must give up one interval later.
            f = ws.recv_frame(4.0)
            dt = time.monotonic() - t0
            if f is None or f.opcode != OP_CLOSE or f.close_code() != 1011:
                return "expected close 1011 after an unanswered ping, got %r" % (f,)
            if dt < 0.7:
                return "closed %.2fs after the ping, before ping_interval" % dt
    rep.run("ping_interval: an unanswered ping closes with 1011", ping_timeout)

# ---- frame and message size limits
with wshtest.Daemon(max_frame_size="64k", max_message_size="256k") as d:
    def expect_1009(send):
        with RawWS(d.port, "/echo") as ws:
            send(ws)
            code, reason, frames = ws.expect_close(5)
            if code != 1009:
                return "expected close 1009, got %r %r (after %d frames)" % (code, reason,
                                                                           len(frames))
            ws.send_close(1009)
            ws.wait_eof(2)

    rep.run("frame of max_frame_size+1 bytes -> 1009",
            lambda: expect_1009(lambda ws: ws.send_binary(b"\x00" * (65536 + 1))))
    rep.run("frame header announcing 2^40 bytes -> 1009 at once",
            lambda: expect_1009(lambda ws: ws.send_raw(
                encode_frame(OP_BINARY, b"", length=1 << 40)[:14])))
    rep.run("message of 5 x 64 KiB fragments (> max_message_size) -> 1009",
            lambda: expect_1009(lambda ws: [ws.send_frame(
                OP_BINARY if i == 0 else OP_CONT, b"a" * 65536, fin=(i == 4))
                for i in range(5)]))
    rep.run("text message over the limit -> 1009",
            lambda: expect_1009(lambda ws: [ws.send_frame(
                OP_TEXT if i == 0 else OP_CONT, b"a" * 60000, fin=(i == 9))
                for i in range(10)]))

    def at_limits():
        with RawWS(d.port, "/echo") as ws:
            ws.send_binary(b"\x01" * 65536)
            m = ws.recv_message(5)
            if m != (OP_BINARY, b"\x01" * 65536):
                return "64 KiB frame (== max_frame_size) not echoed: %r" % (m and m[0],)
            for i in range(4):
                ws.send_frame(OP_BINARY if i == 0 else OP_CONT, b"\x02" * 65536, fin=(i == 3))
            m = ws.recv_message(5)
            if m != (OP_BINARY, b"\x02" * (256 << 10)):
                return "256 KiB message (== max_message_size) not echoed: %r" % (m and m[0],)
    rep.run("frame == max_frame_size and message == max_message_size are accepted", at_limits)

# ---- slow consumer
with wshtest.Daemon(send_buffer_limit="1M") as d:
    def slow_consumer():
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.settimeout(5)
        slow.connect(("127.0.0.1", d.port))
        slow.sendall(upgrade_request("/broadcast"))
        head = read_head(slow, 5)
        if not head or not head.startswith(b"HTTP/1.1 101"):
            return "slow client handshake failed: %r" % head
        rss0 = d.rss_kib()
        peak = [rss0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                r = d.rss_kib()
                if r:
                    peak[0] = max(peak[0], r)
                time.sleep(0.05)
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        COUNT, SIZE = 400, 64 << 10

        async def fast():
            url = d.url("/broadcast")
            kw = dict(max_size=None, compression=None, ping_interval=None, open_timeout=5)
            async with websockets.connect(url, **kw) as a, websockets.connect(url, **kw) as b:
                got = {"a": [], "b": []}

                async def rd(name, ws):
                    while len(got[name]) < COUNT:
                        got[name].append(await ws.recv())

                readers = [asyncio.create_task(rd("a", a)), asyncio.create_task(rd("b", b))]
                # pace the producer so that readers which do read are never more
                # than WINDOW messages (well under send_buffer_limit) behind
                WINDOW = 4
                for i in range(COUNT):
                    t_end = time.monotonic() + 20
                    while i - min(len(got["a"]), len(got["b"])) >= WINDOW:
                        if time.monotonic() > t_end or any(r.done() for r in readers):
                            break
                        await asyncio.sleep(0.001)
                    await a.send(i.to_bytes(4, "big") + b"\xab" * (SIZE - 4))
                await asyncio.wait_for(asyncio.gather(*readers), 60)
                for name in ("a", "b"):
                    seq = [int.from_bytes(m[:4], "big") for m in got[name]]
                    if seq != list(range(COUNT)) or any(len(m) != SIZE for m in got[name]):
                        return "fast client %s did not get all %d messages in order" % (
                            name, COUNT)
        try:
            r = asyncio.run(asyncio.wait_for(fast(), 90))
        finally:
            stop.set()
            th.join(2)
        if r:
            return r
        growth = (peak[0] - rss0) / 1024.0
        # now drain the slow socket: it must have been disconnected
        received = 0
        closed = False
        slow.settimeout(5)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            try:
                chunk = slow.recv(1 << 20)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += len(chunk)
        slow.close()
        rep.note("slow consumer: received %d bytes before the close; RSS %d KiB -> peak "
                 "%d KiB (+%.1f MiB)" % (received, rss0, peak[0], growth))
        if not closed:
            return "slow client was not disconnected (read %d bytes, still open)" % received
        if received >= COUNT * SIZE:
            return "slow client got everything: it was never cut off"
        if growth >= wshtest.rss_bound(64 * 1024) / 1024:
            return "daemon RSS grew by %.1f MiB (bound %d MiB)" % (
                growth, wshtest.rss_bound(64 * 1024) / 1024)
    rep.run("slow consumer on /broadcast is disconnected; others get everything; "
            "RSS bounded", slow_consumer)

    def alive():
        with RawWS(d.port, "/echo") as ws:
            return None if echo_ok(ws) else "echo failed"
    rep.run("daemon still serves after the slow consumer", alive)
rep.done()
