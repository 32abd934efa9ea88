"""Real HTTP servers on 127.0.0.1 (``_app.py`` in a process of its own) and
capture files written by the tests."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

APP = Path(__file__).with_name("_app.py")


class Server:
    def __init__(self, version: str) -> None:
        self.version = version
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), version],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"test server {version} did not start: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.port = int(line.split()[-1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def start_server() -> Iterator[Callable[[str], Server]]:
    started: list[Server] = []

    def start(version: str) -> Server:
        server = Server(version)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def v1() -> Iterator[Server]:
    server = Server("v1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def v2() -> Iterator[Server]:
    server = Server("v2")
    yield server
    server.stop()


def har_entry(
    method: str,
    url: str,
    *,
    second: float = 0.0,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    status: int = 200,
    response_text: str = "{}",
) -> dict[str, Any]:
    """One HAR 1.2 entry as a browser's export writes it."""
    whole, frac = divmod(second, 1.0)
    entry: dict[str, Any] = {
        "pageref": "page_1",
        "startedDateTime": f"2024-05-01T12:{int(whole) // 60:02d}:{int(whole) % 60:02d}.{int(frac * 1000):03d}Z",
        "time": 12.5,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in (headers or {}).items()],
            "queryString": [],
            "headersSize": -1,
            "bodySize": len(body or ""),
        },
        "response": {
            "status": status,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "content": {
                "size": len(response_text),
                "mimeType": "application/json",
                "text": response_text,
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(response_text),
        },
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "send": 0,
            "wait": 12,
            "receive": 0.5,
            "ssl": -1,
        },
    }
    if body is not None:
        entry["request"]["postData"] = {"mimeType": "application/json", "text": body}
    return entry


def write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    doc = {
        "log": {
            "version": "1.2",
            "creator": {"name": "Firefox", "version": "125.0"},
            "pages": [
                {
                    "startedDateTime": "2024-05-01T12:00:00.000Z",
                    "id": "page_1",
                    "title": "shop",
                    "pageTimings": {},
                }
            ],
            "entries": entries,
        }
    }
    text = json.dumps(doc, indent=1)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def item_capture(path: Path, n: int = 40, *, spacing: float = 0.01) -> Path:
    """``n`` GETs of /items/0..4 (and /health), ``spacing`` seconds apart."""
    entries = []
    for i in range(n):
        url = (
            f"https://shop.example.com/items/{i % 5}?ref=home"
            if i % 8
            else "https://shop.example.com/health"
        )
        entries.append(
            har_entry("GET", url, second=i * spacing, headers={"Accept": "application/json"})
        )
    return write_har(path, entries)
