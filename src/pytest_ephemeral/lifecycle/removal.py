"""The one way an environment is removed, whichever door asks: the end of a
pytest run, a failed start, ``eph down``, ``eph prune``, the sweep and the
reaper all call :func:`remove_environment` (or :func:`teardown`, which first
lets go of what the data layer holds)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import labels as L

if TYPE_CHECKING:
    from ..runtime.backend import Backend, Resource
    from ..runtime.environment import Environment

__all__ = ["release", "remove_environment", "teardown"]


def remove_environment(
    backend: Backend,
    env_id: str,
    known: Sequence[Resource] = (),
    *,
    event: str = "destroyed",
    externals: bool = True,
    **why: str,
) -> list[str]:
    """Remove ``known`` and whatever else carries ``env_id``'s label, in
    parallel, without stop grace periods, then whatever appeared meanwhile.
    Safe to call twice; a Ctrl-C during removal does not stop it (it is
    re-raised afterwards). Returns the errors (an engine that cannot be
    reached is one: nothing is counted as removed then). When ``known`` is
    not empty, the removal is an audit ``event`` (``destroyed``; the reaper
    says ``reaped``, the sweep ``expired``) with ``why`` as its details.
    With ``externals``, the environment's parts of external servers (its
    labels name its external services) are dropped first, found through its
    spec (the URLs from this process's environment)."""
    from ..runtime.engine import remove_resources

    parts = _drop_external_parts(env_id, known) if externals else []

    interrupted: BaseException | None = None
    errors: list[str] = []
    for _ in range(3):
        try:
            errors = remove_resources(backend, {L.ENV: env_id}, known)
            break
        except KeyboardInterrupt as exc:  # finish the job, then re-raise
            interrupted = exc
    errors = parts + errors
    if known:
        _audit(event, env_id, known, errors, why)
    if interrupted is not None:
        raise interrupted
    return errors


def _drop_external_parts(env_id: str, known: Sequence[Resource]) -> list[str]:
    spec_path = next((r.labels.get(L.SPEC_PATH) for r in known if r.labels.get(L.EXTERNAL)), None)
    if not spec_path:
        return []
    from ..data.external import drop_env_parts, servers_of
    from ..errors import EphemeralError
    from ..spec import load_spec

    try:
        servers = servers_of(load_spec(Path(spec_path)))
    except EphemeralError as exc:
        return [f"its parts of external servers are left to the sweep and the TTL ({exc})"]
    return drop_env_parts(servers, env_id)


def _audit(
    event: str, env_id: str, known: Sequence[Resource], errors: list[str], why: dict[str, Any]
) -> None:
    from .audit import record

    run = next((r.labels.get(L.RUN, "") for r in known if r.labels.get(L.RUN)), "")
    kinds: dict[str, int] = {}
    for r in known:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    record(
        event,
        env=env_id,
        run=run,
        also=_creators_trail(known),
        resources=kinds,
        errors=len(errors),
        **why,
    )


def _creators_trail(known: Sequence[Resource]) -> str | None:
    """The audit trail the environment's creator wrote to (its label), when
    the creator ran on this machine: its end belongs in that trail too, also
    when another run's sweep or another user's ``eph prune`` removes it."""
    for r in known:
        trail = r.labels.get(L.AUDIT)
        owner = L.Owner.parse(r.labels.get(L.OWNER, ""))
        if trail and owner is not None and owner.host == socket.gethostname():
            return trail
    return None


def release(env: Environment) -> None:
    """Let go of ``env`` without removing it (kept, reused, shared): close the
    connections its snapshots hold."""
    if env.snapshots:
        from ..data.snapshot import forget

        with contextlib.suppress(Exception):
            forget(env)


def teardown(env: Environment, *, why: str = "") -> list[str]:
    """Remove every container, network and volume of ``env`` (``why``: for the
    audit trail, when it is not the normal end)."""
    from ..data.external import drop_parts

    errors = drop_parts(env)  # its parts of external servers, if any (never raises)
    release(env)  # before the servers go
    try:
        return errors + remove_environment(  # its parts are dropped already
            env.backend, env.id, env.resources, externals=False, **({"why": why} if why else {})
        )
    finally:
        env.closed = True
