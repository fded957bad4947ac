#!/usr/bin/python3
"""TLS fixtures for the integration tests: a test CA, server and client
certificates made with the openssl CLI, and a daemon with a cleartext and a
TLS listener."""

import os
import subprocess
import tempfile

import wshtest


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Certs:
    """In a temporary directory: ca.pem/ca.key (a CA), leaf.pem/leaf.key
    (CN=localhost, signed by the CA, SAN localhost and 127.0.0.1),
    client.pem/client.key (CN=alice, O=wshub tests, signed by the CA)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wshtls-")
        d = self.dir
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
                 "-out", "ca.pem", "-days", "3", "-subj", "/CN=wshub test CA",
                 cwd=d)
        self.leaf("leaf", "/CN=localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                  "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        self.leaf("client", "/O=wshub tests/CN=alice",
                  "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")

    def leaf(self, name, subj, ext):
        d = self.dir
        _openssl("req", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                 name + ".key", "-out", name + ".csr", "-subj", subj, cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                 "-CAkey", "ca.key", "-CAcreateserial", "-out", name + ".pem",
                 "-days", "3", "-extfile", name + ".ext", cwd=d)
        return self.path(name + ".pem"), self.path(name + ".key")

    def path(self, name):
        return os.path.join(self.dir, name)


def tls_daemon(certs, tls_opts=None, **kw):
    """A wshtest.Daemon (not started) with its cleartext listener on
    d.port and a TLS listener on d.tls_port."""
    d = wshtest.Daemon(**kw)
    d.tls_port = wshtest.free_port()
    while d.tls_port == d.port:
        d.tls_port = wshtest.free_port()
    lst = {"address": "127.0.0.1", "port": d.tls_port, "tls": True,
           "certificate": certs.path("leaf.pem"), "key": certs.path("leaf.key")}
    lst.update(tls_opts or {})
    d.opts["listeners"].append(lst)
    return d
