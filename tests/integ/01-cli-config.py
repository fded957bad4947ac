#!/usr/bin/python3
"""wshubd command line: --version, --help, bad options, -t config checks with
FILE:LINE diagnostics, missing config file."""

import os
import re
import subprocess
import tempfile

import wshtest

binary = wshtest.require_daemon()
wshtest.overall_alarm(60)
rep = wshtest.Report()
tmp = tempfile.mkdtemp(prefix="wshtest-cli-")


def run(*args, timeout=10):
    p = subprocess.run([binary] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       cwd=tmp)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def show(rc, out, err):
    return "exit %r\nstdout: %r\nstderr: %r" % (rc, out[:2000], err[:2000])


rc, out, err = run("--version")
rep.check("--version exits 0", rc == 0, show(rc, out, err))
rep.check("--version prints 'wshubd <version>'", re.match(r"^wshubd \S+", out) is not None,
          show(rc, out, err))

rc, out, err = run("--help")
rep.check("--help exits 0", rc == 0, show(rc, out, err))
rep.check("--help prints usage on stdout", "usage" in out.lower() and "-c" in out,
          show(rc, out, err))

rc, out, err = run("--no-such-option")
rep.check("unknown long option exits 2", rc == 2, show(rc, out, err))
rep.check("unknown long option prints usage on stderr", "usage" in err.lower() and out == "",
          show(rc, out, err))
rc, out, err = run("-Z")
rep.check("unknown short option exits 2", rc == 2, show(rc, out, err))

shipped = os.path.join(wshtest.srcdir(), "conf", "wshubd.conf")
rc, out, err = run("-t", "-c", shipped)
rep.check("-t on the shipped conf/wshubd.conf says 'configuration OK'",
          rc == 0 and "configuration OK" in out, show(rc, out, err))


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


good = wshtest.render_config(dict(wshtest.base_options(),
                                  listeners=[{"address": "127.0.0.1", "port": 18080}],
                                  routes=wshtest.DEFAULT_ROUTES))
p = write("good.conf", good)
rc, out, err = run("-t", "-c", p)
rep.check("-t on a full generated config: exit 0, 'configuration OK' on stdout",
          rc == 0 and out.strip() == "configuration OK", show(rc, out, err))

# durations and sizes in every accepted form
forms = good.replace('max_frame_size = "16M";', 'max_frame_size = "64k";') \
            .replace('max_message_size = "16M";', "max_message_size = 1048576;") \
            .replace('handshake_timeout = "10s";', 'handshake_timeout = "500ms";') \
            .replace("idle_timeout = 0;", "idle_timeout = 2.5;") \
            .replace("ping_interval = 0;", "ping_interval = 30;")
p = write("forms.conf", forms)
rc, out, err = run("-t", "-c", p)
rep.check("-t accepts sizes as ints/'64k' and durations as ints/floats/'500ms'",
          rc == 0 and "configuration OK" in out, show(rc, out, err))

LISTEN = 'listeners = ( { address = "127.0.0.1"; port = 18080; } );\n'
ROUTE = 'routes = ( { path = "/echo"; handler = "echo"; } );\n'

# (name, text, line of the problem)
broken = [
    ("syntax error", 'log_level = "info";\nmax_connections = ;\n' + LISTEN + ROUTE, 2),
    ("missing semicolon/garbage", 'log_level = "info";\n' + LISTEN + ROUTE + "}}}\n", 4),
    ("unknown option", 'log_level = "info";\nno_such_option = 1;\n' + LISTEN + ROUTE, 2),
    ("bad type (string for max_connections)",
     'log_level = "info";\n\nmax_connections = "many";\n' + LISTEN + ROUTE, 3),
    ("bad port 70000", 'log_level = "info";\n'
     'listeners = ( { address = "127.0.0.1"; port = 70000; } );\n' + ROUTE, 2),
    ("bad handler", 'log_level = "info";\n' + LISTEN +
     'routes = ( { path = "/echo"; handler = "nope"; } );\n', 3),
    ("bad size suffix", 'max_frame_size = "12Q";\n' + LISTEN + ROUTE, 1),
    ("bad duration", LISTEN + ROUTE + 'handshake_timeout = "soon";\n', 3),
    ("negative duration", LISTEN + ROUTE + "\nidle_timeout = -5;\n", 4),
    ("bad log level", LISTEN + 'log_level = "chatty";\n' + ROUTE, 2),
]
for i, (name, text, line) in enumerate(broken):
    p = write("broken%d.conf" % i, text)
    rc, out, err = run("-t", "-c", p)
    want = "wshubd: %s:%d: " % (p, line)
    rep.check("-t %s: exit 1" % name, rc == 1, show(rc, out, err))
    rep.check("-t %s: stderr names %s:%d" % (name, os.path.basename(p), line),
              want in err and len(err.split(want, 1)[1].strip()) > 0 and
              "configuration OK" not in out, "want %r\n%s" % (want, show(rc, out, err)))

missing = os.path.join(tmp, "does-not-exist.conf")
rc, out, err = run("-t", "-c", missing)
rep.check("-t with a missing config file exits 1 naming the file",
          rc == 1 and missing in err, show(rc, out, err))
rc, out, err = run("-c", missing)
rep.check("running with a missing config file exits 1 naming the file",
          rc == 1 and missing in err, show(rc, out, err))

# -t must not start listening: run it on a config whose port is taken
port = wshtest.free_port()
p = write("port.conf", good.replace("18080", str(port)))
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(1)
rc, out, err = run("-t", "-c", p)
s.close()
rep.check("-t only checks (works while the port is in use)", rc == 0, show(rc, out, err))

import shutil
shutil.rmtree(tmp, ignore_errors=True)
rep.done()
