#!/usr/bin/python3
"""systemd integration without systemd as PID 1: socket activation with
named fds (systemd-socket-activate), the notify protocol on a test
NOTIFY_SOCKET (READY, STATUS, RELOADING + MONOTONIC_USEC, WATCHDOG,
STOPPING), systemd-analyze verify of the shipped units, and the privilege
drop when started as root."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import wshtest
from wshtest import RawWS, OP_TEXT

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()

WSHUBD = wshtest.daemon_path()
WSHUBCTL = os.path.join(os.path.dirname(WSHUBD), "wshubctl")
ACTIVATE = shutil.which("systemd-socket-activate")
ANALYZE = shutil.which("systemd-analyze")

version = subprocess.run([WSHUBD, "--version"], capture_output=True).stdout.decode()
HAVE_SYSTEMD = "systemd support: yes" in version


def skip(why):
    rep.note("SKIP (77): " + why)


class Notify:
    """A NOTIFY_SOCKET: a datagram socket collecting what the daemon sends."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.msgs = []

    def wait_for(self, key, timeout=5.0):
        """Wait for a datagram with line |key|=...; returns its fields."""
        end = time.monotonic() + timeout
        for m in self.msgs:
            if key in m:
                self.msgs.remove(m)
                return m
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            fields = dict(l.split("=", 1) for l in data.split("\n") if "=" in l)
            if key in fields:
                return fields
            self.msgs.append(fields)
        return None


def write_conf(tmp, opts):
    conf = os.path.join(tmp, "wshubd.conf")
    with open(conf, "w") as f:
        f.write(wshtest.render_config(opts))
    return conf


def activation_and_notify():
    if not HAVE_SYSTEMD:
        return skip("wshubd built without libsystemd")
    if ACTIVATE is None:
        return skip("systemd-socket-activate not installed")
    tmp = tempfile.mkdtemp(prefix="wshtest-sd-")
    port = wshtest.free_port()
    unbound = wshtest.free_port()
    notify = Notify(tmp)
    opts = wshtest.base_options()
    opts["log_level"] = "info"
    opts["admin_socket"] = "admin.sock"
    # The listener's own address is not bound: its name takes the socket
    # systemd passed for another port.
    opts["listeners"] = [{"address": "127.0.0.1", "port": unbound, "name": "web"}]
    opts["routes"] = wshtest.DEFAULT_ROUTES
    conf = write_conf(tmp, opts)
    errpath = os.path.join(tmp, "stderr.log")
    errf = open(errpath, "wb")
    proc = subprocess.Popen(
        [ACTIVATE, "-l", "127.0.0.1:%d" % port, "--fdname=web",
         "-E", "NOTIFY_SOCKET=" + notify.path, "-E", "WATCHDOG_USEC=400000",
         WSHUBD, "-c", conf], cwd=tmp, stdout=errf, stderr=errf)
    problems = []
    try:
        # systemd-socket-activate starts the daemon on the first connection.
        time.sleep(0.3)
        ws = RawWS(port, "/echo")
        ws.send_text("activated")
        if ws.recv_message(5) != (OP_TEXT, b"activated"):
            problems.append("no echo through the passed socket")
        ready = notify.wait_for("READY")
        if ready is None or ready.get("READY") != "1" or "STATUS" not in ready:
            problems.append("READY=1 with STATUS not received: %r" % ready)
        elif not re.search(r"\d+ connection", ready["STATUS"]):
            problems.append("STATUS without counts: %r" % ready["STATUS"])
        if wshtest.wait_port(unbound, 0.3):
            problems.append("the listener bound its own address too")
        if notify.wait_for("WATCHDOG", 2.0) is None:
            problems.append("no WATCHDOG=1 with WATCHDOG_USEC set")
        admin = os.path.join(tmp, "admin.sock")
        r = subprocess.run([WSHUBCTL, "-s", admin, "reload"], capture_output=True,
                           timeout=10)
        rel = notify.wait_for("RELOADING")
        if r.returncode != 0 or rel is None or rel.get("RELOADING") != "1":
            problems.append("RELOADING=1 not received: %r %r" % (rel, r.stderr))
        elif not re.fullmatch(r"\d+", rel.get("MONOTONIC_USEC", "")):
            problems.append("RELOADING without MONOTONIC_USEC: %r" % rel)
        else:
            now = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
            if abs(now - int(rel["MONOTONIC_USEC"])) > 10e6:
                problems.append("MONOTONIC_USEC is not CLOCK_MONOTONIC: %r" % rel)
        if notify.wait_for("READY") is None:
            problems.append("no READY=1 after the reload")
        # SIGHUP goes the same way
        proc.send_signal(signal.SIGHUP)
        if notify.wait_for("RELOADING") is None or notify.wait_for("READY") is None:
            problems.append("SIGHUP: no RELOADING/READY")
        proc.send_signal(signal.SIGTERM)
        stop = notify.wait_for("STOPPING")
        if stop is None or stop.get("STOPPING") != "1":
            problems.append("STOPPING=1 not received")
        code, _, _ = ws.expect_close(5)
        ws.send_close(1001)
        ws.wait_eof(3)
        ws.close()
        if code != 1001:
            problems.append("client got %r, not 1001" % code)
        try:
            rc = proc.wait(8)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        if rc != 0:
            problems.append("exit status %r" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        errf.close()
        if problems:
            with open(errpath, "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines()[-30:]:
                    rep.note("  " + line)
        shutil.rmtree(tmp, ignore_errors=True)
    return "; ".join(problems) or None


def admin_socket_activation():
    if not HAVE_SYSTEMD or ACTIVATE is None:
        return skip("needs libsystemd and systemd-socket-activate")
    tmp = tempfile.mkdtemp(prefix="wshtest-sd-")
    port = wshtest.free_port()
    admin = os.path.join(tmp, "passed-admin.sock")
    opts = wshtest.base_options()
    opts["admin_socket"] = admin
    opts["listeners"] = [{"address": "127.0.0.1", "port": port}]
    opts["routes"] = wshtest.DEFAULT_ROUTES
    conf = write_conf(tmp, opts)
    proc = subprocess.Popen([ACTIVATE, "-l", "127.0.0.1:%d" % port, "-l", admin,
                             "--fdname=http:admin", WSHUBD, "-c", conf], cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)
        # the first connection, on the admin socket, starts the daemon
        r = subprocess.run([WSHUBCTL, "-s", admin, "--json", "version"],
                           capture_output=True, timeout=10)
        if r.returncode != 0 or b'"wshubd"' not in r.stdout:
            return "admin over the passed socket: %r" % (r,)
        ws = RawWS(port, "/echo")
        ws.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(8)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def analyze_verify():
    if ANALYZE is None:
        return skip("systemd-analyze not installed: unit files not verified")
    units = os.path.join(wshtest.srcdir(), "systemd")
    tmp = tempfile.mkdtemp(prefix="wshtest-units-")
    try:
        # verify wants the binaries to exist: point the units at this build
        for name in ["wshubd.service", "wshubd.socket"]:
            with open(os.path.join(units, name)) as f:
                text = f.read()
            text = text.replace("/usr/sbin/wshubd", WSHUBD).replace(
                "/usr/sbin/wshubctl", WSHUBCTL)
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        r = subprocess.run([ANALYZE, "verify", "--man=no",
                            os.path.join(tmp, "wshubd.service"),
                            os.path.join(tmp, "wshubd.socket")],
                           capture_output=True, timeout=60, cwd=tmp)
        out = (r.stdout + r.stderr).decode()
        # Lines about units other than ours come from the host, not from us.
        ours = [l for l in out.splitlines() if "wshubd" in l]
        if r.returncode != 0 or ours:
            return "systemd-analyze verify (rc %d):\n%s" % (r.returncode, out)
        with open(os.path.join(units, "wshubd.service")) as f:
            svc = f.read()
        for want in ["Type=notify", "ExecReload=", "LimitNOFILE=", "ProtectSystem=strict",
                     "ProtectHome=", "PrivateTmp=", "NoNewPrivileges=yes",
                     "CapabilityBoundingSet=", "RestrictAddressFamilies=",
                     "SystemCallFilter=", "MemoryDenyWriteExecute=", "WatchdogSec="]:
            if want not in svc:
                return "wshubd.service lacks %s" % want
        for extra in ["wshubd.sysusers.conf", "wshubd.tmpfiles.conf"]:
            if not os.path.isfile(os.path.join(units, extra)):
                return "missing systemd/" + extra
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def privilege_drop():
    if os.geteuid() != 0:
        return skip("not root: the privilege drop is not exercised")
    d = wshtest.Daemon(user="nobody", group="nogroup", admin_socket="admin.sock",
                       log_level="info")
    d.start()
    try:
        os.chmod(d.tmp, 0o755)
        with open("/proc/%d/status" % d.pid) as f:
            st = f.read()
        uids = re.search(r"^Uid:\s+(.*)$", st, re.M).group(1).split()
        gids = re.search(r"^Gid:\s+(.*)$", st, re.M).group(1).split()
        groups = re.search(r"^Groups:\s*(.*)$", st, re.M).group(1).split()
        if set(uids) != {"65534"}:
            return "uids %r" % uids
        if set(gids) != {"65534"} or any(g == "0" for g in groups):
            return "gids %r groups %r" % (gids, groups)
        ws = RawWS(d.port, "/echo")
        ws.send_text("unprivileged")
        ok = ws.recv_message(5) == (OP_TEXT, b"unprivileged")
        ws.close()
        if not ok:
            return "no echo after dropping privileges"
        admin = os.path.join(d.tmp, "admin.sock")
        if os.stat(admin).st_uid != 65534:
            return "admin socket not handed to the user"
        r = subprocess.run([WSHUBCTL, "-s", admin, "version"], capture_output=True,
                           timeout=10)
        if r.returncode != 0:
            return "root cannot use the admin socket: %r" % r.stderr
        if "running as user nobody" not in d.stderr_text():
            return "drop not logged"
    finally:
        rc = d.stop()
        d.cleanup()
    if rc != 0:
        return "exit status %r" % rc


rep.run("socket activation by name; READY, STATUS, WATCHDOG, RELOADING with "
        "MONOTONIC_USEC, STOPPING on a test NOTIFY_SOCKET", activation_and_notify)
rep.run("the admin socket passed by systemd", admin_socket_activation)
rep.run("systemd-analyze verify: the shipped units are clean", analyze_verify)
rep.run("started as root with user/group: runs as nobody:nogroup after binding",
        privilege_drop)
rep.done()
