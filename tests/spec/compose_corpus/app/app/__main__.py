"""``python -m app``: answer HTTP on port 8000 (the corpus's build services run this)."""

from __future__ import annotations

from http.server import HTTPServer, SimpleHTTPRequestHandler

if __name__ == "__main__":
    HTTPServer(("0.0.0.0", 8000), SimpleHTTPRequestHandler).serve_forever()
