#!/usr/bin/python3
"""RFC 6455 and RFC 7692 conformance of the echo handler: the wsconform suite
(Autobahn fuzzingclient categories 1-7, 9, 12 and 13, independently
implemented) against a daemon whose frame and message limits allow the 16 MiB
cases; then categories 12 and 13 again against a daemon that keeps its
compression context (deflate_no_context_takeover = false) and compresses
every message (deflate_min_size = 0)."""

import sys
import time

import wshtest
import wsconform

wshtest.require_daemon()
wshtest.overall_alarm(300)

rep = wshtest.Report()
routes = [{"path": "/echo", "handler": "echo"}]
# 9.1.6 is a 16 MiB message: the limits must allow exactly 16777216 bytes.
# The echo of a 16 MiB message is queued at once: the send buffer must hold it.
with wshtest.Daemon(routes=routes, max_frame_size="16M", max_message_size="16M",
                    send_buffer_limit="64M", log_level="info") as d:
    url = d.url("/echo")
    rep.note("running %d conformance cases against %s" % (len(wsconform.CASES), url))
    t0 = time.monotonic()

    def on_result(c, errors, secs):
        detail = "\n".join(errors)
        rep.check("%s %s" % (c.id, c.desc), not errors, detail)

    results = wsconform.run_suite(url, on_result=on_result)
    rep.note("suite took %.1fs" % (time.monotonic() - t0))
    wsconform.summarize(results, out=sys.stdout)
    # the daemon survived all of it
    rep.run("daemon still answers after the suite",
            lambda: wsconform.run_case(url, wsconform.select("1.1.2")[0])[0] or None)
with wshtest.Daemon(routes=routes, max_frame_size="16M", max_message_size="16M",
                    send_buffer_limit="64M", log_level="info",
                    deflate_no_context_takeover=False, deflate_min_size=0) as d:
    url = d.url("/echo")
    t0 = time.monotonic()

    def on_result2(c, errors, secs):
        rep.check("context takeover: %s %s" % (c.id, c.desc), not errors,
                  "\n".join(errors))

    results = wsconform.run_suite(url, "12.*,13.*", on_result=on_result2)
    rep.note("categories 12 and 13 with server context takeover took %.1fs"
             % (time.monotonic() - t0))
    wsconform.summarize(results, out=sys.stdout)
rep.done()
