"""Reading captures: HAR (plain and gzip) and GoReplay, and every kind of bad file."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from pytest_ephemeral.replay import CapturedRequest, CaptureError, iter_capture
from pytest_ephemeral.replay.capture import GOR_SEPARATOR
from pytest_ephemeral.replay.cli import replay_main

from .conftest import har_entry, write_har

SEP = GOR_SEPARATOR.decode()


def sample(path: Path) -> Path:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00").decode()
    entries = [
        har_entry(
            "GET",
            "https://shop.example.com/items/7?ref=home&q=a%20b",
            second=0.0,
            headers={"Accept": "application/json", "Authorization": "Bearer abc"},
        ),
        har_entry(
            "post",
            "https://shop.example.com/items",
            second=1.25,
            headers={"Content-Type": "application/json"},
            body='{"name": "lamp"}',
            status=201,
        ),
        har_entry("GET", "/relative/path", second=2.5),
    ]
    entries[2]["response"]["content"] = {
        "size": 9,
        "mimeType": "image/png",
        "text": png,
        "encoding": "base64",
    }
    return write_har(path, entries)


@pytest.mark.parametrize("name", ["sample.har", "sample.har.gz"])
def test_har_plain_and_gzip(tmp_path: Path, name: str) -> None:
    reqs = list(iter_capture(sample(tmp_path / name)))
    assert [(r.index, r.method, r.target) for r in reqs] == [
        (1, "GET", "/items/7?ref=home&q=a%20b"),
        (2, "POST", "/items"),
        (3, "GET", "/relative/path"),
    ]
    assert ("Authorization", "Bearer abc") in reqs[0].headers
    assert reqs[1].body == b'{"name": "lamp"}' and reqs[1].unsafe and not reqs[0].unsafe
    assert reqs[1].time is not None and reqs[0].time is not None
    assert reqs[1].time - reqs[0].time == pytest.approx(1.25)
    assert reqs[1].response is not None and reqs[1].response.status == 201
    assert reqs[2].response is not None and reqs[2].response.body == b"\x89PNG\r\n\x1a\n\x00"


def test_har_is_streamed_lazily(tmp_path: Path) -> None:
    # the error of entry 3 comes only when the iteration reaches it
    entries = [
        har_entry("GET", "https://h/a"),
        har_entry("GET", "https://h/b"),
        {"request": {"method": "GET"}},
    ]
    it = iter_capture(write_har(tmp_path / "x.har", entries))
    assert next(it).target == "/a"
    assert next(it).target == "/b"
    with pytest.raises(CaptureError, match=r"x\.har: entry 3 has no request URL"):
        next(it)


def test_empty_entries_is_not_an_error(tmp_path: Path) -> None:
    assert list(iter_capture(write_har(tmp_path / "e.har", []))) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("hello, world\n", r"bad\.har: not a capture: neither HAR"),
        ("", r"bad\.har: the capture is empty"),
        ('{"log": {"version": "1.2"}}', r"bad\.har: not a HAR file: it has no log\.entries"),
        (
            '{"log": {"entries": [{"request": {"url": "https://h/x"}}]}}',
            r"bad\.har: entry 1 has no request method",
        ),
        ('{"log": {"entries": [{"response": {}}]}}', r"bad\.har: entry 1 has no request object"),
        (
            '{"log": {"entries": [{"request": {"method": "GET", "url": "h:x"}}]}}',
            r"entry 1: request\.url 'h:x' is not an absolute URL",
        ),
        (
            '{"log": {"entries": [{"startedDateTime": "yesterday", "request": {"method": "GET", "url": "/x"}}]}}',
            r"entry 1: startedDateTime 'yesterday' is not an ISO 8601",
        ),
        (
            '{"log": {"entries": [{"request": {"method": "GET", "url": "/x"}}, {"request": {"method": "GET", "url": "/y"}} {]}}',
            r"bad\.har: entry 3: the HAR file is malformed",
        ),
    ],
)
def test_bad_har(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.har"
    path.write_text(content)
    with pytest.raises(CaptureError, match=message):
        list(iter_capture(path))


def test_truncated_har(tmp_path: Path) -> None:
    full = sample(tmp_path / "full.har").read_text()
    cut = tmp_path / "cut.har"
    cut.write_text(full[: full.index('"post"') + 40])  # in the middle of entry 2
    reqs: list[CapturedRequest] = []
    with pytest.raises(CaptureError, match=r"cut\.har: entry 2: the HAR file is truncated"):
        reqs.extend(iter_capture(cut))
    assert [r.index for r in reqs] == [1]


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(json.dumps({"log": {"entries": [har_entry("GET", "/x")] * 200}}).encode())
    path = tmp_path / "cut.har.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        CaptureError, match=r"cut\.har\.gz: the gzip stream is truncated or corrupt"
    ):
        list(iter_capture(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"nope\.har: cannot read the capture"):
        list(iter_capture(tmp_path / "nope.har"))


def gor(*payloads: str) -> str:
    return "".join(p + "\n" + SEP + "\n" for p in payloads)


GOR = gor(
    "1 a1 1714564800000000000 0\nGET /items/3?x=1 HTTP/1.1\r\nHost: shop\r\nAccept: */*\r\n\r\n",
    "2 a1 1714564800002000000 2000000\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
    '1 b2 1714564800500000000 0\nPOST /items HTTP/1.1\r\nHost: shop\r\nContent-Length: 15\r\n\r\n{"name":"lamp"}',
    "3 b2 1714564800600000000 0\nHTTP/1.1 201 Created\r\n\r\n",
)


def test_gor(tmp_path: Path) -> None:
    path = tmp_path / "traffic.gor"
    path.write_text(GOR)
    reqs = list(iter_capture(path))
    assert [(r.index, r.method, r.target) for r in reqs] == [
        (1, "GET", "/items/3?x=1"),
        (3, "POST", "/items"),
    ]
    assert reqs[0].response is not None and reqs[0].response.status == 200
    assert reqs[1].response is None and reqs[1].body == b'{"name":"lamp"}'
    assert reqs[0].time is not None and reqs[1].time is not None
    assert reqs[1].time - reqs[0].time == pytest.approx(0.5)
    gz = tmp_path / "traffic.gor.gz"
    gz.write_bytes(gzip.compress(GOR.encode()))
    assert [r.target for r in iter_capture(gz)] == ["/items/3?x=1", "/items"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (GOR[: GOR.index("Content-Length: 15") + 12], r"entry 3: the HTTP message is truncated"),
        (GOR[: GOR.rindex('lamp"}')], r"entry 3: the body is truncated \(\d+ of 15 bytes\)"),
        (gor("1 a1 notatime 0\nGET / HTTP/1.1\r\n\r\n"), r"entry 1: not a GoReplay payload header"),
        (gor("1 a1 1714564800000000000 0\n \r\n\r\n"), r"entry 1 has no request URL"),
    ],
)
def test_bad_gor(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.gor"
    path.write_text(content)
    with pytest.raises(CaptureError, match=r"bad\.gor: " + message):
        list(iter_capture(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "nothing.har: cannot read the capture"), ("<html>", "nothing.har: not a capture")],
)
def test_cli_bad_capture_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "nothing.har"
    if content is not None:
        path.write_text(content)
    # the capture is checked before the target (here a closed port) is tried
    code = replay_main([str(path), "--target", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0] and err[0].startswith("eph replay: error: ")
