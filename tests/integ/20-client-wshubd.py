#!/usr/bin/python3
"""The wshub client against wshubd: pub/sub on wshub.v1 through a daemon
restart. The client reconnects with jittered exponential backoff (the
waits are checked against their bounds), resubscribes by itself, hears
that the epoch changed, and receives what is published afterwards."""

import os
import re
import subprocess
import tempfile
import time

import wshtest
from wshclient import cli_path, run_cli

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()
tmp = tempfile.mkdtemp(prefix="wshclient-d-")
out_f = open(os.path.join(tmp, "out"), "w+b")
err_f = open(os.path.join(tmp, "err"), "w+b")


def text(f):
    f.flush()
    with open(f.name, "rb") as g:
        return g.read().decode("utf-8", "replace")


def wait_text(f, pattern, secs=10):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if re.search(pattern, text(f), re.M):
            return True
        time.sleep(0.05)
    return False


ROUTES = wshtest.DEFAULT_ROUTES + [
    {"path": "/ps", "handler": "pubsub", "allow_publish": True,
     "protocols": ["wshub.v1"]}]
d = wshtest.Daemon(routes=ROUTES).start()
port = d.port
sub = subprocess.Popen([cli_path(), "sub", "-v", "--backoff", "100:1600:20",
                        "ws://127.0.0.1:%d/ps" % port, "news"],
                       stdout=out_f, stderr=err_f, stdin=subprocess.DEVNULL)
try:
    rep.check("subscriber connected", wait_text(err_f, r"connected to .*wshub\.v1"),
              text(err_f))
    rep.check("subscribe acknowledged", wait_text(err_f, r"ack: .*\"seq\""), text(err_f))
    for i in range(1, 4):
        rc, o, e = run_cli(["pub", "http://127.0.0.1:%d/pub/news" % port, "before-%d" % i])
        rep.check("HTTP publish %d" % i, rc == 0, o + e)
    rep.check("messages arrive with channel and seq",
              wait_text(out_f, r"^news 3 before-3$"), text(out_f))
    rc, o, e = run_cli(["pub", "ws://127.0.0.1:%d/ps" % port, "news", "via-ws"])
    rep.check("publish over wshub.v1 acked", rc == 0 and '"op":"ack"' in o, o + e)
    rep.check("and delivered", wait_text(out_f, r"^news 4 via-ws$"), text(out_f))

    d.stop()
    time.sleep(2.5)
    d2 = wshtest.Daemon(routes=ROUTES)
    d2.port = port
    d2.opts["listeners"] = [{"address": "127.0.0.1", "port": port}]
    d2.start()
    try:
        rep.check("reconnected after the restart",
                  wait_text(err_f, r"connected to .*\n(.*\n)*.*connected to", 15),
                  text(err_f))
        waits = [(int(r), int(w)) for r, w in
                 re.findall(r"retries (\d+), next in (\d+) ms", text(err_f))]
        rep.check("several failed attempts while the daemon was down",
                  len(waits) >= 3, repr(waits))
        ok = True
        for r, w in waits:
            base = min(100 * 2 ** (r - 1), 1600)
            if not (base * 0.8 - 1 <= w <= base):
                ok = False
        rep.check("each wait within [0.8, 1] x 100 ms doubling, capped at 1.6 s",
                  ok and len({w for r, w in waits}) > 1, repr(waits))
        rep.check("recovery answered: epoch changed (history did not survive)",
                  wait_text(err_f, r"gap: .*epoch changed"), text(err_f))
        rc, o, e = run_cli(["pub", "http://127.0.0.1:%d/pub/news" % port, "after"])
        rep.check("message after the restart delivered",
                  rc == 0 and wait_text(out_f, r"^news 1 after$"), text(out_f))
    finally:
        sub.terminate()
        sub.wait(10)
        d2.stop()
        d2.cleanup()
finally:
    if sub.poll() is None:
        sub.kill()
    d.cleanup()
rep.done()
