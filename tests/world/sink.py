#!/usr/bin/python3
"""Webhook and heartbeat sink on loopback.

    sink.py --listen 127.0.0.1:0 --ready-file PATH

Records every request to any path (method, path, query, headers, body parsed
as JSON when it is JSON, arrival time) and answers 200 "ok" unless told
otherwise.

The ready file (and stdout) holds two lines:

    127.0.0.1:PORT          the sink itself (point webhooks/heartbeats here)
    control 127.0.0.1:CPORT a control-only listener

The control endpoints are served on BOTH listeners; the separate one exists
because {"down": true} closes the sink's own listening socket (so clients get
ECONNREFUSED), and a test still has to be able to bring it back up.

  GET    /_sink/requests  -> [record...] (oldest first)
  DELETE /_sink/requests
  GET    /_sink/mode      -> current mode
  POST   /_sink/mode      any of {"status": 500, "delay": 1.5, "down": true,
                                  "body": "..."}  -> current mode
  POST   /_sink/reset     mode back to defaults, requests cleared
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netkit  # noqa: E402

DEFAULT_MODE = {"status": 200, "delay": 0.0, "down": False, "body": "ok"}


class Sink:
    def __init__(self, addr, port):
        self.lock = threading.Lock()
        self.mode = dict(DEFAULT_MODE)
        self.requests = []
        self.conn_server = netkit.ConnServer()
        self.site = netkit.Site(addr, port, self.serve)
        self.conn_server.open(self.site)

    def serve(self, conn, client, site):
        SinkHandler(conn, client, SinkServer(self))

    def set_mode(self, new):
        unknown = set(new) - set(DEFAULT_MODE)
        if unknown:
            raise ValueError("unknown mode keys: %s" % sorted(unknown))
        with self.lock:
            if "status" in new:
                self.mode["status"] = int(new["status"])
            if "delay" in new:
                self.mode["delay"] = float(new["delay"])
            if "body" in new:
                self.mode["body"] = str(new["body"])
            if "down" in new:
                self.mode["down"] = bool(new["down"])
            down = self.mode["down"]
        listening = self.site.sock is not None
        if down and listening:
            self.conn_server.close(self.site)
        elif not down and not listening:
            self.conn_server.open(self.site)
        return self.get_mode()

    def get_mode(self):
        with self.lock:
            return dict(self.mode)

    def control(self, method, path, data):
        """Returns (status, json) for a /_sink/... request."""
        if path == "/_sink/requests":
            with self.lock:
                if method == "DELETE":
                    self.requests = []
                return 200, list(self.requests)
        if path == "/_sink/mode":
            if method == "POST":
                return 200, self.set_mode(data)
            return 200, self.get_mode()
        if path == "/_sink/reset" and method == "POST":
            with self.lock:
                self.requests = []
            return 200, self.set_mode(dict(DEFAULT_MODE))
        return 404, {"error": "no such sink control route"}


class SinkServer(netkit.FakeServer):
    def __init__(self, sink):
        super().__init__(sink)
        self.sink = sink


class SinkHandler(netkit.QuietHandlerMixin, BaseHTTPRequestHandler):
    def do_any(self):
        sink = self.server.sink
        body = self.read_body()
        split = urllib.parse.urlsplit(self.path)
        if split.path.startswith("/_sink/"):
            handle_control(self, sink, split.path, body)
            return
        text = body.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = text
        rec = {
            "time": time.time(),
            "method": self.command,
            "path": split.path,
            "query": urllib.parse.parse_qs(split.query, keep_blank_values=True),
            "headers": dict(self.headers.items()),
            "body": parsed,
            "raw_body": text,
        }
        with sink.lock:
            sink.requests.append(rec)
            mode = dict(sink.mode)
        if mode["delay"] > 0:
            time.sleep(mode["delay"])
        try:
            self.send_plain(mode["status"], mode["body"])
        except OSError:
            self.close_connection = True


def handle_control(handler, sink, path, body):
    try:
        data = json.loads(body) if body.strip() else {}
        status, out = sink.control(handler.command, path, data)
    except (ValueError, TypeError) as e:
        status, out = 400, {"error": str(e)}
    handler.send_json(status, out)


class ControlHandler(netkit.QuietHandlerMixin, BaseHTTPRequestHandler):
    def do_any(self):
        path = urllib.parse.urlsplit(self.path).path
        handle_control(self, self.server.sink, path, self.read_body())


def main(argv=None):
    ap = argparse.ArgumentParser(description="webhook/heartbeat sink")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--ready-file")
    args = ap.parse_args(argv)
    host, port = netkit.parse_hostport(args.listen)
    sink = Sink(host, port)
    control = netkit.ControlServer((host, 0), ControlHandler)
    control.sink = sink
    t = threading.Thread(target=control.serve_forever, args=(0.1,),
                         daemon=True)

    def start():
        t.start()
        text = "%s\ncontrol %s\n" % (
            netkit.hostport(host, sink.site.port),
            netkit.hostport(host, control.server_address[1]))
        if args.ready_file:
            netkit.write_ready(args.ready_file, text)
        sys.stdout.write(text)
        sys.stdout.flush()

    def stop():
        control.shutdown()
        control.server_close()
        sink.conn_server.close(sink.site)
        sink.conn_server.stop()

    netkit.serve_until_signal(start, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
