#!/usr/bin/python3
"""GET /metrics: every line parses as the Prometheus text format 0.0.4,
histograms are consistent, and the values move with traffic."""

import math
import os
import re
import subprocess
import time

import wshtest
from wshtest import RawWS, OP_TEXT

wshtest.require_daemon()
wshtest.overall_alarm(90)
rep = wshtest.Report()

WSHUBCTL = os.path.join(os.path.dirname(wshtest.daemon_path()), "wshubctl")

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (\S+)(?: (-?\d+))?$" % (NAME, LABEL, LABEL))
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse(text):
    """Parse an exposition strictly; returns {(name, labels): value} and
    {family: type}, or raises ValueError naming the bad line."""
    if not text.endswith("\n"):
        raise ValueError("the exposition does not end in a newline")
    samples, types, helps = {}, {}, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] == "HELP":
                if parts[2] in helps:
                    raise ValueError("line %d: second HELP for %s" % (n, parts[2]))
                helps.add(parts[2])
            elif len(parts) == 4 and parts[1] == "TYPE":
                if parts[3] not in TYPES or parts[2] in types:
                    raise ValueError("line %d: bad TYPE %r" % (n, line))
                types[parts[2]] = parts[3]
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("line %d does not parse: %r" % (n, line))
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        v = float(value) if value not in ("+Inf", "-Inf", "NaN") else \
            {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}[value]
        family = re.sub(r"_(bucket|sum|count|total)$", "", name)
        if name not in types and family not in types and \
                re.sub(r"_(bucket|sum|count)$", "", name) not in types:
            raise ValueError("line %d: sample %s before its TYPE" % (n, name))
        key = (name, labels)
        if key in samples:
            raise ValueError("line %d: duplicate sample %s%s" % (n, name, labels))
        samples[key] = v
    return samples, types


def scrape(d):
    r = wshtest.http_request(d.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                             b"Connection: close\r\n\r\n")
    if r.status != 200:
        raise AssertionError("GET /metrics: %d" % r.status)
    if not r.header("content-type", "").startswith("text/plain; version=0.0.4"):
        raise AssertionError("content type %r" % r.header("content-type"))
    return parse(r.body.decode())


def val(samples, name, labels=""):
    return samples.get((name, labels))


def check_histogram(samples, name):
    buckets = sorted(((float(re.search(r'le="([^"]+)"', l).group(1).replace("+Inf", "inf")), v)
                      for (n, l), v in samples.items() if n == name + "_bucket"))
    if not buckets or buckets[-1][0] != math.inf:
        return "no +Inf bucket"
    counts = [v for _, v in buckets]
    if counts != sorted(counts):
        return "buckets not cumulative: %r" % buckets
    if counts[-1] != val(samples, name + "_count"):
        return "+Inf bucket %r != count %r" % (counts[-1], val(samples, name + "_count"))
    if val(samples, name + "_sum") is None:
        return "no _sum"
    return None


d = wshtest.Daemon(admin_socket="admin.sock", log_level="info")
d.start()
try:
    def format_ok():
        samples, types = scrape(d)
        for fam, typ in [("wshub_connections", "gauge"),
                         ("wshub_handshakes_total", "counter"),
                         ("wshub_messages_received_total", "counter"),
                         ("wshub_bytes_received_total", "counter"),
                         ("wshub_bytes_sent_total", "counter"),
                         ("wshub_deliveries_total", "counter"),
                         ("wshub_dropped_messages_total", "counter"),
                         ("wshub_slow_consumer_kicks_total", "counter"),
                         ("wshub_queued_bytes", "gauge"),
                         ("wshub_publish_to_write_seconds", "histogram"),
                         ("wshub_reloads_total", "counter"),
                         ("wshub_auth_requests_total", "counter"),
                         ("process_resident_memory_bytes", "gauge"),
                         ("process_open_fds", "gauge"),
                         ("process_cpu_seconds_total", "counter")]:
            if types.get(fam) != typ:
                return "%s: type %r, want %s" % (fam, types.get(fam), typ)
        if val(samples, "process_resident_memory_bytes") < 1e5:
            return "implausible RSS"
        if val(samples, "process_open_fds") < 3:
            return "implausible fd count"
        return check_histogram(samples, "wshub_publish_to_write_seconds")
    rep.run("every line parses as Prometheus text; families typed", format_ok)

    def moves():
        before, _ = scrape(d)
        subs = [RawWS(d.port, "/ws/metrics") for _ in range(3)]
        echo = RawWS(d.port, "/echo")
        for i in range(20):
            echo.send_text("m%d" % i)
            echo.recv_message(5)
        for i in range(10):
            r = wshtest.http_request(d.port, b"POST /pub/metrics HTTP/1.1\r\nHost: x\r\n"
                                     b"Content-Length: 5\r\nConnection: close\r\n\r\nhello")
            if r.status != 200:
                return "publish %d" % r.status
        for s in subs:
            for i in range(10):
                if s.recv_message(5) != (OP_TEXT, b"hello"):
                    return "subscriber lost a message"
        r = wshtest.http_request(d.port, wshtest.upgrade_request("/nosuchroute"))
        after, _ = scrape(d)
        conns = val(after, "wshub_connections",
                    '{route="/ws/*",handler="pubsub",protocol="h1"}')
        if conns != 3:
            return "pubsub connections gauge %r" % conns
        if val(after, "wshub_connections", '{route="/echo",handler="echo",protocol="h1"}') != 1:
            return "echo gauge"
        for name, at_least in [("wshub_messages_received_total", 20),
                               ("wshub_deliveries_total", 30),
                               ("wshub_bytes_received_total", 100),
                               ("wshub_bytes_sent_total", 100),
                               ("wshub_publish_to_write_seconds_count", 10),
                               ("wshub_connections_accepted_total", 4)]:
            if val(after, name) - val(before, name) < at_least:
                return "%s moved %r -> %r" % (name, val(before, name), val(after, name))
        if val(after, "wshub_handshakes_total", '{result="ok"}') - \
                val(before, "wshub_handshakes_total", '{result="ok"}') != 4:
            return "handshakes ok"
        if val(after, "wshub_handshakes_total", '{result="refused",status="404"}') != 1:
            return "404 handshake not counted: %r" % [k for k in after if "handshake" in k[0]]
        if val(after, "wshub_channels") < 1 or val(after, "wshub_subscriptions") != 3:
            return "channels/subscriptions"
        for s in subs:
            s.close()
        echo.close()
        return check_histogram(after, "wshub_publish_to_write_seconds")
    rep.run("values move with traffic: connections, handshakes, messages, bytes, "
            "deliveries, latency", moves)

    def reloads():
        before, _ = scrape(d)
        r = subprocess.run([WSHUBCTL, "-s", os.path.join(d.tmp, "admin.sock"), "reload"],
                           capture_output=True, timeout=10)
        after, _ = scrape(d)
        k = ("wshub_reloads_total", '{result="ok"}')
        if r.returncode != 0 or after[k] != before[k] + 1:
            return "reloads %r -> %r (%r)" % (before[k], after[k], r.stderr)
    rep.run("reloads are counted", reloads)

    def head_and_method():
        r = wshtest.http_request(d.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n"
                                 b"Connection: close\r\n\r\n")
        if r.status != 200 or r.body:
            return "HEAD: %r" % r
        r = wshtest.http_request(d.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        if r.status != 405:
            return "POST: %d" % r.status
    rep.run("HEAD answers headers only; POST is 405", head_and_method)
finally:
    d.stop()
    d.cleanup()
rep.done()
