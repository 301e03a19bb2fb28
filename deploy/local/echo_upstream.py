#!/usr/bin/env python3
"""A small non-Swift upstream for the local stack: it answers every GET with the request
headers it received, so you can see exactly what nginx passes on after tokengate's gate
(X-Auth-* identity headers, and no tokengate cookies).

    python3 deploy/local/echo_upstream.py --port 9001
"""
import argparse
import html
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    server_version = "echo-upstream"

    def do_GET(self):  # noqa: N802 (http.server naming)
        headers = {name: value for name, value in self.headers.items()}
        wants_json = "application/json" in self.headers.get("Accept", "") or self.path.endswith(".json")
        if wants_json:
            body = json.dumps({"path": self.path, "headers": headers}, indent=2).encode()
            content_type = "application/json"
        else:
            rows = "".join(
                f"<tr><th scope='row'>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
                for k, v in sorted(headers.items())
            )
            user = html.escape(self.headers.get("X-Auth-Username", "?"))
            body = (
                "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                f"<title>Gated upstream: {html.escape(self.path)}</title>"
                "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}"
                "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;"
                "border-bottom:1px solid #ddd;vertical-align:top}code{word-break:break-all}</style></head><body><main>"
                f"<h1>Hello, {user}</h1>"
                "<p>This page is served by a small Python server behind nginx. nginx asked tokengate "
                "whether your access token is valid before passing the request on, with these headers:</p>"
                f"<table>{rows}</table><p><a href='/'>Back to the demo</a></p></main></body></html>"
            ).encode()
            content_type = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server signature)
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer((args.host, args.port), EchoHandler).serve_forever()


if __name__ == "__main__":
    main()
