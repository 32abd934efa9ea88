"""``eph pool up|ls|down``: the warm pool's command (:mod:`.pool`, :mod:`.keeper`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EphemeralError
from . import labels as L
from .pool import (
    _short,
    held,
    keeper_info,
    log_path,
    members,
    pool_dir,
    pool_key,
    state_path,
)

if TYPE_CHECKING:
    from ..runtime.backend import Backend

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eph pool",
        description="Keep environments of a spec started and seeded before a run asks for "
        "them; pytest --eph-pool claims one, resets it at the end and gives it back.",
    )
    sub = p.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="start a keeper for the spec's pool")
    up.add_argument("-f", "--file", metavar="SPEC", help="the spec (default: discovered)")
    up.add_argument("--size", type=int, default=2, metavar="N", help="environments (default 2)")
    up.add_argument("--ttl", default="8h", metavar="DURATION", help="the pool's life (default 8h)")
    up.add_argument("--max-starts", type=int, default=0, metavar="N", help="starting at once")
    up.add_argument("--profile", action="append", default=[], metavar="NAME")
    up.add_argument("--image-map", action="append", default=[], metavar="FROM=TO")
    up.add_argument("--timeout", default="60", metavar="SECONDS", help="readiness timeout")
    up.add_argument("--wait", action="store_true", help="return once the pool is full (all ready)")
    ls = sub.add_parser("ls", help="list the pool's environments (all pools without -f)")
    ls.add_argument("-f", "--file", metavar="SPEC")
    ls.add_argument("--json", action="store_true")
    down = sub.add_parser("down", help="stop the keeper and remove the pool's environments")
    down.add_argument("-f", "--file", metavar="SPEC")
    return p


def _err(text: str) -> None:
    print(f"eph pool: {text}", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    from ..errors import EngineUnavailableError, SpecError

    args = _parser().parse_args(list(argv))
    try:
        if args.action == "up":
            return _up(args)
        if args.action == "ls":
            return _ls(args)
        return _down(args)
    except (SpecError, _Usage) as exc:
        _err(str(exc))
        return 2
    except EngineUnavailableError as exc:
        _err(f"{exc} (the pool lives on that engine)")
        return 3
    except EphemeralError as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


def _settings(args: argparse.Namespace) -> Any:
    from ..config import Settings, image_map_from, parse_duration

    return Settings(
        rootdir=Path.cwd(),
        spec=args.file,
        timeout=parse_duration(str(getattr(args, "timeout", "60")), "--timeout"),
        image_map=image_map_from(getattr(args, "image_map", []), [], os.environ),
        profiles=tuple(getattr(args, "profile", [])),
        max_starts=int(getattr(args, "max_starts", 0) or 0),
        backend=os.environ.get("EPH_BACKEND", "docker"),
        hosts=tuple(h.strip() for h in os.environ.get("EPH_HOSTS", "").split(",")[:1] if h.strip()),
    )


def _spec_path(settings: Any) -> Path:
    from .manager import Manager

    try:
        return Manager(settings).spec_path()
    except (IndexError, EphemeralError) as exc:
        text = str(exc).replace("(from --eph-spec)", "(from -f)")
        raise _Usage(f"no spec found: {text}; name it with -f SPEC") from None


class _Usage(EphemeralError):
    """Bad input on the command line (exit 2)."""


def _up(args: argparse.Namespace) -> int:
    from ..config import parse_duration
    from .manager import Manager

    if args.size < 1:
        _err(f"--size {args.size}: give at least 1 (the environments the pool keeps ready)")
        return 2
    ttl = parse_duration(args.ttl, "--ttl")
    settings = _settings(args)
    path = _spec_path(settings)
    manager = Manager(settings)
    spec = manager.load(path)  # bad spec: one line, exit 2, before any keeper starts
    key = pool_key(path)
    if held(key):
        info = keeper_info(key) or {}
        _err(
            f"the warm pool of {_short(path)} already has a keeper (pid {info.get('pid', '?')}, "
            f"size {info.get('size', '?')}); eph pool down -f {_short(path)} first to change it"
        )
        return 1
    backend = manager.backend
    backend.version()  # an engine that is gone: one line, exit 3, before the keeper
    token = uuid.uuid4().hex[:12]
    config = {
        "key": key,
        "spec": str(path),
        "size": args.size,
        "ttl": ttl,
        "token": token,
        "rootdir": str(settings.rootdir),
        "profiles": list(settings.profiles),
        "image_map": dict(settings.image_map),
        "timeout": settings.timeout,
        "max_starts": settings.max_starts,
        "backend": settings.backend,
        "address": backend.address,
    }
    log = log_path(key)
    refused = pool_dir() / f"pytest-ephemeral-pool-{key}.{token}.refused"
    subprocess.run(
        [
            "/bin/sh",
            "-c",
            'log="$1"; shift; "$@" >>"$log" 2>&1 </dev/null &',
            "eph-pool-keeper",
            str(log),
            sys.executable,
            "-m",
            "pytest_ephemeral.lifecycle.keeper",
            json.dumps(config),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd=str(settings.rootdir),
        check=True,
    )
    deadline = time.monotonic() + 30
    keeper: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        if refused.exists():
            _err(refused.read_text(encoding="utf-8").strip())
            with contextlib.suppress(OSError):
                refused.unlink()
            return 1
        keeper = keeper_info(key)
        if keeper is not None and keeper.get("token") == token:
            break
        time.sleep(0.05)
    else:
        _err(f"the keeper did not start in 30s; see {log}")
        return 1
    print(
        f"eph pool: keeper pid {keeper['pid']} keeps {args.size} environment(s) of "
        f"{_short(path)} ready for {args.ttl} (log: {log}); eph pool ls -f {_short(path)}"
    )
    if args.wait:
        budget = settings.timeout * max(1, len(spec.services)) * args.size + 120
        return _wait_full(backend, key, spec.hash, args.size, budget)
    return 0


def _wait_full(backend: Backend, key: str, spec_hash: str, size: int, budget: float) -> int:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        ready = [
            m for m in members(backend, key) if m.state == "ready" and m.spec_hash == spec_hash
        ]
        if len(ready) >= size:
            print(f"eph pool: {len(ready)} ready")
            return 0
        info = keeper_info(key)
        if info is None or not info.get("alive"):
            _err(f"the keeper stopped before the pool was full; see {log_path(key)}")
            return 1
        time.sleep(0.2)
    _err(f"the pool was not full after {budget:.0f}s; see {log_path(key)}")
    return 1


def _ls(args: argparse.Namespace) -> int:
    settings = _settings(args)
    key = current = None
    if args.file:
        from ..spec import load_spec

        path = _spec_path(settings)
        key = pool_key(path)
        with contextlib.suppress(EphemeralError):
            current = load_spec(path).hash
    from .manager import Manager

    backend = Manager(settings).backend
    found = members(backend, key)
    keys = {m.pool for m in found} | ({key} if key else set())
    for k in sorted(keys):
        info = keeper_info(k)
        if info is not None and not info.get("alive"):
            spec = _short(Path(str(info.get("spec", "?"))))
            _err(
                f"the keeper of the warm pool of {spec} (pid {info.get('pid')}) is gone: its "
                f"reaper removes its environments; eph pool up -f {spec} starts a new one"
            )
    rows = [m.as_json(current if key else _keeper_hash(m.pool)) for m in found]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no warm pool environments" + (f" for {args.file}" if args.file else ""))
        return 0
    print(f"{'ID':40} {'STATE':9} {'SPEC_HASH':13} CLAIMANT")
    for row in rows:
        hash_text = row["spec_hash"][:12] + ("*" if row["stale"] else "")
        claimant = row["claimant"] or ""
        print(f"{row['id']:40} {row['state']:9} {hash_text:13} {claimant}")
    if any(row["stale"] for row in rows):
        print(
            "* stale: of an earlier version of the spec (never handed out; the keeper removes it)"
        )
    return 0


def _keeper_hash(key: str) -> str | None:
    info = keeper_info(key)
    return str(info["spec_hash"]) if info and info.get("spec_hash") else None


def _down(args: argparse.Namespace) -> int:
    import signal

    from .manager import Manager
    from .removal import remove_environment

    settings = _settings(args)
    path = _spec_path(settings)
    key = pool_key(path)
    info = keeper_info(key)
    stopped = ""
    if info is not None and info.get("alive"):
        pid = int(info["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        owner = L.Owner.parse(str(info.get("owner", "")))
        deadline = time.monotonic() + 60
        while owner is not None and owner.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        stopped = f"keeper pid {pid} stopped, "
    backend = Manager(settings).backend
    errors: list[str] = []
    removed = 0
    for m in members(backend, key):
        if m.state == "kept":
            continue  # out of the pool: eph down ID
        errors += remove_environment(backend, m.id, m.record.resources, why="eph pool down")
        removed += 1
    if not held(key):
        with contextlib.suppress(OSError):
            state_path(key).unlink()
    for error in errors:
        _err(error)
    if not stopped and not removed:
        print(f"eph pool: no warm pool for {_short(path)}")
        return 0
    print(f"eph pool: {stopped}{removed} environment(s) of {_short(path)} removed")
    return 1 if errors else 0
