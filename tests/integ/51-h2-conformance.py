#!/usr/bin/python3
"""The wsconform suite (Autobahn-style categories 1-7, 9, 12 and 13) over
HTTP/2: every case on its own extended CONNECT stream (RFC 8441), over h2c
(prior knowledge) and over TLS (ALPN h2), against the echo handler."""

import sys
import time

import tlstest
import wsconform
import wshtest

wshtest.require_daemon()
wshtest.overall_alarm(600)
rep = wshtest.Report()
certs = tlstest.Certs()
routes = [{"path": "/echo", "handler": "echo"}]
# As in 06-conformance: limits that allow exactly the 16 MiB cases.
d = tlstest.tls_daemon(certs, routes=routes, max_frame_size="16M",
                       max_message_size="16M", send_buffer_limit="64M",
                       log_level="info")
with d:
    for scheme, port in (("h2c", d.port), ("h2s", d.tls_port)):
        url = "%s://127.0.0.1:%d/echo" % (scheme, port)
        t0 = time.monotonic()

        def on_result(c, errors, secs, scheme=scheme):
            rep.check("%s %s %s" % (scheme, c.id, c.desc), not errors,
                      "\n".join(errors))

        results = wsconform.run_suite(url, "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,"
                                      "12.*,13.*", on_result=on_result)
        rep.note("%s: %d cases in %.1fs" % (scheme, len(results),
                                            time.monotonic() - t0))
        wsconform.summarize(results, out=sys.stdout)
rep.done()
