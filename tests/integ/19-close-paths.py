#!/usr/bin/python3
"""How a connection ends: closed at once after answering a close the client
started; lingering (input discarded until the client's FIN) after a close
the server started; input larger than one read budget and bursts of frames
in one segment still arrive whole (edge-triggered reads)."""

import socket
import time

import wshtest
from wshtest import RawWS, OP_TEXT, OP_BINARY, OP_CLOSE, encode_frame

wshtest.require_daemon()
wshtest.overall_alarm(60)
rep = wshtest.Report()


def read_eof(ws, timeout):
    """Wait for the server's FIN on ws's socket; True when it came."""
    ws.sock.settimeout(timeout)
    try:
        while True:
            if ws.sock.recv(4096) == b"":
                return True
    except (socket.timeout, ConnectionError):
        return False


def reset_after_send(ws):
    """Send bytes after the server's FIN: True when the server's socket
    is gone (the kernel answers with a reset), False when it still reads."""
    try:
        for _ in range(5):
            ws.sock.sendall(b"after the close")
            time.sleep(0.1)
        ws.sock.settimeout(0.3)
        ws.sock.recv(1)
    except (BrokenPipeError, ConnectionResetError):
        return True
    except (socket.timeout, OSError):
        return False
    return False


with wshtest.Daemon(idle_timeout="1s", ping_interval=0) as d:
    def client_closes():
        ws = RawWS(d.port, "/echo")
        ws.send_close(1000)
        f = ws.recv_frame(3)
        if f is None or f.opcode != OP_CLOSE:
            return "no close answer: %r" % (f,)
        # The server closes without waiting for our FIN.
        if not read_eof(ws, 2.0):
            return "no EOF after the close answer"
        if not reset_after_send(ws):
            return "the server still reads after answering our close " \
                "(it should have closed the socket)"
        ws.sock.close()
        return None
    rep.run("a close the client started: the socket is closed once the "
            "answer is written", client_closes)

    def server_closes():
        ws = RawWS(d.port, "/echo")
        # idle_timeout: the server starts the closing handshake (1001).
        f = ws.recv_frame(4)
        if f is None or f.opcode != OP_CLOSE:
            return "no close from the server: %r" % (f,)
        ws.send_close(1000)
        if not read_eof(ws, 2.0):
            return "no EOF after our close answer"
        # Lingering: what we send now is read and dropped, never reset.
        if reset_after_send(ws):
            return "the server reset the connection while lingering"
        ws.sock.close()
        return None
    rep.run("a close the server started: it lingers until the client's FIN",
            server_closes)

    def big_and_bursts():
        ws = RawWS(d.port, "/echo")
        # 1 MiB in one sendall(): many reads of the 64 KiB budget.
        big = bytes(range(256)) * 4096
        ws.send_binary(big)
        m = ws.recv_message(10)
        if m != (OP_BINARY, big):
            return "1 MiB echo came back wrong (%s)" % (
                "nothing" if m is None else "%d bytes" % len(m[1]))
        # 200 frames in one segment, then the client's close in the same.
        burst = b"".join(encode_frame(OP_TEXT, b"m%d" % i, mask=True)
                         for i in range(200))
        ws.send_raw(burst)
        for i in range(200):
            m = ws.recv_message(5)
            if m != (OP_TEXT, b"m%d" % i):
                return "burst message %d: %r" % (i, m)
        ws.send_close(1000)
        f = ws.recv_frame(3)
        if f is None or f.opcode != OP_CLOSE:
            return "no close answer after the burst"
        ws.sock.close()
        return None
    rep.run("large input and bursts arrive whole and in order", big_and_bursts)
rep.done()
