#!/usr/bin/env python3
"""A real admission controller for derpd's tests (--verify-client-url), on Python's http.server.

Usage: controller.py DIR [CERT KEY]. It listens on 127.0.0.1 (a free port), prints "port N" once it serves,
and answers POSTs by path:
  /allow   200 {"Allow":true}        /deny    200 {"Allow":false}
  /error   500                       /big     200, {"Allow":true} then padding to 5,000 bytes
  /slow    6 s, then {"Allow":true}
  /by-key  {"Allow":true}, after 5 s for a key listed in DIR/slow-keys (one per line)
Every request body is appended to DIR/requests.jsonl, one line each. With CERT and KEY it
serves HTTPS instead.
"""
import http.server
import json
import os
import ssl
import sys
import threading
import time

DIR = sys.argv[1]
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        with LOCK:
            with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
                f.write(json.dumps({"path": self.path, "body": body,
                                    "content_type": self.headers.get("Content-Type")}) + "\n")
        allow = '{"Allow":true}'
        if self.path == "/allow":
            self.answer(200, allow)
        elif self.path == "/deny":
            self.answer(200, '{"Allow":false}')
        elif self.path == "/error":
            self.answer(500, "controller broke\n")
        elif self.path == "/big":
            self.answer(200, allow + " " * (5000 - len(allow)))
        elif self.path == "/slow":
            time.sleep(6)
            self.answer(200, allow)
        elif self.path == "/by-key":
            key = json.loads(body)["NodePublic"]
            try:
                with open(os.path.join(DIR, "slow-keys")) as f:
                    slow = key in f.read().split()
            except FileNotFoundError:
                slow = False
            if slow:
                time.sleep(5)
            self.answer(200, allow)
        else:
            self.answer(404, "no such test mode\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if len(sys.argv) == 4:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[2], sys.argv[3])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
print("port", server.server_address[1], flush=True)
server.serve_forever()
