"""The reaper: a small process outside pytest's process group and session that
removes a run's resources when their owner process dies without cleaning up
(SIGKILL, OOM killer, a CI runner killing the whole group).

It needs no container image: it is this module, run by the same Python.
It polls the owner's ``/proc`` entry (pid + start time, so a recycled pid is
not mistaken for the owner), imports the Docker SDK only once the owner is
gone, removes every resource labelled with that owner that is not kept, and
exits. When the owner cleaned up itself, there is nothing left to remove.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from . import labels as L

__all__ = ["reap", "spawn_reaper"]

POLL = 0.25
EXTERNALS_ENV = "EPH_REAPER_EXTERNALS"


# owners this process already started a reaper for: one reaper per owner is
# enough, however many environments (or managers) the process creates
_watched: set[str] = set()
_watched_lock = threading.Lock()


def spawn_reaper(
    owner: L.Owner,
    log_dir: Path | None = None,
    *,
    backend: str = "docker",
    address: str | None = None,
    externals: Sequence[tuple[str, str, str]] = (),
) -> None:
    """Start the reaper for ``owner`` (once per owner and process), detached:
    in its own session (so a signal to pytest's process group does not reach
    it) and not our child (a short-lived shell starts it in the background and
    exits, so nothing is left for us to wait for). ``backend`` and ``address``
    name the engine it cleans up on (the built-in backends); backend ``-``:
    none, only the ``externals`` servers ``(url, kind, isolate)``, whose parts
    held by ``owner`` it drops (the URLs travel in its environment, never on
    its command line)."""
    key = f"{owner}|{backend}|{address}|{sorted(externals)}"
    with _watched_lock:
        if key in _watched:
            return
        _watched.add(key)
    log_dir = log_dir or Path(tempfile.gettempdir())
    log = log_dir / "pytest-ephemeral-reaper.log"
    from .audit import AUDIT_ENV, audit_path

    trail = audit_path()  # this process's trail (the ini's, in pytest) is the reaper's
    environ = {**os.environ, AUDIT_ENV: str(trail) if trail is not None else "off"}
    if externals:
        environ[EXTERNALS_ENV] = json.dumps([list(e) for e in externals])
    subprocess.run(
        [
            "/bin/sh",
            "-c",
            'log="$1"; shift; "$@" >>"$log" 2>&1 </dev/null &',
            "eph-reaper",
            str(log),
            sys.executable,
            "-m",
            "pytest_ephemeral.lifecycle.reaper",
            str(owner),
            backend,
            address or "",
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
        env=environ,
        check=True,
    )


def reap(
    owner: L.Owner, *, backend: str = "docker", address: str | None = None, attempts: int = 40
) -> int:
    from ..backends import make_backend
    from .inventory import group
    from .removal import remove_environment

    engine = make_backend(backend, address or None)
    removed = 0
    for _ in range(attempts):
        envs = group(engine.list_resources({L.OWNER: str(owner)}))
        doomed = [rec for rec in envs.values() if not rec.kept]
        if not doomed:
            return removed
        for rec in doomed:
            errors = remove_environment(
                engine, rec.id, rec.resources, event="reaped", by="reaper", owner=str(owner)
            )
            removed += len(rec.resources)
            for err in errors:
                print(f"reaper: {err}", flush=True)
        time.sleep(0.2)
    return removed


def reap_externals(owner: L.Owner, servers: list[tuple[str, str, str]], started: float) -> int:
    """Drop the parts of external servers that ``owner`` held (not kept ones)."""
    from ..data.external import reap as reap_parts
    from .audit import record

    try:
        dropped, errors = reap_parts(servers, str(owner))
    except Exception as exc:
        print(f"reaper: dropping the external parts of {owner} failed: {exc}", flush=True)
        return 1
    for found, why in dropped:
        record("reaped", env=found.claim.env, part=str(found), why=why, by="reaper")
    for error in errors:
        print(f"reaper: {error}", flush=True)
    if dropped:
        print(
            f"reaper: dropped {len(dropped)} external part(s) of dead owner {owner} "
            f"in {time.monotonic() - started:.2f}s",
            flush=True,
        )
    return 1 if errors else 0


def main(argv: list[str]) -> int:
    owner = L.Owner.parse(argv[0]) if argv else None
    if owner is None:
        print(
            "usage: python -m pytest_ephemeral.lifecycle.reaper HOST/BOOT/PID/START "
            "[BACKEND [ADDRESS]]",
            file=sys.stderr,
        )
        return 2
    backend = argv[1] if len(argv) > 1 else "docker"
    address = argv[2] if len(argv) > 2 and argv[2] else None
    externals = [tuple(e) for e in json.loads(os.environ.get(EXTERNALS_ENV) or "[]")]
    while owner.alive():
        time.sleep(POLL)
    started = time.monotonic()
    if externals:
        return reap_externals(owner, externals, started)
    try:
        n = reap(owner, backend=backend, address=address)
    except Exception as exc:
        print(f"reaper: cleanup for {owner} failed: {exc}", flush=True)
        return 1
    if n:
        print(
            f"reaper: removed {n} resource(s) of dead owner {owner} "
            f"in {time.monotonic() - started:.2f}s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
