"""eph record's recording reverse proxy: a standalone, standard-library-only
program (it runs inside the offline ``python:3.12-slim`` image, which has
Python but no third-party packages such as aiohttp).

    python _proxy.py UPSTREAM_HOST UPSTREAM_PORT LISTEN_PORT FEED_PORT

Every request to LISTEN_PORT is forwarded to the upstream service, its
answer sent back unchanged, and the exchange kept as a HAR 1.2 entry (a
JSON object). ``GET /entries`` on FEED_PORT streams the entries, one JSON
line each, as they happen (an empty line every second keeps the stream
alive); entries wait in memory (at most 100,000) until a reader takes them.
This file imports nothing of pytest-ephemeral: it is copied into the
container as it is.
"""

from __future__ import annotations

import base64
import collections
import datetime
import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}
MAX_WAITING = 100_000


class Feed:
    def __init__(self) -> None:
        self.items: collections.deque[str] = collections.deque()
        self.cond = threading.Condition()
        self.dropped = 0

    def put(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        with self.cond:
            if len(self.items) >= MAX_WAITING:
                self.items.popleft()
                self.dropped += 1
            self.items.append(line)
            self.cond.notify_all()

    def take(self, timeout: float) -> str | None:
        with self.cond:
            if not self.items:
                self.cond.wait(timeout)
            return self.items.popleft() if self.items else None

    def give_back(self, line: str) -> None:
        with self.cond:
            self.items.appendleft(line)


FEED = Feed()
UPSTREAM: tuple[str, int] = ("127.0.0.1", 80)


def _content(data: bytes, mime: str) -> dict[str, Any]:
    out: dict[str, Any] = {"size": len(data), "mimeType": mime}
    if data:
        try:
            out["text"] = data.decode("utf-8")
        except UnicodeDecodeError:
            out["text"] = base64.b64encode(data).decode("ascii")
            out["encoding"] = "base64"
    return out


def _iso(ts: float) -> str:
    moment = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "eph-record"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self) -> None:
        started = time.time()
        t0 = time.monotonic()
        body = self._body()
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP]
        upstream = getattr(self, "_upstream", None)
        status, reason, rbody = 502, "Bad Gateway", b""
        rheaders: list[tuple[str, str]] = []
        for attempt in (1, 2):  # a kept-alive upstream connection may have closed: retry once
            try:
                if upstream is None:
                    upstream = http.client.HTTPConnection(*UPSTREAM, timeout=120)
                upstream.putrequest(
                    self.command, self.path, skip_host=True, skip_accept_encoding=True
                )
                for k, v in headers:
                    upstream.putheader(k, v)
                if body or self.command in ("POST", "PUT", "PATCH"):
                    upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders(body or None)
                resp = upstream.getresponse()
                rbody = resp.read()
                status, reason, rheaders = resp.status, resp.reason, resp.getheaders()
                if resp.will_close:
                    upstream.close()
                    upstream = None
                break
            except (OSError, http.client.HTTPException) as exc:
                if upstream is not None:
                    upstream.close()
                upstream = None
                if attempt == 2:
                    rbody = f"eph record: upstream {UPSTREAM[0]}:{UPSTREAM[1]}: {exc}\n".encode()
                    rheaders = [("Content-Type", "text/plain")]
        self._upstream = upstream
        elapsed = (time.monotonic() - t0) * 1000.0
        self.send_response_only(status, reason)
        for k, v in rheaders:
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(rbody)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(rbody)
        host = self.headers.get("Host") or f"{UPSTREAM[0]}:{UPSTREAM[1]}"
        query = urlsplit(self.path).query
        request: dict[str, Any] = {
            "method": self.command,
            "url": f"http://{host}{self.path}",
            "httpVersion": self.request_version,
            "headers": [{"name": k, "value": v} for k, v in self.headers.items()],
            "queryString": [
                {"name": k, "value": v} for k, v in parse_qsl(query, keep_blank_values=True)
            ],
            "cookies": [],
            "headersSize": -1,
            "bodySize": len(body),
        }
        if body:
            post = _content(body, self.headers.get("Content-Type", ""))
            post.pop("size")
            request["postData"] = post
        mime = next((v for k, v in rheaders if k.lower() == "content-type"), "")
        FEED.put(
            {
                "startedDateTime": _iso(started),
                "time": round(elapsed, 3),
                "request": request,
                "response": {
                    "status": status,
                    "statusText": reason,
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v} for k, v in rheaders],
                    "cookies": [],
                    "content": _content(rbody, mime),
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": len(rbody),
                },
                "cache": {},
                "timings": {"send": 0, "wait": round(elapsed, 3), "receive": 0},
            }
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward


class FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/ready":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ready\n")
            return
        if self.path != "/entries":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        while True:
            line = FEED.take(1.0)
            try:
                self.wfile.write(((line or "") + "\n").encode("utf-8"))
                self.wfile.flush()
            except OSError:
                if line is not None:
                    FEED.give_back(line)
                return


def main(argv: list[str]) -> int:
    global UPSTREAM
    if len(argv) != 4:
        print("usage: _proxy.py UPSTREAM_HOST UPSTREAM_PORT LISTEN_PORT FEED_PORT", file=sys.stderr)
        return 2
    UPSTREAM = (argv[0], int(argv[1]))
    proxy = ThreadingHTTPServer(("0.0.0.0", int(argv[2])), Proxy)
    feed = ThreadingHTTPServer(("0.0.0.0", int(argv[3])), FeedHandler)
    proxy.daemon_threads = feed.daemon_threads = True
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    print(f"eph-record: proxy on :{argv[2]} -> {argv[0]}:{argv[1]}, feed on :{argv[3]}", flush=True)
    proxy.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
