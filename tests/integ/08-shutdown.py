#!/usr/bin/python3
"""Graceful shutdown: SIGTERM/SIGINT -> close 1001 to every client, exit 0
within shutdown_timeout (+ slack), even when a client never answers."""

import signal
import socket
import threading
import time

import wshtest
from wshtest import RawWS, OP_TEXT, OP_CLOSE

wshtest.require_daemon()
wshtest.overall_alarm(90)
rep = wshtest.Report()
SHUTDOWN = 2.0
SLACK = 2.0


def scenario(sig, n_polite, n_deaf, label):
    d = wshtest.Daemon(shutdown_timeout="%gs" % SHUTDOWN, check_exit=False).start()
    polite, deaf = [], []
    try:
        for i in range(n_polite):
            ws = RawWS(d.port, "/echo" if i % 2 == 0 else "/broadcast")
            ws.send_text("hello %d" % i)
            if ws.recv_message(5) is None:
                return "client %d: no echo before shutdown" % i
            polite.append(ws)
        if "/broadcast" in [w.path for w in polite]:
            # broadcast clients may have received each other's hello: drain
            time.sleep(0.2)
        for _ in range(n_deaf):
            deaf.append(RawWS(d.port, "/echo"))

        results = [None] * len(polite)

        def answer(i, ws):
            deadline = time.monotonic() + SHUTDOWN + SLACK
            while True:
                try:
                    f = ws.recv_frame(max(0.01, deadline - time.monotonic()))
                except socket.timeout:
                    results[i] = "no close frame"
                    return
                if f is None:
                    results[i] = "TCP closed without a close frame"
                    return
                if f.opcode == OP_CLOSE:
                    code = f.close_code()
                    ws.send_close(1001)
                    # the server closes TCP after the close handshake; then so do we
                    if not ws.wait_eof(SHUTDOWN + SLACK):
                        results[i] = "TCP not closed by the server after the close handshake"
                    else:
                        results[i] = code
                    ws.close()
                    return
                if f.opcode != OP_TEXT:
                    results[i] = "unexpected frame %r" % f
                    return

        threads = [threading.Thread(target=answer, args=(i, w), daemon=True)
                   for i, w in enumerate(polite)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        d.send_signal(sig)
        rc = d.wait(SHUTDOWN + SLACK + 0.5)
        dt = time.monotonic() - t0
        for t in threads:
            t.join(SHUTDOWN + SLACK)
        problems = []
        bad = [(i, r) for i, r in enumerate(results) if r != 1001]
        if bad:
            problems.append("clients without close 1001: %r" % bad)
        for i, ws in enumerate(deaf):
            # the deaf client got its close frame too (it just never answered)
            code, reason, frames = ws.expect_close(0.5)
            if code != 1001:
                problems.append("deaf client %d: close %r %r" % (i, code, reason))
        if rc is None:
            problems.append("daemon still running %.1fs after %s" % (dt, label))
        elif rc != 0:
            problems.append("daemon exited with status %r" % rc)
        elif dt > SHUTDOWN + SLACK:
            problems.append("daemon took %.2fs to exit (bound %.1fs)" % (dt, SHUTDOWN + SLACK))
        elif n_deaf == 0 and dt > 1.0:
            problems.append("every client completed the close handshake, yet the daemon "
                            "took %.2fs to exit (expected well under shutdown_timeout)" % dt)
        rep.note("%s: exit status %r after %.2fs" % (label, rc, dt))
        if problems:
            d.failed = True
            d.dump_stderr()
        return "\n".join(problems) or None
    finally:
        for w in polite + deaf:
            w.close()
        d.cleanup()


rep.run("SIGTERM: 10 clients each get close 1001, daemon exits 0 in time",
        scenario, signal.SIGTERM, 10, 0, "SIGTERM")
rep.run("SIGTERM: a client that never answers the close does not delay exit past the bound",
        scenario, signal.SIGTERM, 10, 1, "SIGTERM with a deaf client")
rep.run("SIGINT: close 1001 and exit 0", scenario, signal.SIGINT, 2, 0, "SIGINT")


def idle_exit():
    d = wshtest.Daemon(shutdown_timeout="%gs" % SHUTDOWN, check_exit=False).start()
    try:
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        rc = d.wait(SHUTDOWN + SLACK)
        dt = time.monotonic() - t0
        if rc != 0:
            d.dump_stderr()
            return "exit status %r after %.2fs" % (rc, dt)
        if dt > 1.0:
            return "with no clients, exit took %.2fs" % dt
    finally:
        d.cleanup()
rep.run("SIGTERM with no clients: prompt exit 0", idle_exit)


def refuses_after():
    d = wshtest.Daemon(shutdown_timeout="%gs" % SHUTDOWN, check_exit=False).start()
    try:
        deaf = RawWS(d.port, "/echo")
        d.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            ws = RawWS(d.port, "/echo", timeout=2)
            ws.close()
            return "a new WebSocket was accepted during shutdown"
        except (OSError, wshtest.HandshakeError):
            pass
        finally:
            rc = d.wait(SHUTDOWN + SLACK)
            deaf.close()
        if rc != 0:
            return "exit status %r" % rc
    finally:
        d.cleanup()
rep.run("no new WebSockets are accepted while shutting down", refuses_after)
rep.done()
