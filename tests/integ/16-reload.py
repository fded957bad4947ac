#!/usr/bin/python3
"""Live reload (wshubctl reload and SIGHUP) while clients stay connected and
messages flow: no connection lost, no message lost. Good configs apply
routes, limits, log level, listeners added and removed; broken configs are
refused with FILE:LINE and change nothing; what cannot be applied live is
reported."""

import json
import os
import signal
import subprocess
import threading
import time

import wshtest
from wshtest import RawWS, OP_TEXT

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()

WSHUBCTL = os.path.join(os.path.dirname(wshtest.daemon_path()), "wshubctl")
NSUBS = 5


def ctl(d, *args):
    r = subprocess.run([WSHUBCTL, "-s", d.admin, "--json"] + list(args),
                       capture_output=True, timeout=20)
    out = r.stdout.decode()
    return r.returncode, (json.loads(out) if out.strip() else None), r.stderr.decode()


def write_config(d, text=None):
    with open(d.conf, "w") as f:
        f.write(text if text is not None else wshtest.render_config(d.opts))


class Traffic:
    """A publisher sending numbered messages on channel "feed" through a
    WebSocket, and subscribers checking they get every number in order."""

    def __init__(self, d):
        self.d = d
        self.subs = [RawWS(d.port, "/ws/feed") for _ in range(NSUBS)]
        self.pub = RawWS(d.port, "/ws/feed")
        self.sent = 0
        self.stop = threading.Event()
        self.errors = []
        self.got = [0] * NSUBS
        self.threads = [threading.Thread(target=self.publish, daemon=True)]
        for i in range(NSUBS):
            self.threads.append(threading.Thread(target=self.receive, args=(i,),
                                                 daemon=True))
        for t in self.threads:
            t.start()

    def publish(self):
        while not self.stop.is_set():
            if not self.pub.send_text(str(self.sent + 1)):
                self.errors.append("publisher connection lost at %d" % self.sent)
                return
            self.sent += 1
            time.sleep(0.003)

    def receive(self, i):
        ws = self.subs[i]
        while True:
            try:
                m = ws.recv_message(3)
            except Exception:
                if self.stop.is_set() and self.got[i] == self.sent:
                    return
                if self.stop.is_set():
                    self.errors.append("sub %d: timed out at %d of %d" %
                                       (i, self.got[i], self.sent))
                    return
                continue
            if m is None:
                self.errors.append("sub %d: connection lost after %d" % (i, self.got[i]))
                return
            n = int(m[1])
            if n != self.got[i] + 1:
                self.errors.append("sub %d: got %d after %d" % (i, n, self.got[i]))
                return
            self.got[i] = n
            if self.stop.is_set() and n == self.sent:
                return

    def finish(self):
        self.stop.set()
        self.threads[0].join(5)
        for t in self.threads[1:]:
            t.join(10)
        return self.errors


d = wshtest.Daemon(admin_socket="admin.sock", log_level="info")
d.start()
d.admin = os.path.join(d.tmp, "admin.sock")
try:
    traffic = Traffic(d)
    bcast = RawWS(d.port, "/broadcast")
    time.sleep(0.3)

    def good_reload():
        port2 = wshtest.free_port()
        d.port2 = port2
        d.opts["listeners"] = d.opts["listeners"] + [{"address": "127.0.0.1", "port": port2}]
        d.opts["routes"] = [r for r in wshtest.DEFAULT_ROUTES
                            if r["path"] != "/broadcast"] + [{"path": "/new", "handler": "echo"}]
        d.opts["log_level"] = "notice"
        d.opts["max_connections"] = 500
        d.opts["send_buffer_limit"] = "8M"
        d.opts["user"] = "nobody"
        write_config(d)
        rc, j, err = ctl(d, "reload")
        if rc != 0:
            return "reload failed: %r %r" % (j, err)
        applied = " ".join(str(x) for x in j["applied"])
        for want in ["log_level", "max_connections", "send_buffer_limit",
                     "route /new added", "route /broadcast removed",
                     "listening on 127.0.0.1:%d" % port2]:
            if want not in applied:
                return "%r not in applied: %r" % (want, j)
        whats = [x["what"] for x in j["not_applied"]]
        if "user" not in whats:
            return "user change not reported: %r" % j
        # the new listener and route work
        ws = RawWS(port2, "/new")
        ws.send_text("on the new port")
        ok = ws.recv_message(5) == (OP_TEXT, b"on the new port")
        ws.close()
        if not ok:
            return "new listener/route does not echo"
        # the removed route takes no new connections ...
        r = wshtest.http_request(d.port, wshtest.upgrade_request("/broadcast"))
        if r is None or r.status != 404:
            return "removed route still upgrades: %r" % r
        # ... but its open connection still works
        bcast.send_text("still here")
        if bcast.recv_message(5) != (OP_TEXT, b"still here"):
            return "connection on the removed route broke"
        rc, j, err = ctl(d, "loglevel")
        if j["log_level"] != "notice":
            return "log level not applied: %r" % j
        rc, j, err = ctl(d, "stats")
        routes = [r["route"] for r in j["routes"]]
        if "/broadcast (retired)" not in routes or "/new" not in routes:
            return "stats routes %r" % routes
    rep.run("good config: listener and route added, route removed, limits and "
            "log level applied, user change reported", good_reload)

    def broken_reload():
        write_config(d, wshtest.render_config(d.opts) + "\nmax_connections = ;\n")
        rc, j, err = ctl(d, "reload")
        if rc != 1 or j is None or j.get("code") != "invalid_config":
            return "syntax error: rc %d %r" % (rc, j)
        nlines = len(wshtest.render_config(d.opts).splitlines())
        if ("wshubd.conf:%d" % (nlines + 2)) not in j["error"]:
            return "no file:line: %r" % j["error"]
        bad = dict(d.opts)
        bad["max_connections"] = 0
        write_config(d, wshtest.render_config(bad))
        rc, j, err = ctl(d, "reload")
        if rc != 1 or "max_connections" not in j["error"] or "wshubd.conf:" not in j["error"]:
            return "range error: %r" % j
        # the old config is still in force: the second port still serves /new
        ws = RawWS(d.port2, "/new")
        ws.close()
        rc, j, err = ctl(d, "stats")
        if j["reload_failures"] != 2:
            return "failures not counted: %r" % j["reload_failures"]
        if "reload failed, still running on the old configuration" not in d.stderr_text():
            return "failure not logged"
    rep.run("broken configs are refused with FILE:LINE; the old one stays", broken_reload)

    def sighup_reload():
        d.opts["listeners"] = d.opts["listeners"][:1]     # drop the second port
        d.opts["log_level"] = "info"
        write_config(d)
        rc, j, err = ctl(d, "stats")
        before = j["reloads"]
        d.send_signal(signal.SIGHUP)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            rc, j, err = ctl(d, "stats")
            if j["reloads"] == before + 1:
                break
            time.sleep(0.1)
        else:
            return "SIGHUP did not reload"
        if wshtest.wait_port(d.port2, 0.5):
            return "removed listener still accepts"
        if j["log_level"] != "info":
            return "log level %r" % j["log_level"]
    rep.run("SIGHUP reloads; a removed listener stops accepting", sighup_reload)

    def handler_change():
        d.opts["routes"] = [r if r["path"] != "/echo" else {"path": "/echo", "handler": "broadcast"}
                            for r in d.opts["routes"]]
        old = RawWS(d.port, "/echo")
        write_config(d)
        rc, j, err = ctl(d, "reload")
        if rc != 0 or "route /echo" not in j["new_connections_only"]:
            return "handler change not reported: %r" % j
        # the open connection keeps the echo handler; a new one gets broadcast
        new = RawWS(d.port, "/echo")
        old.send_text("old handler")
        a = old.recv_message(5)
        new.send_text("new handler")
        b = new.recv_message(5)
        old.close()
        new.close()
        if a != (OP_TEXT, b"old handler") or b != (OP_TEXT, b"new handler"):
            return "handlers %r %r" % (a, b)
    rep.run("a route's handler change applies to new connections only", handler_change)

    def frame_limit_live():
        # Frame limits apply to open connections at once, as documented.
        ws = RawWS(d.port, "/new")
        ws.send_text("x" * 3000)
        if ws.recv_message(5) != (OP_TEXT, b"x" * 3000):
            return "3000-byte frame not echoed before the reload"
        d.opts["max_frame_size"] = "2K"
        write_config(d)
        rc, j, err = ctl(d, "reload")
        if rc != 0 or "max_frame_size" not in " ".join(str(x) for x in j["applied"]):
            return "max_frame_size not applied: %r %r" % (j, err)
        ws.send_text("y" * 2000)
        if ws.recv_message(5) != (OP_TEXT, b"y" * 2000):
            return "a frame under the new limit was refused"
        ws.send_text("z" * 3000)
        code, reason, _ = ws.expect_close(5)
        ws.close()
        del d.opts["max_frame_size"]
        write_config(d)
        rc, j, err = ctl(d, "reload")
        if rc != 0:
            return "reload back failed: %r %r" % (j, err)
        if code != 1009:
            return "open connection: frame over the new limit got %r %r" % (
                code, reason)
    rep.run("a lower max_frame_size applies to open connections", frame_limit_live)

    def no_loss():
        time.sleep(0.3)
        errors = traffic.finish()
        if errors:
            return "; ".join(errors)
        if traffic.sent < 50 or traffic.got != [traffic.sent] * NSUBS:
            return "sent %d got %r" % (traffic.sent, traffic.got)
        rep.note("%d messages to each of %d subscribers across 5 reloads" %
                 (traffic.sent, NSUBS))
    rep.run("no connection lost, no message lost, in order", no_loss)

    def retired_freed():
        bcast.send_close(1000)
        bcast.expect_close(5)
        bcast.close()
        time.sleep(0.3)
        rc, j, err = ctl(d, "stats")
        if any("retired" in r["route"] for r in j["routes"]):
            return "retired route not freed: %r" % j["routes"]
    rep.run("a retired route is freed with its last connection", retired_freed)
finally:
    d.stop()
    d.cleanup()
rep.done()
