"""The audit trail (DESIGN §10): every lifecycle event as one JSON line,
chained by hashes, appended by every process that acts on environments
(pytest and its xdist workers, ``eph``, the reaper) to one file, and sent to
the Python logger ``pytest_ephemeral.audit``.

A line::

    {"ts":"2026-12-01T21:05:03.123456Z","event":"created","env":"shop-1a2b3c4d-gw0",
     "run":"1a2b3c4d5e6f","actor":{"user":"ci","host":"runner-7","pid":4242,
     "ci":"github:7781/integration"},"details":{...},"prev":"<64 hex>","hash":"<64 hex>"}

``hash`` is the SHA-256 of the line's own text without its ``hash`` field
(``...,"prev":"..."}``); ``prev`` is the ``hash`` of the line before it (64
zeros for the first line). An edited line no longer matches its hash; a line
removed, inserted or moved breaks the ``prev`` link of the line after it.
Removing lines at the end cannot be seen from the file alone (keep a copy of
the last hash elsewhere, e.g. the log system the logger feeds).

Writers take an exclusive ``flock`` on the file itself, read the last line's
hash, and append their line with one ``write`` on a descriptor opened with
``O_APPEND``: several processes (workers, runs, the reaper) append to one file
and the chain stays whole.

The file: ini ``eph_audit_file`` (pytest), else ``EPH_AUDIT_FILE``, else
``$XDG_STATE_HOME/pytest-ephemeral/audit.jsonl`` (``~/.local/state/...``).
``EPH_AUDIT_FILE=off`` turns the file off (the logger still gets every event).

A trail that cannot be written never stops a run or a removal: the first
failure in a process is one line — a warning in pytest (a line on stderr when
warnings are errors, or outside the main thread), a line on stderr in ``eph``
and the reaper — and an error record on the logger. The exception:
``eph exec`` and ``eph logs`` (a look inside an environment) refuse to run
when their line cannot be written (see :func:`record` ``strict``).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import hashlib
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from ..errors import EphemeralError

__all__ = [
    "AUDIT_ENV",
    "EVENTS",
    "GENESIS",
    "LOGGER_NAME",
    "AuditError",
    "AuditWarning",
    "Broken",
    "audit_path",
    "configure",
    "main",
    "read_records",
    "record",
    "redact_argv",
    "verify",
]

AUDIT_ENV: Final = "EPH_AUDIT_FILE"
LOGGER_NAME: Final = "pytest_ephemeral.audit"
GENESIS: Final = "0" * 64
OFF: Final = frozenset({"off", "none", "no", "false", "0", ""})
EVENTS: Final = (
    "created",
    "ready",
    "seeded",
    "leak_check",
    "kept",
    "reused",
    "exec",
    "logs",
    "claimed",
    "expired",
    "destroyed",
    "reaped",
)

logger = logging.getLogger(LOGGER_NAME)

_LINE: Final = re.compile(r'^(?P<body>.*),"hash":"(?P<hash>[0-9a-f]{64})"\}$')
_SECRETISH: Final = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL)", re.IGNORECASE)
_URL_PASSWORD: Final = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^@\s/]*(?=@)", re.I)

# CI systems and the variables that name the job: (system, variables joined by "/")
_CI_JOBS: Final = (
    ("github", ("GITHUB_RUN_ID", "GITHUB_JOB")),
    ("gitlab", ("CI_JOB_ID",)),
    ("buildkite", ("BUILDKITE_JOB_ID",)),
    ("circleci", ("CIRCLE_WORKFLOW_JOB_ID",)),
    ("jenkins", ("BUILD_TAG",)),
    ("azure", ("BUILD_BUILDID", "SYSTEM_JOBID")),
    ("travis", ("TRAVIS_JOB_ID",)),
    ("ci", ("CI_JOB_ID",)),
)


class AuditError(EphemeralError):
    """The audit trail cannot be written or read."""


class AuditWarning(UserWarning):
    """The audit trail could not be written; the run goes on without it."""


# -- where ------------------------------------------------------------------------------

_configured: str | None = None  # from the pytest ini (eph_audit_file), resolved
_config_lock = threading.Lock()
_reported: set[str] = set()  # paths whose write failure was already said, in this process


def configure(path: str | os.PathLike[str] | None) -> None:
    """Use ``path`` for this process (pytest's ini ``eph_audit_file``; wins
    over ``EPH_AUDIT_FILE``). None: back to the environment and the default."""
    global _configured
    with _config_lock:
        _configured = None if path is None else str(path)


def default_path(environ: Mapping[str, str] = os.environ) -> Path:
    state = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "pytest-ephemeral" / "audit.jsonl"


def audit_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The file this process appends to, or None when the file is turned off."""
    with _config_lock:
        chosen = _configured
    if chosen is None:
        chosen = environ.get(AUDIT_ENV)
    if chosen is None:
        return default_path(environ)
    if chosen.strip().lower() in OFF:
        return None
    return Path(chosen).expanduser()


# -- who --------------------------------------------------------------------------------


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no name for this uid (a container's random user)
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


def ci_job(environ: Mapping[str, str] = os.environ) -> str | None:
    """``system:job`` from the CI variables of the common CI systems, or None."""
    for system, names in _CI_JOBS:
        values = [environ.get(n, "") for n in names]
        if values[0]:
            return f"{system}:" + "/".join(v for v in values if v)
    return None


def actor(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    who: dict[str, Any] = {"user": _user(), "host": socket.gethostname(), "pid": os.getpid()}
    job = ci_job(environ)
    if job is not None:
        who["ci"] = job
    return who


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line as it may be recorded: URL passwords and the values of
    ``NAME=VALUE`` words with secret-looking names replaced by ``***``."""
    out = []
    for word in argv:
        word = _URL_PASSWORD.sub(r"\g<head>***", word)
        name, sep, _value = word.partition("=")
        if sep and _SECRETISH.search(name) and " " not in name:
            word = f"{name}=***"
        out.append(word)
    return out


# -- writing ----------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seal(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _hash_of(line: str) -> str:
    """The hash a line carries (the chain continues from it); for a line that
    is not an audit line, the hash of its text (verify reports that line)."""
    m = _LINE.match(line)
    return m["hash"] if m else _seal(line)


def _last_line(fd: int, size: int) -> str | None:
    chunk = 4096
    end = size
    data = b""
    while end > 0:
        start = max(0, end - chunk)
        data = os.pread(fd, end - start, start) + data
        end = start
        stripped = data.rstrip(b"\n")
        if b"\n" in stripped or end == 0:
            last = stripped.rsplit(b"\n", 1)[-1]
            return last.decode("utf-8", "replace") if last else None
        chunk *= 4
    return None


def _append(path: Path, record: dict[str, Any]) -> str:
    """Append ``record`` (without prev/hash) to ``path`` under the file's lock;
    the line written."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            last = _last_line(fd, size) if size else None
            record["prev"] = GENESIS if last is None else _hash_of(last)
            body = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str)
            line = f'{body[:-1]},"hash":"{_seal(body)}"}}'
            data = (line + "\n").encode("utf-8")
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a torn line before: never glue onto it
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    return line


def record(
    event: str,
    *,
    env: str = "",
    run: str = "",
    strict: bool = False,
    also: str | os.PathLike[str] | None = None,
    **details: Any,
) -> dict[str, Any]:
    """Append one event to the trail and log it; returns the record.

    ``details`` must be JSON-able and hold no data and no secrets (hashes,
    names, counts). A trail that cannot be written is said once per process
    (a warning, or a line on stderr outside pytest's main thread) and the
    event still goes to the logger; with ``strict`` an :class:`AuditError`
    is raised instead (the caller does not go on). ``also``: a second trail
    that gets the same line (the trail of the environment's creator, when it
    is not this process's own), never strict."""
    rec: dict[str, Any] = {
        "ts": _now(),
        "event": event,
        "env": env,
        "run": run,
        "actor": actor(),
        "details": details,
    }
    path = audit_path()
    line = None
    if path is not None:
        line = _write(path, rec, strict)
    if also is not None and (path is None or not _same_file(Path(also), path)):
        second = _write(Path(also), rec, False)
        line = line if line is not None else second
    text = line if line is not None else json.dumps(rec, separators=(",", ":"), default=str)
    logger.info(text, extra={"eph_audit": rec})
    return rec


def _write(path: Path, rec: dict[str, Any], strict: bool) -> str | None:
    """Append ``rec`` to ``path``; the line, or None when it cannot be written
    (said once per path and process; raised with ``strict``)."""
    try:
        return _append(path, dict(rec))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        message = (
            f"audit trail: cannot write {path}: {reason}; set {AUDIT_ENV} (or ini "
            f"eph_audit_file) to a writable file, or {AUDIT_ENV}=off to go without one"
        )
        if logger.hasHandlers():  # else logging's last resort would print it twice
            logger.error(message)
        if strict:
            raise AuditError(message) from None
        _say_once(str(path), message)
        return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return str(a) == str(b)


def _say_once(key: str, message: str) -> None:
    with _config_lock:
        if key in _reported:
            return
        _reported.add(key)
    if threading.current_thread() is threading.main_thread() and "pytest" in sys.modules:
        try:  # in pytest's warnings summary
            warnings.warn(AuditWarning(message), stacklevel=3)
            return
        except AuditWarning:  # warnings are errors here: the run still goes on
            pass
    print(f"pytest-ephemeral: warning: {message}", file=sys.stderr, flush=True)


# -- reading and checking ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broken:
    """Where the chain breaks: ``line`` (1-based) and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8", errors="replace", newline="\n") as fh:
            for n, raw in enumerate(fh, 1):
                yield n, raw.rstrip("\n")
    except FileNotFoundError:
        raise AuditError(
            f"no audit trail at {path} (nothing recorded yet, or another file is set: "
            f"{AUDIT_ENV}, ini eph_audit_file)"
        ) from None
    except OSError as exc:
        raise AuditError(f"cannot read the audit trail {path}: {exc.strerror or exc}") from None


def verify(path: Path) -> tuple[int, Broken | None]:
    """Check the whole chain: (lines checked, the first break or None)."""
    prev = GENESIS
    count = 0
    for n, line in _lines(path):
        count = n
        m = _LINE.match(line)
        if m is None:
            return n, Broken(n, "not an audit line (no hash at its end)")
        body = m["body"] + "}"
        if _seal(body) != m["hash"]:
            return n, Broken(n, "altered: its content does not match its hash")
        try:
            data = json.loads(body)
        except ValueError:
            return n, Broken(n, "not valid JSON")
        if not isinstance(data, dict) or data.get("prev") != prev:
            return n, Broken(
                n,
                "the chain breaks here: it does not follow line "
                f"{n - 1} (a line before it was removed, inserted or reordered)"
                if n > 1
                else "the chain breaks here: the first line does not start a chain "
                "(lines before it were removed)",
            )
        prev = m["hash"]
    return count, None


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every parseable line of the trail: (line number, record)."""
    for n, line in _lines(path):
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            if isinstance(data, dict):
                yield n, data


def _ts(rec: Mapping[str, Any]) -> float | None:
    try:
        text = str(rec.get("ts", ""))
        return (
            datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
            .replace(tzinfo=timezone.utc)
            .timestamp()
        )
    except ValueError:
        return None


# -- eph audit ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eph audit",
        description="Show the audit trail of environments, or check that it is unaltered.",
        epilog="exit status: 0 ok, 1 the chain is broken (--verify), 2 bad input or no trail. "
        f"The file: {AUDIT_ENV}, else $XDG_STATE_HOME/pytest-ephemeral/audit.jsonl",
    )
    p.add_argument("--env", metavar="ID", help="only this environment (or ids starting with it)")
    p.add_argument("--since", metavar="DURATION", help="only the last DURATION (90s, 30m, 2h, 1d)")
    p.add_argument("--event", action="append", default=[], metavar="NAME", help="only NAME")
    p.add_argument("--json", action="store_true", help="one JSON record per line, as stored")
    p.add_argument("--verify", action="store_true", help="check the hash chain of the whole file")
    p.add_argument("--file", metavar="PATH", help=f"another trail (default: {AUDIT_ENV})")
    return p


def _detail_text(details: Mapping[str, Any]) -> str:
    parts = []
    for key, value in details.items():
        shown = value if isinstance(value, str | int | float) else json.dumps(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)


def main(argv: Sequence[str]) -> int:
    """``eph audit [--env ID] [--since 2h] [--json] [--verify]``."""
    from ..config import SettingsError, parse_duration

    args = _parser().parse_args(list(argv))
    try:
        since = time.time() - parse_duration(args.since, "--since") if args.since else None
    except SettingsError as exc:
        print(f"eph: error: {exc}", file=sys.stderr)
        return 2
    path = Path(args.file).expanduser() if args.file else audit_path()
    if path is None:
        print(
            f"eph: error: the audit file is turned off ({AUDIT_ENV}={os.environ.get(AUDIT_ENV)}); "
            "give --file PATH",
            file=sys.stderr,
        )
        return 2
    try:
        if args.verify:
            count, broken = verify(path)
            if broken is not None:
                print(f"eph: error: {path}:{broken}", file=sys.stderr)
                return 1
            print(f"{path}: {count} line{'s' if count != 1 else ''}, chain intact")
            return 0
        for _n, rec in read_records(path):
            if args.env and not str(rec.get("env", "")).startswith(args.env):
                continue
            if args.event and rec.get("event") not in args.event:
                continue
            if since is not None and (_ts(rec) or 0.0) < since:
                continue
            if args.json:
                print(json.dumps(rec, separators=(",", ":"), ensure_ascii=False))
                continue
            who = rec.get("actor") or {}
            by = f"{who.get('user', '?')}@{who.get('host', '?')}:{who.get('pid', '?')}"
            if who.get("ci"):
                by += f" ({who['ci']})"
            details = _detail_text(rec.get("details") or {})
            print(
                f"{rec.get('ts', '?')}  {rec.get('event', '?'):<10} {rec.get('env') or '-'}  "
                f"{by}  {details}".rstrip()
            )
    except AuditError as exc:
        print(f"eph: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # eph audit | head
        with contextlib.suppress(OSError):
            sys.stdout.close()
    return 0
