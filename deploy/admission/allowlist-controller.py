#!/usr/bin/env python3
"""A minimal admission controller for derpd's --verify-client-url (and derper's).

derpd POSTs {"NodePublic": "nodekey:<hex>", "Source": "<client IP>"} for every client that is not
a mesh peer; this answers {"Allow": true} for the node keys listed in a file, one per line
(# comments allowed), and {"Allow": false} for every other key. The file is read again whenever
it changes, so adding a node needs no restart.

    allowlist-controller.py --keys /etc/derpd/allowed-nodes --listen 127.0.0.1:9090
    derpd ... --verify-client-url http://127.0.0.1:9090/ --verify-client-url-fail-open=false

A node's key is the "nodekey:..." shown by `tailscale status --json` (Self.PublicKey) on that node,
or by `derpctl clients` once it has connected. Python 3 standard library only.
"""
import argparse
import http.server
import json
import os
import sys
import threading


class AllowList:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.mtime = None
        self.keys = set()

    def allows(self, key):
        with self.lock:
            try:
                mtime = os.stat(self.path).st_mtime_ns
            except OSError as e:
                print(f"cannot read {self.path}: {e}; refusing everyone", file=sys.stderr)
                return False
            if mtime != self.mtime:
                with open(self.path) as f:
                    lines = (line.split("#", 1)[0].strip() for line in f)
                    self.keys = {line.lower() for line in lines if line}
                self.mtime = mtime
                print(f"loaded {len(self.keys)} node keys from {self.path}", file=sys.stderr)
            return key.lower() in self.keys


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", required=True, help="file of allowed node keys, one per line")
    parser.add_argument("--listen", default="127.0.0.1:9090", help="address:port to listen on")
    args = parser.parse_args()
    allow_list = AllowList(args.keys)
    host, port = args.listen.rsplit(":", 1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            try:
                length = min(int(self.headers.get("Content-Length", "0")), 4096)
                request = json.loads(self.rfile.read(length))
                key = str(request.get("NodePublic", ""))
                allowed = allow_list.allows(key)
            except (ValueError, AttributeError):
                key, allowed = "?", False
            if not allowed:
                print(f"refused {key} from {request.get('Source', '?') if key != '?' else '?'}",
                      file=sys.stderr)
            body = json.dumps({"Allow": allowed}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *a):
            pass

    server = http.server.ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    print(f"listening on {server.server_address[0]}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
