#!/usr/bin/python3
"""bench.py: `make bench` -- wshubd against nchan and Node ws, on one core each.

Every server runs pinned to core 0 (taskset -c 0) and the load generator to
core 1. The load generator is `wshub bench` (the CLI, on libwshub); the
interim one, wshbench (tests/bench/wshbench.c), still drives nchan when it
publishes by HTTP POST (`wshub bench` publishes over WebSocket only), and
all scenarios with --client wshbench. Each scenario runs --runs times;
within a run the servers take turns (wshubd, nchan, node, wshubd, ...), each
started fresh with a generated configuration on a free port, so the
machine's drift hits all of them alike. Medians are reported.

Scenarios (names for --only):
  fanout-1k      1 000 subscribers, 64-byte messages, window 64
  fanout-10k     10 000 subscribers, 64-byte messages, window 64
  fanout-1k-4k   1 000 subscribers, 4 KiB messages, window 64
  deflate-shared 1 000 permessage-deflate subscribers, 4 KiB JSON-like
                 messages: one compressed form shared by all (wshubd only)
  deflate-ctx    the same with deflate_no_context_takeover = false: every
                 delivery compressed by the connection's own compressor
  latency-1k     1 000 msg/s to 1 000 subscribers: delivery latency
  latency-100    100 msg/s to 100 subscribers, a load the peers sustain too
  idle-10k       daemon RSS per idle connection, 10 000 connections
  idle-19k       the same at 19 000 (a process may hold 20 000 files here)
  handshakes     open + handshake + close, 64 in flight; also against
                 tests/bench/floor --serve (the "floor" column): a server
                 that does nothing else, the kernel's share of a handshake
  cluster-fanout   fanout-1k across two nodes on Redis (wshubd-2n: the
                 publisher on node A, subscribers on node B) next to one
                 wshubd: the throughput cost of the Redis hop
  cluster-latency  latency-1k the same way: publish-to-delivery across
                 Redis; both skipped without redis-server or --with-redis
  cluster-latency-100  latency-100 the same way: the Redis hop's latency
                 at a load far from any limit
  floor          no server: tests/bench/floor writes to 1 000 loopback
                 sockets itself, one 64-byte message per writev: the
                 kernel's own cost per write on this machine, a floor
                 under every server's latency-1k round

`wshub bench` inflates every compressed delivery, as a real client does
(wshbench counts compressed frames without inflating them): in the deflate
scenarios its deliveries/s is bound by the client's inflate, and the figure
to compare is the daemon's CPU per delivery.

Everything is bounded: each load-generator run has a hard limit of its own
and a subprocess timeout here; servers are stopped with SIGTERM, then SIGKILL.
"""

import argparse
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NCHAN_MODULES = ["/usr/lib/nginx/modules/ngx_nchan_module.so",
                 "/usr/share/nginx/modules/ngx_nchan_module.so"]
NODE_PATH = "/usr/share/nodejs"

SCENARIOS = [
    ("fanout-1k", "fanout", {"n": 1000, "s": 64, "w": 64}),
    ("fanout-10k", "fanout", {"n": 10000, "s": 64, "w": 64}),
    ("fanout-1k-4k", "fanout", {"n": 1000, "s": 4096, "w": 64}),
    ("deflate-shared", "fanout", {"n": 1000, "s": 4096, "w": 64, "deflate": True,
                                  "conf": "deflate_no_context_takeover = true;"}),
    ("deflate-ctx", "fanout", {"n": 1000, "s": 4096, "w": 64, "deflate": True,
                               "conf": "deflate_no_context_takeover = false;"}),
    ("latency-1k", "latency", {"n": 1000, "s": 64, "rate": 1000}),
    ("latency-100", "latency", {"n": 100, "s": 64, "rate": 100}),
    ("idle-10k", "idle", {"n": 10000}),
    ("idle-19k", "idle", {"n": 19000}),
    ("handshakes", "handshakes", {"c": 64, "floor": True}),
    ("cluster-fanout", "fanout", {"n": 1000, "s": 64, "w": 64,
                                  "cluster": True}),
    ("cluster-latency", "latency", {"n": 1000, "s": 64, "rate": 1000,
                                    "cluster": True}),
    ("cluster-latency-100", "latency", {"n": 100, "s": 64, "rate": 100,
                                        "cluster": True}),
]


def log(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# process helpers

def raise_nofile():
    """Soft open-file limit up to the hard one (this process and children)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def child_setup():
    raise_nofile()
    os.setsid()     # its own group: a stop never signals us


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_port(port, timeout, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return ""


# --------------------------------------------------------------------------
# servers

class Server:
    """One server process, pinned to core 0, in its own temp directory."""

    name = "?"

    def __init__(self, pin, workdir):
        self.pin = pin
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.dir = None
        self.errpath = None

    def available(self):
        return None     # or a reason to skip

    def command(self):
        raise NotImplementedError

    def env(self):
        return None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix=self.name + "-", dir=self.workdir)
        self.port = free_port()
        cmd = self.command()
        if self.pin:
            cmd = ["taskset", "-c", "0"] + cmd
        self.errpath = os.path.join(self.dir, "stderr.log")
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=err,
                stderr=err, env=self.env(), preexec_fn=child_setup)
        if not wait_port(self.port, 10, self.proc):
            problem = self.stop()
            raise RuntimeError("%s did not start: %s" % (
                self.name, problem or tail(self.errpath)))
        time.sleep(0.1)

    @property
    def pid(self):
        return self.proc.pid    # taskset execs the server: same pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stop it; returns a problem description if it had died first."""
        problem = None
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is not None:
            problem = "%s exited by itself with %s; stderr:\n%s" % (
                self.name, describe_rc(rc), tail(self.errpath))
        else:
            # wshubd must shut down gracefully (close 1001, bounded by its
            # shutdown_timeout); a peer is only given a moment.
            grace = 10 if self.name == "wshubd" else 3
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                if self.name == "wshubd":
                    problem = "wshubd did not stop within 10 s of SIGTERM"
            if problem is None and self.name == "wshubd":
                rc = self.proc.returncode
                errors = [l for l in tail(self.errpath, 200).splitlines()
                          if l[:3] in ("<0>", "<1>", "<2>", "<3>")]
                if rc != 0:
                    problem = "wshubd exited with %s after SIGTERM; stderr:\n%s" % (
                        describe_rc(rc), tail(self.errpath))
                elif errors:
                    problem = "wshubd logged errors: %s" % "; ".join(errors[:3])
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
        return problem

    # URLs per scenario
    def urls(self, mode, chan):
        raise NotImplementedError


class FloorServer(Server):
    """tests/bench/floor --serve: the least a WebSocket server can do per
    handshake (accept, read, 101, close reply, close), as a floor next to
    wshubd in the handshakes scenario only."""

    name = "floor"

    def __init__(self, pin, workdir, binary):
        super().__init__(pin, workdir)
        self.binary = binary

    def available(self):
        if not self.binary:
            return "no tests/bench/floor binary"
        return None

    def command(self):
        return [self.binary, "--serve", str(self.port)]

    def urls(self, mode, chan):
        return ["--sub-url", "ws://127.0.0.1:%d/echo" % self.port]


def cluster_pair(params, server):
    """Whether |server| runs in a scenario: the two-node cluster only in
    the cluster scenarios, where it is compared with one wshubd alone."""
    if server.name == WshubdCluster.name:
        return bool(params.get("cluster"))
    if server.name == FloorServer.name:
        return params.get("floor", False)
    return not params.get("cluster") or server.name == "wshubd"


def describe_rc(rc):
    if rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "status %d" % rc


class Wshubd(Server):
    name = "wshubd"

    def __init__(self, pin, workdir, binary):
        super().__init__(pin, workdir)
        self.binary = binary
        self.extra_conf = ""       # options a scenario adds

    def available(self):
        if not self.binary or not os.access(self.binary, os.X_OK):
            return "no wshubd binary (%r)" % self.binary
        return None

    def command(self):
        conf = os.path.join(self.dir, "wshubd.conf")
        with open(conf, "w") as f:
            f.write("""# generated by bench.py
log_level = "warning";
max_connections = 100000;
max_frame_size = "16M";
max_message_size = "16M";
send_buffer_limit = "64M";
handshake_timeout = "10s";
idle_timeout = 0;
ping_interval = 0;
listeners = ( { address = "127.0.0.1"; port = %d; backlog = 511; } );
routes = (
  { path = "/echo"; handler = "echo"; },
  { path = "/broadcast"; handler = "broadcast"; },
  { path = "/ws/*"; handler = "pubsub"; allow_publish = true; }
);
%s
""" % (self.port, self.extra_conf))
        return [self.binary, "-c", conf]

    def urls(self, mode, chan):
        base = "ws://127.0.0.1:%d" % self.port
        if mode == "handshakes":
            return ["--sub-url", base + "/echo"]
        # The publisher is a client of the same channel: wshubd's pubsub
        # sends it a copy as well, which wshbench checks but does not count.
        return ["--sub-url", base + "/ws/" + chan,
                "--pub-url", base + "/ws/" + chan]


class WshubdCluster(Server):
    """Two wshubd nodes on a private redis-server (scale-out): subscribers
    connect to node B, the publisher to node A, so every message crosses
    Redis. Compared with the single-node wshubd in the same scenario, the
    difference is the cost of the Redis hop. The daemon CPU measured is
    node B's, the one that fans out."""

    name = "wshubd-2n"

    def __init__(self, pin, workdir, binary):
        super().__init__(pin, workdir)
        self.binary = binary
        self.redis = None
        self.nodes = []

    def available(self):
        if not self.binary or not os.access(self.binary, os.X_OK):
            return "no wshubd binary (%r)" % self.binary
        if shutil.which("redis-server") is None:
            return "redis-server is not installed"
        tmp = tempfile.mkdtemp(prefix="wshcl-", dir=self.workdir)
        try:
            conf = os.path.join(tmp, "c.conf")
            with open(conf, "w") as f:
                f.write(self.config(1, 1))
            p = subprocess.run([self.binary, "-t", "-c", conf],
                               capture_output=True, timeout=10)
            if p.returncode != 0:
                return "wshubd was built without --with-redis" \
                    if b"--with-redis" in p.stdout + p.stderr else \
                    "wshubd -t refused the cluster config: %s" % (
                        (p.stdout + p.stderr).decode("utf-8", "replace")[-200:])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return None

    def config(self, port, redis_port, node_id="a"):
        return """# generated by bench.py
log_level = "notice";
max_connections = 100000;
max_frame_size = "16M";
max_message_size = "16M";
send_buffer_limit = "64M";
handshake_timeout = "10s";
idle_timeout = 0;
ping_interval = 0;
listeners = ( { address = "127.0.0.1"; port = %d; backlog = 511; } );
routes = (
  { path = "/ws/*"; handler = "pubsub"; allow_publish = true; }
);
cluster = { redis = [ "tcp://127.0.0.1:%d" ]; node_id = "%s"; };
""" % (port, redis_port, node_id)

    def spawn(self, cmd, name, port, core):
        if self.pin:
            cmd = ["taskset", "-c", core] + cmd
        err = open(os.path.join(self.dir, name + ".log"), "wb")
        p = subprocess.Popen(cmd, cwd=self.dir, stdin=subprocess.DEVNULL,
                             stdout=err, stderr=err, preexec_fn=child_setup)
        err.close()
        if not wait_port(port, 10, p):
            raise RuntimeError("%s did not start: %s" % (
                name, tail(os.path.join(self.dir, name + ".log"))))
        return p

    def start(self):
        self.dir = tempfile.mkdtemp(prefix=self.name + "-", dir=self.workdir)
        self.errpath = os.path.join(self.dir, "b.log")
        rport = free_port()
        try:
            # Node B (the fan-out) on core 0 like every server; Redis and
            # node A on the cores after the load generator's, if any.
            other = "2" if (os.cpu_count() or 1) > 2 else "0"
            self.redis = self.spawn(
                ["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self.dir,
                 "--protected-mode", "no"], "redis", rport, other)
            self.nodes = []
            for name, core in (("a", other), ("b", "0")):
                port = free_port()
                conf = os.path.join(self.dir, name + ".conf")
                with open(conf, "w") as f:
                    f.write(self.config(port, rport, name))
                self.nodes.append((self.spawn([self.binary, "-c", conf], name,
                                              port, core), port))
        except RuntimeError:
            self.stop()
            raise
        self.proc = self.nodes[1][0]
        self.port = self.nodes[1][1]
        self.port_a = self.nodes[0][1]
        # Both nodes connected to Redis before the load starts.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            logs = [open(os.path.join(self.dir, n + ".log"), "rb").read()
                    for n in ("a", "b")]
            if all(b"connected to Redis" in l for l in logs):
                break
            time.sleep(0.05)
        time.sleep(0.3)

    def stop(self):
        problem = None
        for i, (p, _) in enumerate(self.nodes):
            name = "ab"[i]
            if p.poll() is not None:
                problem = problem or "node %s exited by itself with %s: %s" % (
                    name, describe_rc(p.returncode),
                    tail(os.path.join(self.dir, name + ".log")))
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
                problem = problem or "node %s did not stop within 10 s" % name
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait(5)
        self.redis = None
        self.nodes = []
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problem

    def urls(self, mode, chan):
        return ["--sub-url", "ws://127.0.0.1:%d/ws/%s" % (self.port, chan),
                "--pub-url", "ws://127.0.0.1:%d/ws/%s" % (self.port_a, chan)]


class Nchan(Server):
    name = "nchan"

    def __init__(self, pin, workdir, publisher="http"):
        super().__init__(pin, workdir)
        self.publisher = publisher
        self.module = next((m for m in NCHAN_MODULES if os.path.exists(m)), None)

    def available(self):
        if shutil.which("nginx") is None:
            return "nginx is not installed (Debian package nginx)"
        if self.module is None:
            return "the nchan module is not installed (libnginx-mod-nchan)"
        return None

    def command(self):
        d = self.dir
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""# generated by bench.py
load_module %(mod)s;
worker_processes 1;
master_process off;
daemon off;
error_log %(d)s/error.log warn;
pid %(d)s/nginx.pid;
worker_rlimit_nofile 20000;
events { worker_connections 40000; }  # nchan needs spare (fake) connections
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_body_temp_path %(d)s/body;
  proxy_temp_path %(d)s/proxy;
  fastcgi_temp_path %(d)s/fastcgi;
  uwsgi_temp_path %(d)s/uwsgi;
  scgi_temp_path %(d)s/scgi;
  server {
    listen 127.0.0.1:%(port)d backlog=511;
    location ~ ^/sub/([A-Za-z0-9_-]+)$ {
      nchan_subscriber websocket;
      nchan_channel_id $1;
      nchan_subscriber_first_message newest;
    }
    location ~ ^/pub/([A-Za-z0-9_-]+)$ {
      nchan_publisher http websocket;
      nchan_channel_id $1;
    }
  }
}
""" % {"mod": self.module, "d": d, "port": self.port})
        # master_process off: one process, the one whose CPU and RSS we read.
        return ["nginx", "-p", d, "-c", conf, "-e", "stderr"]

    def urls(self, mode, chan):
        base = "127.0.0.1:%d" % self.port
        args = ["--sub-url", "ws://%s/sub/%s" % (base, chan)]
        if mode in ("fanout", "latency"):
            if self.publisher == "ws":
                args += ["--pub-url", "ws://%s/pub/%s" % (base, chan)]
            else:
                args += ["--pub-http", "http://%s/pub/%s" % (base, chan)]
        return args


class NodeWs(Server):
    name = "node ws"

    def available(self):
        if shutil.which("node") is None:
            return "node is not installed (Debian package nodejs)"
        if not os.path.isdir(os.path.join(NODE_PATH, "ws")):
            return "the ws module is not installed (Debian package node-ws)"
        return None

    def env(self):
        e = dict(os.environ)
        e["NODE_PATH"] = NODE_PATH
        return e

    def command(self):
        return ["node", os.path.join(HERE, "peer-ws-broadcast.js"),
                str(self.port)]

    def urls(self, mode, chan):
        # A broadcast server: every client subscribes, every message from a
        # client goes to all the others.
        base = "ws://127.0.0.1:%d/" % self.port
        args = ["--sub-url", base]
        if mode in ("fanout", "latency"):
            args += ["--pub-url", base]
        return args


# --------------------------------------------------------------------------
# wshbench

def find_wshbench(args, workdir):
    cands = []
    if args.wshbench:
        cands.append(args.wshbench)
    if args.wshubd:
        cands.append(os.path.join(os.path.dirname(os.path.abspath(args.wshubd)),
                                  "tests", "bench", "wshbench"))
    cands.append(os.path.join(HERE, "wshbench"))
    src = os.path.join(HERE, "wshbench.c")
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            # A stale binary measures old code: prefer a fresh build then.
            if os.path.exists(src) and os.path.getmtime(c) < os.path.getmtime(src):
                log("# %s is older than wshbench.c; compiling a fresh one" % c)
                break
            return c
    cc = os.environ.get("CC", "cc")
    out = os.path.join(workdir, "wshbench")
    cmd = [cc, "-O2", "-Wall", "-Wextra", "-o", out, src, "-lm"]
    log("# compiling the load generator: " + " ".join(cmd))
    subprocess.run(cmd, check=True, timeout=120)
    return out


def find_wshub(args):
    """The `wshub` CLI: --wshub, else next to wshubd; None when missing."""
    cands = []
    if args.wshub:
        cands.append(args.wshub)
    if args.wshubd:
        cands.append(os.path.join(os.path.dirname(os.path.abspath(args.wshubd)),
                                  "wshub"))
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def wshub_command(wshub, mode, params, urls, args):
    """The `wshub bench` command line of one scenario (wshbench's semantics)."""
    cmd = [wshub, "bench", mode] + urls
    if mode in ("fanout", "latency"):
        cmd += ["--conns", str(params["n"]), "--size", str(params["s"]),
                "--duration", str(args.duration), "--warmup", str(args.warmup)]
        if mode == "fanout":
            cmd += ["--window", str(params["w"])]
        else:
            cmd += ["--rate", str(params["rate"])]
        if params.get("deflate"):
            cmd += ["--deflate"]
    elif mode == "idle":
        cmd += ["--conns", str(params["n"]), "--hold", str(args.hold)]
    elif mode == "handshakes":
        cmd += ["--concurrency", str(params["c"]), "--duration",
                str(args.duration), "--warmup", str(args.warmup)]
    return cmd


def run_wshbench(wshbench, pin, mode, params, server, chan, args, label,
                 wshub=None):
    """One load-generator run: `wshub bench` when |wshub| is given and the
    server needs nothing it lacks (an HTTP publisher), else wshbench."""
    urls = server.urls(mode, chan)
    warmup = args.warmup
    use_wshub = wshub is not None and "--pub-http" not in urls
    cmd = [wshbench, mode] + urls
    if use_wshub:
        cmd = wshub_command(wshub, mode, params, urls, args)
    elif mode in ("fanout", "latency"):
        cmd += ["-n", str(params["n"]), "-s", str(params["s"]),
                "-d", str(args.duration), "--warmup", str(warmup)]
        if mode == "fanout":
            cmd += ["-w", str(params["w"])]
        else:
            cmd += ["--rate", str(params["rate"])]
        if params.get("deflate"):
            cmd += ["--deflate"]
    elif mode == "idle":
        cmd += ["-n", str(params["n"]), "--hold", str(args.hold)]
    elif mode == "handshakes":
        cmd += ["-c", str(params["c"]), "-d", str(args.duration),
                "--warmup", str(warmup)]
    limit = warmup + args.duration + args.hold + 150
    cmd += ["--pid", str(server.pid), "--json", "--label", label,
            "--limit", str(int(limit))]
    if pin:
        cmd = ["taskset", "-c", "1"] + cmd
    if args.verbose:
        log("# " + " ".join(cmd))
    gen = "wshub bench" if use_wshub else "wshbench"
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=limit + 30, preexec_fn=raise_nofile)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "%s timed out" % gen, "client": gen}
    out = p.stdout.decode("utf-8", "replace").strip().splitlines()
    for line in reversed(out):
        if line.startswith("{"):
            try:
                r = json.loads(line)
                r["client"] = gen
                return r
            except ValueError:
                break
    return {"ok": False, "client": gen, "error": "%s exited with %d: %s" % (
        gen, p.returncode, p.stderr.decode("utf-8", "replace").strip()[-300:])}


# --------------------------------------------------------------------------
# floor

FLOOR_CASES = [("floor-64", ["-n", "1000", "-k", "1", "-s", "64"])]


def find_floor(args):
    cands = []
    if args.wshubd:
        cands.append(os.path.join(os.path.dirname(args.wshubd), "tests",
                                  "bench", "floor"))
    cands.append(os.path.join(HERE, "floor"))
    for c in cands:
        if os.access(c, os.X_OK):
            return c
    return None


def run_floor(floor, pin, args):
    """The kernel's cost per writev without any server (see floor.c)."""
    results = []
    for run in range(args.runs):
        for name, extra in FLOOR_CASES:
            cmd = [floor, "-d", str(min(args.duration, 3.0)), "--json"] + extra
            if pin:
                cmd.append("--pin")
            try:
                p = subprocess.run(cmd, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=60,
                                   preexec_fn=raise_nofile)
                r = json.loads(p.stdout.decode().strip().splitlines()[-1])
            except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
                r = {"ok": False, "error": "floor failed: %s" % e}
            r.update({"scenario": name, "server": "kernel", "run": run + 1})
            results.append(r)
            if r.get("ok"):
                log("%-13s kernel  run %d: %.0f writev/s, %.2f us CPU per "
                    "writev, %.0f msgs/s; one round over 1 000 sockets "
                    ">= %.1f ms" % (name, run + 1, r["writev_per_s"],
                                   r["us_per_writev"], r["msgs_per_s"],
                                   r["round_us"] / 1000.0))
            else:
                log("%-13s kernel  run %d: %s" % (name, run + 1,
                                                  r.get("error")))
    for name, _ in FLOOR_CASES:
        good = [r for r in results if r["scenario"] == name and r.get("ok")]
        if good:
            log("%-13s kernel  median: %.2f us CPU per writev, %.0f msgs/s, "
                "round over 1 000 sockets >= %.1f ms" % (
                    name, statistics.median(r["us_per_writev"] for r in good),
                    statistics.median(r["msgs_per_s"] for r in good),
                    statistics.median(r["round_us"] for r in good) / 1000.0))
    return results


# --------------------------------------------------------------------------
# results

def metrics(mode, r):
    """(key, label, value, higher_is_better, format) rows of one result."""
    if mode == "fanout":
        rows = [("msgs_per_s", "deliveries/s", r.get("msgs_per_s"), True, "%.0f")]
        if r.get("size", 0) >= 1024:
            rows.append(("mb_per_s", "payload MB/s", r.get("mb_per_s"), True, "%.0f"))
        rows.append(("daemon_cpu_pct", "daemon CPU %", r.get("daemon_cpu_pct"),
                     None, "%.0f"))
        if r.get("msgs_per_s") and r.get("daemon_cpu_pct") is not None:
            r["cpu_us_per_msg"] = r["daemon_cpu_pct"] / 100.0 * 1e6 / r["msgs_per_s"]
            rows.append(("cpu_us_per_msg", "daemon CPU us/delivery",
                         r["cpu_us_per_msg"], False, "%.2f"))
        return rows
    if mode == "latency":
        return [("p50_us", "p50 us", r.get("p50_us"), False, "%.0f"),
                ("p99_us", "p99 us", r.get("p99_us"), False, "%.0f"),
                ("p999_us", "p99.9 us", r.get("p999_us"), False, "%.0f"),
                ("max_us", "max us", r.get("max_us"), False, "%.0f"),
                ("daemon_cpu_pct", "daemon CPU %", r.get("daemon_cpu_pct"),
                 None, "%.0f")]
    if mode == "idle":
        return [("bytes_per_conn", "RSS bytes/conn", r.get("bytes_per_conn"),
                 False, "%.0f")]
    if mode == "handshakes":
        return [("hs_per_s", "handshakes/s", r.get("hs_per_s"), True, "%.0f"),
                ("hs_per_daemon_cpu_s", "per daemon CPU-s",
                 r.get("hs_per_daemon_cpu_s"), True, "%.0f"),
                ("daemon_cpu_pct", "daemon CPU %", r.get("daemon_cpu_pct"),
                 None, "%.0f")]
    return []


def problems_of(mode, r):
    """Human description of what went wrong in one result, or ''."""
    p = []
    if r.get("error"):
        p.append(r["error"])
    for k in ("lost", "dup", "reordered", "bad", "pub_self_errors"):
        if r.get(k):
            p.append("%s=%d" % (k, r[k]))
    if r.get("undelivered"):
        if mode == "latency":
            p.append("overloaded: %d deliveries still missing 5 s after the "
                     "last publish" % r["undelivered"])
        else:
            p.append("undelivered=%d" % r["undelivered"])
    if r.get("stalled") and mode == "fanout":
        p.append("stalled")
    if r.get("closed"):
        p.append("closed early=%d" % r["closed"])
    if r.get("failed"):
        p.append("failed connections=%d" % r["failed"])
    if r.get("crash"):
        p.append(r["crash"])
    return "; ".join(p)


def fmt(v, f):
    return "-" if v is None else f % v


def summarize(results, scen_list, servers, runs):
    """Print the table of medians; returns the summary as a dict."""
    names = [s.name for s in servers]
    summary = {}
    header = ["scenario", "metric"] + names + ["%s/%s" % (names[0], n)
                                               for n in names[1:]]
    rows = []
    for sname, mode, _ in scen_list:
        summary[sname] = {}
        per = {}
        for n in names:
            rs = [r for r in results if r["scenario"] == sname and r["server"] == n]
            good = [r for r in rs if r.get("ok")]
            per[n] = (rs, good)
        keys = None
        for n in names:
            rs, _ = per[n]
            if rs:
                keys = metrics(mode, rs[0])
                break
        if keys is None:
            continue
        for key, label, _, hib, f in keys:
            line = [sname, label]
            med = {}
            for n in names:
                rs, good = per[n]
                vals = [r.get(key) for r in good if r.get(key) is not None]
                if not rs:
                    line.append("skipped")
                    continue
                if not vals:
                    line.append("FAIL" if mode != "latency" else "overload")
                    continue
                med[n] = statistics.median(vals)
                note = "" if len(good) == len(rs) else " (%d/%d ok)" % (len(good), len(rs))
                line.append(fmt(med[n], f) + note)
                summary[sname].setdefault(n, {})[key] = med[n]
            for n in names[1:]:
                a, b = med.get(names[0]), med.get(n)
                if a is None or b is None or b == 0 or hib is None:
                    line.append("")
                else:
                    better = (a / b >= 1) == hib
                    line.append("%.2fx%s" % (a / b, "" if better else " (worse)"))
            rows.append(line)
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    sep = "  "
    log("")
    log("Medians of %d run(s); servers on core 0, the load generator on core 1; ratio = "
        "wshubd/peer (higher-is-better metrics: >1 means wshubd ahead; "
        "latency and memory: <1 means wshubd ahead)." % runs)
    log(sep.join(h.ljust(w) for h, w in zip(header, widths)))
    log(sep.join("-" * w for w in widths))
    for r in rows:
        log(sep.join(str(c).ljust(w) for c, w in zip(r, widths)))
    return summary


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wshubd", help="the wshubd binary")
    ap.add_argument("--wshub", help="the wshub CLI, whose `wshub bench` is the "
                    "load generator (default: next to wshubd)")
    ap.add_argument("--wshbench", help="the interim load generator (default: "
                    "built next to wshubd, else compiled into a temp dir)")
    ap.add_argument("--client", choices=("wshub", "wshbench"), default="wshub",
                    help="load generator: wshub bench (default) or wshbench")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0,
                    help="measured seconds per run (default 5)")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--hold", type=float, default=2.0,
                    help="idle: seconds connections stay open once all are up")
    ap.add_argument("--quick", action="store_true",
                    help="short runs (2 s), one run each")
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--peers", default="nchan,node,floor",
                    help="peers to compare with: nchan,node,floor or none "
                    "(floor: tests/bench/floor --serve, handshakes only)")
    ap.add_argument("--nchan-publisher", choices=("http", "ws"), default="http",
                    help="nchan publisher: HTTP POST (default) or WebSocket")
    ap.add_argument("--no-pin", action="store_true", help="do not use taskset")
    ap.add_argument("--json", metavar="FILE",
                    help="write every result and the medians as JSON ('-': stdout)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    # Servers run in their own temp directories: resolve paths first.
    for name in ("wshubd", "wshbench", "wshub"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    if args.quick:
        args.duration = min(args.duration, 2.0)
        args.warmup = min(args.warmup, 0.5)
        args.hold = min(args.hold, 1.0)
        args.runs = 1
    if args.runs < 1 or args.duration <= 0 or args.duration > 600:
        ap.error("bad --runs or --duration")

    soft, hard = raise_nofile()
    log("# open files: soft %d, hard %d (children get the hard limit)" % (soft, hard))
    scen_list = list(SCENARIOS)
    if hard < 19500:
        n = max(1000, hard - 1000)
        log("# the open-file limit is too low for 19 000 connections; "
            "idle-19k uses %d" % n)
        scen_list = [(s, m, dict(p, n=n)) if s == "idle-19k" else (s, m, p)
                     for s, m, p in scen_list]
    if args.only:
        want = [w.strip() for w in args.only.split(",") if w.strip()]
        unknown = [w for w in want
                   if w not in [s[0] for s in SCENARIOS] + ["floor"]]
        if unknown:
            ap.error("unknown scenario(s): %s (known: %s)" % (
                ", ".join(unknown), ", ".join(s[0] for s in SCENARIOS)))
        scen_list = [s for s in scen_list if s[0] in want]

    pin = not args.no_pin
    if pin and (shutil.which("taskset") is None or (os.cpu_count() or 1) < 2):
        log("# taskset missing or fewer than 2 CPUs: not pinning")
        pin = False

    workdir = tempfile.mkdtemp(prefix="wshbench-")
    try:
        wshbench = find_wshbench(args, workdir)
        wshub = find_wshub(args) if args.client == "wshub" else None
        if args.client == "wshub" and wshub is None:
            log("# no wshub CLI (--wshub): using wshbench for everything")
        servers = [Wshubd(pin, workdir, args.wshubd)]
        peers = [p.strip() for p in args.peers.split(",") if p.strip()]
        if "nchan" in peers:
            servers.append(Nchan(pin, workdir, args.nchan_publisher))
        if "node" in peers:
            servers.append(NodeWs(pin, workdir))
        if "floor" in peers and any(p.get("floor") for _, _, p in scen_list):
            servers.append(FloorServer(pin, workdir, find_floor(args)))
        if any(p.get("cluster") for _, _, p in scen_list):
            servers.append(WshubdCluster(pin, workdir, args.wshubd))
        active = []
        for s in servers:
            why = s.available()
            if why:
                log("# skipping %s: %s" % (s.name, why))
            else:
                active.append(s)
        if not active or active[0].name != "wshubd":
            log("# wshubd is not available: nothing to measure")
            return 1
        log("# load generator: %s (wshbench: %s)" % (
            (wshub + " bench") if wshub else wshbench, wshbench))
        log("# servers: %s; %d run(s) of %.0f s per scenario" % (
            ", ".join(s.name for s in active), args.runs, args.duration))

        results = []
        t0 = time.monotonic()
        if not args.only or "floor" in want:
            floor = find_floor(args)
            if floor is None:
                log("# no tests/bench/floor binary: skipping the floor")
            else:
                results += run_floor(floor, pin, args)
        for sname, mode, params in scen_list:
            for run in range(args.runs):
                order = active if run % 2 == 0 else [active[0]] + active[:0:-1]
                for s in order:
                    # compression scenarios compare wshubd with itself
                    if params.get("deflate") and s.name != "wshubd":
                        continue
                    if not cluster_pair(params, s):
                        continue
                    if s.name == "wshubd":
                        s.extra_conf = params.get("conf", "")
                    chan = "b%d%06d" % (run, random.randrange(1000000))
                    label = "%s/%s/%d" % (sname, s.name, run + 1)
                    try:
                        s.start()
                    except RuntimeError as e:
                        r = {"ok": False, "error": str(e)}
                    else:
                        r = run_wshbench(wshbench, pin, mode, params, s, chan,
                                         args, label, wshub)
                        crash = s.stop()
                        if crash:
                            r["ok"] = False
                            r["crash"] = crash
                    r.update({"scenario": sname, "server": s.name, "run": run + 1})
                    results.append(r)
                    shown = ", ".join("%s %s" % (lab, fmt(v, f))
                                      for _, lab, v, _, f in metrics(mode, r)
                                      if v is not None)
                    prob = problems_of(mode, r)
                    if wshub and r.get("client") == "wshbench":
                        shown += " (by wshbench)"
                    log("%-13s %-7s run %d: %s%s" % (
                        sname, s.name, run + 1, shown or "no figures",
                        ("  ** " + prob) if prob else ""))
        log("# total time %.0f s" % (time.monotonic() - t0))
        summary = summarize(results, scen_list, active, args.runs)

        bad = [r for r in results if r["server"] == "wshubd" and not r.get("ok")]
        if bad:
            log("")
            log("wshubd problems:")
            for r in bad:
                mode = [m for s, m, _ in scen_list if s == r["scenario"]][0]
                log("  %s run %d: %s" % (r["scenario"], r["run"],
                                         problems_of(mode, r) or "failed"))
        if args.json:
            doc = {"results": results, "medians": summary,
                   "runs": args.runs, "duration": args.duration,
                   "servers": [s.name for s in active]}
            if args.json == "-":
                print(json.dumps(doc))
            else:
                with open(args.json, "w") as f:
                    json.dump(doc, f, indent=1)
                log("# JSON written to %s" % args.json)
        return 1 if bad else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
