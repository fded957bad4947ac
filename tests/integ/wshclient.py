#!/usr/bin/python3
"""Helpers for the client tests (20-client-*): run the wshub CLI, run
third-party servers (python3-websockets) in a thread of this process."""

import asyncio
import os
import subprocess
import sys
import threading

import wshtest


def cli_path():
    p = os.environ.get("WSHUB", "")
    if not p or not os.access(p, os.X_OK):
        print("# SKIP: WSHUB not set or not executable: %r" % p)
        sys.exit(77)
    return p


def run_cli(args, stdin=b"", timeout=20):
    """Run `wshub ARGS`; returns (exit status, stdout text, stderr text)."""
    p = subprocess.run([cli_path()] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def start_cli(args):
    return subprocess.Popen([cli_path()] + list(args), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class PyServer:
    """A python3-websockets server on a free port, in a thread.

    handler(ws, path) is an async function; kw go to websockets.serve."""

    def __init__(self, handler, port=None, **kw):
        self.handler = handler
        self.port = port or wshtest.free_port()
        self.kw = kw
        self.loop = None
        self.ready = threading.Event()
        self.events = []        # what handlers record

    def _run(self):
        import websockets
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

        async def main():
            self.stop_fut = self.loop.create_future()
            async with websockets.serve(self.handler, "127.0.0.1", self.port,
                                        **self.kw):
                self.ready.set()
                await self.stop_fut
        self.loop.run_until_complete(main())

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("websockets server did not start")
        return self

    def __exit__(self, *a):
        self.loop.call_soon_threadsafe(self.stop_fut.set_result, None)
        self.thread.join(10)
        return False

    def url(self, path="/", scheme="ws", host="127.0.0.1"):
        return "%s://%s:%d%s" % (scheme, host, self.port, path)
