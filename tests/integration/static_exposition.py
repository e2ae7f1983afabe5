#!/usr/bin/env python3
"""Serves saved expositions as a target would: GET /NAME answers the file
NAME from DIR, with the OpenMetrics content type for files ending in .om,
gzip-compressed when the request accepts gzip. Prints the port it listens on.

  static_exposition.py DIR
"""
import gzip
import http.server
import os
import sys

DIR = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = os.path.join(DIR, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        body = open(path, 'rb').read()
        self.send_response(200)
        kind = ('application/openmetrics-text; version=1.0.0; charset=utf-8' if path.endswith('.om')
                else 'text/plain; version=0.0.4; charset=utf-8')
        self.send_header('Content-Type', kind)
        if 'gzip' in self.headers.get('Accept-Encoding', ''):
            body = gzip.compress(body)
            self.send_header('Content-Encoding', 'gzip')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
