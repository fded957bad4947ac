#!/usr/bin/python3
"""Admin socket and wshubctl: every command against a daemon with live
connections, bad commands, permissions (SO_PEERCRED), table and --json
output, exit codes, interactive mode on stdin and on a pty."""

import base64
import json
import os
import pty
import select
import socket
import subprocess
import time

import wshtest
from wshtest import RawWS, OP_TEXT, OP_BINARY

wshtest.require_daemon()
wshtest.overall_alarm(120)
rep = wshtest.Report()

WSHUBCTL = os.path.join(os.path.dirname(wshtest.daemon_path()), "wshubctl")


def ctl(d, *args, stdin=None, json_out=False, sock=None, env=None):
    cmd = [WSHUBCTL, "-s", sock or d.admin]
    if json_out:
        cmd.append("--json")
    cmd += list(args)
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=20,
                       env=env)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def jctl(d, *args):
    rc, out, err = ctl(d, *args, json_out=True)
    try:
        return rc, json.loads(out) if out.strip() else None
    except ValueError:
        raise AssertionError("not JSON: %r (stderr %r)" % (out, err))


def raw_session(path):
    """A raw admin session: returns (socket file, greeting line)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    f = s.makefile("rwb")
    return s, f, f.readline().decode()


def raw_cmd(f, line):
    f.write(line.encode() + b"\n")
    f.flush()
    ans = f.readline().decode().rstrip("\n")
    word, _, rest = ans.partition(" ")
    return word, json.loads(rest) if rest else None


d = wshtest.Daemon(admin_socket="admin.sock", log_level="info")
d.start()
d.admin = os.path.join(d.tmp, "admin.sock")
try:
    sub = RawWS(d.port, "/ws/news,sports")
    echo = RawWS(d.port, "/echo")
    bc = RawWS(d.port, "/broadcast")
    sub_id = sub.response.header("wshub-connection-id")
    echo_id = echo.response.header("wshub-connection-id")
    bc_id = bc.response.header("wshub-connection-id")

    # ---- the protocol itself
    def greeting():
        s, f, hello = raw_session(d.admin)
        try:
            word, _, rest = hello.partition(" ")
            info = json.loads(rest)
            if word != "hello" or info.get("protocol") != 1:
                return "bad greeting %r" % hello
            w, v = raw_cmd(f, "version")
            if w != "ok" or v["protocol"] != 1 or v["server"] != "wshubd":
                return "version: %r %r" % (w, v)
            w, v = raw_cmd(f, "frobnicate now")
            if w != "err" or v["code"] != "unknown_command":
                return "unknown command: %r %r" % (w, v)
            w, v = raw_cmd(f, "")
            if w != "err":
                return "empty line accepted: %r" % v
            w, v = raw_cmd(f, "kick")
            if w != "err" or v["code"] != "usage" or "usage:" not in v["error"]:
                return "missing argument: %r %r" % (w, v)
            w, v = raw_cmd(f, "stats extra args")
            if w != "err" or v["code"] != "usage":
                return "extra arguments: %r %r" % (w, v)
            # several commands pipelined in one write, answered in order
            f.write(b"version\nloglevel\nversion\n")
            f.flush()
            answers = [f.readline().decode().split(" ", 1)[0] for _ in range(3)]
            if answers != ["ok", "ok", "ok"]:
                return "pipelined: %r" % answers
            w, v = raw_cmd(f, "quit")
            if w != "ok" or f.readline() != b"":
                return "quit did not end the session"
        finally:
            s.close()
    rep.run("greeting, versioned protocol, bad commands get one error line", greeting)

    def help_cmd():
        rc, out, err = ctl(d, "help")
        for c in ["stats", "conns", "conn ID", "channels", "channel NAME",
                  "send", "broadcast", "publish", "kick", "reload",
                  "loglevel", "shutdown", "help", "version"]:
            if c not in out:
                return "help lacks %s:\n%s" % (c, out)
        rc, j = jctl(d, "help", "kick")
        if rc != 0 or j["usage"] != "kick ID [CODE [REASON]]":
            return "help kick: %r" % j
        rc, out, err = ctl(d, "help", "nosuch")
        if rc != 1 or "no such command" not in err:
            return "help nosuch: rc %d %r" % (rc, err)
    rep.run("help lists every command from the table", help_cmd)

    def stats():
        rc, out, err = ctl(d, "stats")
        if rc != 0 or "connections" not in out or "/echo" not in out:
            return "stats table: rc %d\n%s%s" % (rc, out, err)
        # aligned: the routes table has a header row
        if "ROUTE" not in out or "HANDLER" not in out:
            return "no routes table:\n" + out
        rc, j = jctl(d, "stats")
        if j["websockets"] != 3 or j["connections"] < 3:
            return "counts: %r" % j
        routes = {r["route"]: r["connections"] for r in j["routes"]}
        if routes.get("/echo") != 1 or routes.get("/ws/*") != 1:
            return "per route: %r" % routes
    rep.run("stats as a table and as JSON", stats)

    def conns():
        rc, j = jctl(d, "conns")
        ids = {c["id"]: c for c in j["connections"]}
        if set(ids) != {sub_id, echo_id, bc_id}:
            return "ids %r vs %r" % (list(ids), [sub_id, echo_id, bc_id])
        c = ids[sub_id]
        for k in ["peer", "route", "protocol", "tls", "user", "channels",
                  "msgs_in", "bytes_in", "msgs_out", "bytes_out", "queued", "age"]:
            if k not in c:
                return "missing %s in %r" % (k, c)
        if sorted(c["channels"]) != ["news", "sports"] or c["protocol"] != "h1":
            return "row %r" % c
        rc, j = jctl(d, "conns", "/echo")
        if [c["id"] for c in j["connections"]] != [echo_id]:
            return "route filter %r" % j
        rc, j = jctl(d, "conns", "news")
        if [c["id"] for c in j["connections"]] != [sub_id]:
            return "channel filter %r" % j
        rc, out, err = ctl(d, "conns")
        lines = out.splitlines()
        hdr = [l for l in lines if l.startswith("ID")]
        if not hdr or sub_id not in out:
            return "table:\n" + out
        # columns line up: every row starts its PEER column where the header does
        col = hdr[0].index("PEER")
        rows = [l for l in lines if l[:16] in (sub_id, echo_id, bc_id)]
        if len(rows) != 3 or any(r[col - 2:col] != "  " for r in rows):
            return "misaligned:\n" + out
        rc, out, err = ctl(d, "conns", "/nosuch")
        if rc != 1 or "no such route" not in err:
            return "bad filter: %d %r" % (rc, err)
    rep.run("conns: all, by route, by channel; table aligned", conns)

    def send_publish_broadcast():
        rc, out, err = ctl(d, "send", echo_id, "hello one")
        if rc != 0 or echo.recv_message(5) != (OP_TEXT, b"hello one"):
            return "send: %d %r" % (rc, err)
        rc, j = jctl(d, "publish", "news", "two words")
        if rc != 0 or j["delivered"] != 1 or j["seq"] != 1:
            return "publish: %r" % j
        if sub.recv_message(5) != (OP_TEXT, b"two words"):
            return "subscriber did not get the publish"
        blob = bytes(range(256))
        r = subprocess.run([WSHUBCTL, "-s", d.admin, "publish", "-b", "sports", "-"],
                           input=blob, capture_output=True, timeout=10)
        if r.returncode != 0 or sub.recv_message(5) != (OP_BINARY, blob):
            return "binary publish from stdin: %r" % r
        rc, out, err = ctl(d, "publish", "news", "line one\nline two")
        if rc != 0 or sub.recv_message(5) != (OP_TEXT, b"line one\nline two"):
            return "multi-line text: %r" % err
        # the wire encoding directly: -t is base64 of text
        s, f, _ = raw_session(d.admin)
        w, v = raw_cmd(f, "publish -t news " + base64.b64encode("é ok".encode()).decode())
        s.close()
        if w != "ok" or sub.recv_message(5) != (OP_TEXT, "é ok".encode()):
            return "-t: %r %r" % (w, v)
        rc, j = jctl(d, "broadcast", "/broadcast", "to all")
        if rc != 0 or j["delivered"] != 1 or bc.recv_message(5) != (OP_TEXT, b"to all"):
            return "broadcast: %r" % j
        rc, out, err = ctl(d, "send", "00000000000000ff", "x")
        if rc != 1 or "no such" not in err:
            return "send to nobody: %d %r" % (rc, err)
        rc, out, err = ctl(d, "send", "zz", "x")
        if rc != 1 or "invalid connection id" not in err:
            return "send bad id: %d %r" % (rc, err)
        rc, out, err = ctl(d, "publish", "bad*name", "x")
        if rc != 1:
            return "bad channel accepted"
        s, f, _ = raw_session(d.admin)
        w, v = raw_cmd(f, "publish -b news !!!notbase64")
        s.close()
        if w != "err" or v["code"] != "invalid":
            return "bad base64: %r %r" % (w, v)
        rc, out, err = ctl(d, "broadcast", "/nosuch", "x")
        if rc != 1 or "no such route" not in err:
            return "broadcast bad route: %r" % err
    rep.run("send, publish (text, binary, multi-line), broadcast, and their errors",
            send_publish_broadcast)

    def channels():
        rc, j = jctl(d, "channels")
        names = {c["channel"]: c for c in j["channels"]}
        if "news" not in names or names["news"]["subscribers"] != 1:
            return "channels %r" % j
        rc, j = jctl(d, "channel", "news")
        if rc != 0 or j["seq"] < 2 or j["history"] < 2:
            return "channel news %r" % j
        rc, out, err = ctl(d, "channel", "nosuch")
        if rc != 1 or "no such channel" not in err:
            return "channel nosuch: %d %r" % (rc, err)
        rc, out, err = ctl(d, "channels")
        if "CHANNEL" not in out or "news" not in out:
            return "table:\n" + out
    rep.run("channels and channel NAME", channels)

    def conn_debug():
        rc, j = jctl(d, "conn", echo_id)
        if rc != 0 or j["id"] != echo_id or j["debug"] is not False:
            return "conn: %r" % j
        rc, j = jctl(d, "conn", echo_id, "debug", "on")
        if not isinstance(j["debug"], dict):
            return "debug on: %r" % j
        echo.send_text("abc")
        echo.recv_message(5)
        echo.send_binary(b"\x00" * 100)
        echo.recv_message(5)
        time.sleep(0.1)
        rc, j = jctl(d, "conn", echo_id)
        dbg = j["debug"]
        if dbg["in"].get("text") != 1 or dbg["in"].get("binary") != 1 or \
                dbg["largest_in"] != 100 or dbg["out"].get("text", 0) < 1:
            return "debug counts: %r" % dbg
        kinds = [(e["dir"], e["type"]) for e in dbg["recent"]]
        if ("in", "text") not in kinds or ("out", "binary") not in kinds:
            return "recent: %r" % kinds
        rc, out, err = ctl(d, "conn", echo_id)
        if "debug.recent" not in out or "DIR" not in out:
            return "table:\n" + out
        rc, j = jctl(d, "conn", echo_id, "debug", "off")
        if j["debug"] is not False:
            return "debug off: %r" % j
        rc, out, err = ctl(d, "conn", echo_id, "debug", "maybe")
        if rc != 1 or "usage" not in err:
            return "bad debug arg: %r" % err
    rep.run("conn ID with debug info switched on and off", conn_debug)

    def loglevel():
        rc, j = jctl(d, "loglevel", "debug")
        if rc != 0 or j["log_level"] != "debug" or j["was"] != "info":
            return "set: %r" % j
        rc, j = jctl(d, "loglevel")
        if j["log_level"] != "debug":
            return "get: %r" % j
        rc, out, err = ctl(d, "loglevel", "loud")
        if rc != 1 or "unknown log level" not in err:
            return "bad level: %r" % err
        jctl(d, "loglevel", "info")
    rep.run("loglevel get, set, bad", loglevel)

    def kick():
        victim = RawWS(d.port, "/echo")
        vid = victim.response.header("wshub-connection-id")
        rc, out, err = ctl(d, "kick", vid, "4001", "go away now")
        code, reason, _ = victim.expect_close(5)
        victim.close()
        if rc != 0 or code != 4001 or reason != b"go away now":
            return "kick: rc %d code %r reason %r" % (rc, code, reason)
        rc, out, err = ctl(d, "kick", echo_id, "1005")
        if rc != 1 or "invalid close code" not in err:
            return "bad code accepted: %r" % err
        rc, out, err = ctl(d, "kick", echo_id, "1000", "x" * 200)
        if rc != 1 or "reason" not in err:
            return "long reason accepted: %r" % err
    rep.run("kick with code and reason; bad code and reason refused", kick)

    def json_and_exit_codes():
        rc, out, err = ctl(d, "nosuchcommand", json_out=True)
        j = json.loads(out)
        if rc != 1 or j.get("code") != "unknown_command":
            return "json error: %d %r" % (rc, out)
        rc, out, err = ctl(d, "version", sock=os.path.join(d.tmp, "nothere.sock"))
        if rc != 3 or "cannot connect" not in err:
            return "no daemon: rc %d %r" % (rc, err)
        r = subprocess.run([WSHUBCTL, "--bogus-option"], capture_output=True)
        if r.returncode != 2:
            return "usage error exit %d" % r.returncode
    rep.run("--json errors, exit codes 1/2/3", json_and_exit_codes)

    def stdin_mode():
        rc, out, err = ctl(d, stdin=b"version\nloglevel\nnosuch\nversion\n")
        if out.count("wshubd") != 2 or "unknown command" not in err or rc != 1:
            return "stdin: rc %d\n%s\n%s" % (rc, out, err)
        rc, out, err = ctl(d, stdin=b"version\nloglevel\n")
        if rc != 0:
            return "stdin all ok: rc %d %r" % (rc, err)
    rep.run("commands read from stdin, exit 1 when one failed", stdin_mode)

    def pty_mode():
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(WSHUBCTL, [WSHUBCTL, "-s", d.admin])
        out = b""

        def read_until(token, timeout=5):
            nonlocal out
            end = time.monotonic() + timeout
            while token not in out and time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return token in out
        try:
            if not read_until(b"wshubd> "):
                return "no prompt: %r" % out
            os.write(fd, b"vers\t\n")       # completion of the command name
            if not read_until(b"admin protocol", 5) and not read_until(b"protocol  1"):
                return "completion/command failed: %r" % out
            os.write(fd, b"quit\n")
            end = time.monotonic() + 5
            while time.monotonic() < end:
                wpid, status = os.waitpid(pid, os.WNOHANG)
                if wpid:
                    return None if os.waitstatus_to_exitcode(status) == 0 else \
                        "exit status %r" % status
                read_until(b"\x00", 0.2)
            return "did not exit after quit: %r" % out
        finally:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
            os.close(fd)
    rep.run("interactive prompt on a pty with completion", pty_mode)

    def permissions():
        if os.geteuid() != 0:
            rep.note("SKIP: permission test needs root (to act as nobody)")
            return None
        # nobody must be able to reach wshubctl through every directory.
        path = os.path.dirname(os.path.abspath(WSHUBCTL))
        while path != "/":
            if not os.stat(path).st_mode & 0o001:
                rep.note("SKIP: %s is closed to other users" % path)
                return None
            path = os.path.dirname(path)
        os.chmod(d.tmp, 0o755)
        os.chmod(d.admin, 0o666)    # the file lets anyone connect ...

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)
        r = subprocess.run([WSHUBCTL, "-s", d.admin, "version"],
                           capture_output=True, timeout=10, preexec_fn=as_nobody)
        os.chmod(d.admin, 0o660)
        # ... but SO_PEERCRED says no
        if r.returncode != 4 or b"permission denied" not in r.stderr:
            return "nobody: rc %d %r" % (r.returncode, r.stderr)
        if "refused uid 65534" not in d.stderr_text():
            return "refusal not logged"
    rep.run("a user not allowed is refused by peer credentials (exit 4)", permissions)

    def still_working():
        echo.send_text("after all that")
        if echo.recv_message(5) != (OP_TEXT, b"after all that"):
            return "echo connection broke"
    rep.run("the live connections kept working throughout", still_working)

    def shutdown():
        rc, j = jctl(d, "shutdown", "2")
        if rc != 0 or not j.get("shutting_down"):
            return "shutdown: %r" % j
        code, _, _ = echo.expect_close(5)
        echo.send_close(1001)
        sub.close()
        bc.close()
        st = d.wait(8)
        if code != 1001 or st != 0:
            return "close %r exit %r" % (code, st)
        if os.path.exists(d.admin):
            return "admin socket file left behind"
    rep.run("shutdown GRACE: clients get 1001, exit 0, socket removed", shutdown)
finally:
    d.cleanup()

# An admin socket that is in use is not taken over; a stale one is.
def in_use():
    a = wshtest.Daemon(admin_socket="admin.sock").start()
    try:
        b = wshtest.Daemon(admin_socket=os.path.join(a.tmp, "admin.sock"))
        try:
            b.start()
            return "second daemon started on a socket in use"
        except RuntimeError:
            pass
        finally:
            b.cleanup()
        if "in use by a running daemon" not in b.stderr_text():
            return "no clear error: %r" % b.stderr_text()[-300:]
    finally:
        a.stop()
        a.cleanup()
rep.run("an admin socket in use is refused with a clear error", in_use)

rep.done()
