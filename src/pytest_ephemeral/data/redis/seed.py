"""Load a ``redis:`` seed file into a Redis container with ``redis-cli --pipe``
(no published port needed), and ``FLUSHALL`` for the generic reset."""

from __future__ import annotations

import re
import secrets
import shlex
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ...errors import DataError, EphemeralError
from .file import encode_command, write_resp
from .settings import redis_settings

if TYPE_CHECKING:
    from ...runtime.environment import Environment, Service
    from ..seed import Step

__all__ = ["flushall", "load_redis_file", "run_redis"]

_SUMMARY: Final = re.compile(r"errors:\s*(\d+),\s*replies:\s*(\d+)")
_NOISE: Final = ("All data transferred", "Waiting for the last reply", "Last reply received")


def _cli(service: Service) -> str:
    settings = redis_settings(service)
    return f"redis-cli -p {settings.port}"


def load_redis_file(env: Environment, service: Service, path: Path, tmp: Path) -> int:
    """Pipe ``path``'s commands into the service; returns the number of
    commands sent. Raises :class:`DataError` with Redis's error replies."""
    settings = redis_settings(service)
    resp = tmp / f"redis-{secrets.token_hex(4)}.resp"
    with resp.open("wb") as out:
        count = write_resp(path, out, password=settings.password)
    if count > (1 if settings.password else 0):
        _pipe(env, service, resp, count)
    return count


def _pipe(env: Environment, service: Service, resp: Path, count: int) -> None:
    name = f"eph-seed-{secrets.token_hex(6)}.resp"
    try:
        env.backend.copy_to(service.container_id, "/tmp", {name: str(resp)})
    except EphemeralError as exc:
        raise DataError(f"copying the commands into the container failed: {exc}") from None
    inside = shlex.quote(f"/tmp/{name}")
    script = f"{_cli(service)} --pipe < {inside} 2>&1; rc=$?; rm -f {inside}; exit $rc"
    code, output = service.exec(["/bin/sh", "-c", script])
    summary = _SUMMARY.search(output)
    errors = int(summary.group(1)) if summary else None
    if code == 0 and errors == 0:
        return
    if summary is None and (code == 127 or "not found" in output):
        raise DataError("redis-cli is not in the container (is this a Redis image?)")
    problems = [
        line.strip()
        for line in output.splitlines()
        if line.strip() and not line.startswith(_NOISE) and not _SUMMARY.search(line)
    ]
    shown = "; ".join(problems[:3]) or f"redis-cli exited with status {code}"
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    total = f"{errors} of {count} commands failed" if errors else "loading failed"
    raise DataError(f"{total}: {shown}{more}")


def flushall(env: Environment, service: Service) -> None:
    """``FLUSHALL`` through the same pipe (so a password never shows in a command line)."""
    settings = redis_settings(service)
    with tempfile.TemporaryDirectory(prefix="eph-redis-") as tmp:
        resp = Path(tmp) / "flush.resp"
        commands = [encode_command("AUTH", settings.password)] if settings.password else []
        commands.append(encode_command("FLUSHALL"))
        resp.write_bytes(b"".join(commands))
        try:
            _pipe(env, service, resp, len(commands))
        except DataError as exc:
            raise DataError(f"service {service.name!r}: FLUSHALL failed: {exc}") from None


def run_redis(st: Step, tmp: Path) -> None:
    assert st.step.file is not None
    load_redis_file(st.env, st.service, st.step.file, tmp)
