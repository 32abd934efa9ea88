"""Captures in: HAR 1.2 (``.har``, ``.har.gz``) and GoReplay (``.gor``) files,
read as a stream of :class:`CapturedRequest`, one entry at a time.

A HAR file is parsed with ijson (its C backend when present), so a large
capture never sits in memory whole: only the entry being read does. The
format is told from the content, not the name: gzip by its magic bytes,
then JSON (``{``) for HAR, ``1 ``/``2 ``/``3 `` for GoReplay.

Only the path and query of a captured URL are kept: the host and scheme
are the target's at replay time.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlencode, urlsplit

from ._errors import CaptureError

__all__ = [
    "UNSAFE_METHODS",
    "CapturedRequest",
    "RecordedResponse",
    "capture_format",
    "iter_capture",
]

#: Methods that change state: sent only with ``--include-unsafe`` or to an ephemeral target.
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

GOR_SEPARATOR: Final = "🐵🙈🙉".encode()

_HOW_HAR: Final = "export the capture again as HAR 1.2 (or a GoReplay .gor file)"


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    """The answer the capture recorded (if it recorded one)."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    """One request of a capture.

    ``index`` is the entry number in the file (1-based, what error messages
    name); ``time`` the recorded send time in seconds since the epoch (None
    when the capture has none); ``target`` the path and query (``/items/3?x=1``).
    """

    index: int
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    time: float | None
    response: RecordedResponse | None = None

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def unsafe(self) -> bool:
        return self.method in UNSAFE_METHODS


# ------------------------------------------------------------------------- opening


def _open(path: Path) -> IO[bytes]:
    try:
        raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as exc:
        raise CaptureError(
            f"{path}: cannot read the capture ({exc.strerror or type(exc).__name__}); "
            "check the path"
        ) from None
    if raw.read(2) == b"\x1f\x8b":
        raw.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def _gzip_problem(path: Path, exc: BaseException, entry: int | None) -> CaptureError:
    where = f" (at entry {entry})" if entry else ""
    return CaptureError(
        f"{path}: the gzip stream is truncated or corrupt{where} ({exc}); "
        "copy the whole file again or decompress it to check"
    )


def capture_format(path: Path) -> str:
    """``"har"`` or ``"gor"``, from the first bytes of the (decompressed) file."""
    with _open(path) as fh:
        try:
            head = fh.read(64)
        except (OSError, EOFError, zlib.error) as exc:
            raise _gzip_problem(path, exc, None) from None
    return _format_of(path, head)


def _format_of(path: Path, head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"{":
        return "har"
    if text[:2] in (b"1 ", b"2 ", b"3 "):
        return "gor"
    if not text:
        raise CaptureError(f"{path}: the capture is empty; record traffic first (eph record)")
    raise CaptureError(
        f"{path}: not a capture: neither HAR (a JSON object) nor GoReplay (.gor payloads); "
        f"{_HOW_HAR}"
    )


def iter_capture(path: str | Path) -> Iterator[CapturedRequest]:
    """The requests of the capture at ``path``, in file order, as a stream.

    Raises :class:`CaptureError` (naming the file and entry number) for a file
    that is not a capture, is truncated or malformed, or has an entry without
    a method or URL. The error comes when the iteration reaches the problem."""
    path = Path(path)
    kind = capture_format(path)
    if kind == "har":
        yield from _iter_har(path)
    else:
        yield from _iter_gor(path)


# ----------------------------------------------------------------------------- HAR


def _iter_har(path: Path) -> Iterator[CapturedRequest]:
    import ijson

    count = 0
    with _open(path) as fh:
        try:
            for entry in ijson.items(fh, "log.entries.item", use_float=True):
                count += 1
                yield _har_entry(path, count, entry)
        except ijson.JSONError as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
            low = detail.lower()
            truncated = "premature" in low or "incomplete json" in low or not low.strip()
            state = "truncated" if truncated else "malformed"
            raise CaptureError(
                f"{path}: entry {count + 1}: the HAR file is {state} ({detail}); {_HOW_HAR}"
            ) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise _gzip_problem(path, exc, count + 1) from None
    if count == 0:
        _check_har_shape(path)


def _check_har_shape(path: Path) -> None:
    """No entries were read: an empty ``log.entries`` is fine, no ``log.entries`` is not."""
    import ijson

    with _open(path) as fh:
        try:
            for prefix, event, _value in ijson.parse(fh):
                if prefix == "log.entries" and event == "start_array":
                    return
        except ijson.JSONError as exc:
            raise CaptureError(f"{path}: the HAR file is malformed ({exc}); {_HOW_HAR}") from None
    raise CaptureError(f"{path}: not a HAR file: it has no log.entries array; {_HOW_HAR}")


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append((item["name"], str(item.get("value", ""))))
    return tuple(out)


def _har_time(path: Path, index: int, value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise CaptureError(
            f"{path}: entry {index}: startedDateTime is not a string ({value!r}); "
            "it must be ISO 8601 such as 2024-05-01T12:00:00.000Z"
        )
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise CaptureError(
            f"{path}: entry {index}: startedDateTime {value!r} is not an ISO 8601 time; "
            "write it like 2024-05-01T12:00:00.000Z"
        ) from None


def _har_entry(path: Path, index: int, entry: Any) -> CapturedRequest:
    if not isinstance(entry, dict):
        raise CaptureError(f"{path}: entry {index} is not an object; {_HOW_HAR}")
    request = entry.get("request")
    if not isinstance(request, dict):
        raise CaptureError(
            f"{path}: entry {index} has no request object; every HAR entry needs "
            "request.method and request.url"
        )
    url = request.get("url")
    if not isinstance(url, str) or not url.strip():
        raise CaptureError(
            f"{path}: entry {index} has no request URL; add request.url (or remove the entry)"
        )
    method = request.get("method")
    if not isinstance(method, str) or not method.strip():
        raise CaptureError(
            f"{path}: entry {index} has no request method; add request.method such as GET"
        )
    target = _target(path, index, url)
    body = b""
    post = request.get("postData")
    if isinstance(post, dict):
        text = post.get("text")
        if isinstance(text, str):
            body = _decode(text, post.get("encoding"))
        elif isinstance(post.get("params"), list):
            body = urlencode(_pairs(post["params"])).encode()
    return CapturedRequest(
        index=index,
        method=method.strip().upper(),
        target=target,
        headers=_pairs(request.get("headers")),
        body=body,
        time=_har_time(path, index, entry.get("startedDateTime")),
        response=_har_response(entry.get("response")),
    )


def _target(path: Path, index: int, url: str) -> str:
    url = url.strip()
    if url.startswith("/"):
        return url
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("http", "https") and "#" not in rest:  # the common case, quickly
        slash = rest.find("/")
        query = rest.find("?")
        if slash < 0 or 0 <= query < slash:
            cut = query if query >= 0 else len(rest)
            return "/" + rest[cut:] if cut < len(rest) else "/"
        return rest[slash:] if rest[:slash] else _target_slow(path, index, url)
    return _target_slow(path, index, url)


def _target_slow(path: Path, index: int, url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise CaptureError(
            f"{path}: entry {index}: request.url {url[:80]!r} is not an absolute URL or a path; "
            "write it like https://host/path?query or /path?query"
        )
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _har_response(value: Any) -> RecordedResponse | None:
    if not isinstance(value, dict):
        return None
    status = value.get("status")
    if not isinstance(status, (int, float)) or status <= 0:
        return None  # HAR writes 0 for "no response" (blocked, aborted)
    body = b""
    content = value.get("content")
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        body = _decode(content["text"], content.get("encoding"))
    return RecordedResponse(int(status), _pairs(value.get("headers")), body)


def _decode(text: str, encoding: Any) -> bytes:
    if encoding == "base64":
        import base64
        import binascii

        try:
            return base64.b64decode(text)
        except (binascii.Error, ValueError):
            return b""
    return text.encode("utf-8")


# ------------------------------------------------------------------------ GoReplay


def _iter_gor(path: Path) -> Iterator[CapturedRequest]:
    """GoReplay payloads: a header line ``TYPE ID NANOSECONDS ...``, the raw
    HTTP message, then the separator line. Type 1 is a request, 2 the
    original response (attached to the request before it with the same id),
    3 a replayed response (ignored)."""
    pending: tuple[str, CapturedRequest] | None = None
    number = 0
    with _open(path) as fh:
        try:
            for payload, complete in _gor_payloads(fh):
                number += 1
                kind, pid, item = _gor_payload(path, number, payload, complete)
                if kind == "2" and pending is not None and pending[0] == pid:
                    assert isinstance(item, RecordedResponse)
                    req = pending[1]
                    yield CapturedRequest(
                        req.index, req.method, req.target, req.headers, req.body, req.time, item
                    )
                    pending = None
                    continue
                if pending is not None:
                    yield pending[1]
                    pending = None
                if kind == "1":
                    assert isinstance(item, CapturedRequest)
                    pending = (pid, item)
        except (OSError, EOFError, zlib.error) as exc:
            raise _gzip_problem(path, exc, number + 1) from None
    if pending is not None:
        yield pending[1]


def _gor_payloads(fh: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    buf = io.BytesIO()
    for line in fh:
        if line.rstrip(b"\r\n") == GOR_SEPARATOR:
            data = buf.getvalue()
            if data.endswith(b"\n"):
                data = data[:-1]
            yield data, True
            buf = io.BytesIO()
        else:
            buf.write(line)
    rest = buf.getvalue()
    if rest.strip():
        yield rest, False


def _gor_payload(
    path: Path, number: int, payload: bytes, complete: bool
) -> tuple[str, str, CapturedRequest | RecordedResponse | None]:
    head, _, message = payload.partition(b"\n")
    fields = head.decode("latin-1").split()
    if len(fields) < 3 or fields[0] not in ("1", "2", "3") or not fields[2].isdigit():
        raise CaptureError(
            f"{path}: entry {number}: not a GoReplay payload header ({head[:60]!r}); "
            "it must read 'TYPE ID NANOSECONDS' (save with gor --output-file)"
        )
    kind, pid = fields[0], fields[1]
    sep = b"\r\n\r\n" if b"\r\n\r\n" in message else b"\n\n"
    top, found, body = message.partition(sep)
    if not found:
        what = "truncated" if not complete else "malformed"
        raise CaptureError(
            f"{path}: entry {number}: the HTTP message is {what} (no end of headers); "
            "copy the whole .gor file again"
        )
    lines = top.decode("latin-1").replace("\r\n", "\n").split("\n")
    first = lines[0].split(" ", 2)
    headers = tuple(
        (name.strip(), value.strip())
        for name, sep2, value in (h.partition(":") for h in lines[1:])
        if sep2 and name.strip()
    )
    length = next((v for n, v in headers if n.lower() == "content-length"), None)
    if length is not None and length.isdigit() and len(body) < int(length) and not complete:
        raise CaptureError(
            f"{path}: entry {number}: the body is truncated ({len(body)} of {length} bytes); "
            "copy the whole .gor file again"
        )
    if kind == "3":
        return kind, pid, None
    if kind == "2":
        if len(first) < 2 or not first[1].isdigit():
            raise CaptureError(
                f"{path}: entry {number}: not an HTTP status line ({lines[0][:60]!r})"
            )
        return kind, pid, RecordedResponse(int(first[1]), headers, body)
    if len(first) < 2 or not first[0].isalpha() or not first[1]:
        raise CaptureError(
            f"{path}: entry {number} has no request URL (request line {lines[0][:60]!r}); "
            "it must read 'METHOD /path HTTP/1.1'"
        )
    return (
        kind,
        pid,
        CapturedRequest(
            index=number,
            method=first[0].upper(),
            target=_target(path, number, first[1]),
            headers=headers,
            body=body,
            time=int(fields[2]) / 1e9,
        ),
    )
