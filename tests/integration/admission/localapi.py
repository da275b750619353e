#!/usr/bin/env python3
"""Stands in for tailscaled's LocalAPI in derpd's --verify-clients tests (tailscaled itself cannot
be installed on the test machines). It serves the documented whois contract on a unix socket:

  GET /localapi/v0/whois?addr=nodekey:<hex>   200 for a key listed in KEYS_FILE, else 404

Usage: localapi.py SOCKET KEYS_FILE [--too-old]. With --too-old it answers every whois the way a
tailscaled without node-key lookups does (400, "invalid 'addr' parameter"). Prints "ready" once
it serves. Each request's path and Tailscale-Cap header are appended to SOCKET.log.
"""
import http.server
import os
import socketserver
import sys
import urllib.parse

SOCKET, KEYS_FILE = sys.argv[1], sys.argv[2]
TOO_OLD = "--too-old" in sys.argv[3:]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def address_string(self):
        return "unix"

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with open(SOCKET + ".log", "a") as f:
            f.write(f"{self.path} cap={self.headers.get('Tailscale-Cap')}\n")
        url = urllib.parse.urlparse(self.path)
        if url.path != "/localapi/v0/whois":
            return self.answer(404, "not found\n")
        addr = urllib.parse.parse_qs(url.query).get("addr", [""])[0]
        if TOO_OLD:
            return self.answer(400, "invalid 'addr' parameter\n")
        with open(KEYS_FILE) as f:
            known = f.read().split()
        if addr in known:
            return self.answer(200, '{"Node":{"Name":"test-node"}}')
        return self.answer(404, "no match for IP:port\n")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(SOCKET):
    os.unlink(SOCKET)
server = Server(SOCKET, Handler)
print("ready", flush=True)
server.serve_forever()
