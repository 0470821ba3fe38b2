#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""An HTTPS server on a loopback port for the relay's outbound HTTP client test: fixed answers
(plain, large, slow, echo, error status). Prints "PORT PID" once it listens; runs until killed."""
import http.server
import os
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ok":
            self.answer(200, b"hello", [("Cache-Control", "public, max-age=60")])
        elif self.path == "/big":
            self.answer(200, b"x" * (2 << 20))
        elif self.path == "/slow":
            time.sleep(4)
            self.answer(200, b"late")
        elif self.path == "/status/404":
            self.answer(404, b"not here")
        else:
            self.answer(400, b"unknown path")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.answer(200, body, [("X-Got-Type", self.headers.get("Content-Type", ""))])


def main():
    cert, key = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], os.getpid(), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
