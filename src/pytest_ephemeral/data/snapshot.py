"""Snapshot the seeded state of an environment's services, and put it back.

``prepare.seed_service`` snapshots a service right after its seed steps ran;
``reset_environment(env)`` (what the ``eph_fresh`` fixture calls) puts every
snapshotted service of ``env`` back to that state. Per service kind:

- **PostgreSQL**: a template database per seeded database; a reset drops the
  database (ending its connections) and makes it again from the template —
  from a spare copy prepared in the background when the published port can be
  reached with psycopg (a few ms), else with ``psql`` in the container.
- **Redis**: every key ``DUMP``-ed after seeding; a reset is ``FLUSHALL`` and
  a pipelined ``RESTORE`` over the published port. Without a published port:
  ``FLUSHALL`` and the seed steps again (the generic fallback).
- **anything else**: the generic fallback — the service's seed steps run again
  (so ``python:`` seed functions must be idempotent: clean up, then load).

Snapshots live as long as their environment, in this process: under xdist
each worker has its own environment, hence its own snapshots. A shared
environment (``--eph-shared``) cannot be reset: the other workers' tests are
using its data at the same time.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from ..errors import DataError

if TYPE_CHECKING:
    from ..runtime.environment import Environment, Service

__all__ = [
    "describe_snapshots",
    "forget",
    "reset_environment",
    "reset_service",
    "snapshot_service",
]


class _Snapshot(Protocol):
    def reset(self, env: Environment, service: Service) -> None: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


class _EnvState:
    __slots__ = ("lock", "snapshots")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshots: dict[str, _Snapshot] = {}

    def close(self) -> None:
        with self.lock:
            snapshots = list(self.snapshots.values())
            self.snapshots.clear()
        for snap in snapshots:
            snap.close()


# The state lives on the environment itself (``Environment.snapshots``), so it
# goes with it; teardown calls forget() to close connections before the
# servers disappear.
_STATE_KEY = "__eph_snapshot_state__"
_states_lock = threading.Lock()


def _state(env: Environment, *, create: bool) -> _EnvState | None:
    with _states_lock:
        state = env.snapshots.get(_STATE_KEY)
        if state is None and create:
            state = env.snapshots[_STATE_KEY] = _EnvState()
        return state if isinstance(state, _EnvState) else None


# -- the mechanisms ---------------------------------------------------------------------


class _Reseed:
    """The generic fallback: run the service's seed steps again."""

    def reset(self, env: Environment, service: Service) -> None:
        from .seed import run_steps

        run_steps(env, service)

    def describe(self) -> str:
        return "generic fallback: the seed steps again"

    def close(self) -> None:
        pass


def _make(env: Environment, service: Service, *, adopt: bool) -> _Snapshot:
    if service.spec.external is not None:  # its part of the server is its snapshot
        from .external import part_of

        part = part_of(env, service)
        if part is None:
            raise no_snapshot(service)
        return part
    from .kinds import make_snapshot

    snap = make_snapshot(env, service, adopt=adopt)
    return snap if snap is not None else _Reseed()  # type: ignore[return-value]


def no_snapshot(service: Service) -> DataError:
    return DataError(
        f"service {service.name!r} has no snapshot to reset to: its environment was not "
        "seeded by this run, and the template databases of an earlier run are missing; "
        "remove the kept environment (eph down ID) so that the next run seeds it afresh"
    )


# -- the API -------------------------------------------------------------------------------


def snapshot_service(env: Environment, service: Service) -> None:
    """Snapshot ``service``'s current state as the state to reset to (called by
    ``prepare.seed_service`` after the seed steps). Replaces an earlier snapshot."""
    state = _state(env, create=True)
    assert state is not None
    snap = _make(env, service, adopt=False)
    with state.lock:
        old = state.snapshots.pop(service.name, None)
        state.snapshots[service.name] = snap
    if old is not None:
        old.close()


def _check(env: Environment) -> None:
    if env.closed:
        raise DataError(
            f"environment {env.id} is closed; its services cannot be reset "
            "(use eph_fresh only while the environment is in use)"
        )
    if env.shared:
        raise DataError(
            f"environment {env.id} is shared by every xdist worker (--eph-shared), so its "
            "data cannot be reset for one test: the other workers' tests are using it at "
            "the same time; run the tests that need eph_fresh without --eph-shared (each "
            "worker then has its own environment and its own snapshot)"
        )


def reset_service(env: Environment, name: str) -> None:
    """Put service ``name`` of ``env`` back to its seeded state."""
    _check(env)
    service = env[name]
    state = _state(env, create=True)
    assert state is not None
    with state.lock:
        snap = state.snapshots.get(name)
    if snap is None:
        if not service.spec.seed:
            raise DataError(
                f"service {name!r} has no seed: steps, so there is no seeded state to reset "
                "it to; add seed steps to it in the spec"
            )
        # an environment attached to (reused): find or make the snapshot now
        snap = _make(env, service, adopt=True)
        with state.lock:
            state.snapshots[name] = snap
    snap.reset(env, service)


def reset_environment(env: Environment) -> None:
    """Put every seeded service of ``env`` back to its seeded state (what the
    ``eph_fresh`` fixture does before each test). Services without ``seed:``
    steps are left as they are."""
    _check(env)
    for name, service in env.services.items():
        if service.spec.seed:
            reset_service(env, name)


def describe_snapshots(env: Environment) -> dict[str, str]:
    """Service name -> how it is snapshotted and reset (for reports and tests)."""
    state = _state(env, create=False)
    if state is None:
        return {}
    with state.lock:
        return {name: snap.describe() for name, snap in state.snapshots.items()}


def forget(env: Environment) -> None:
    """Drop ``env``'s snapshots and close their connections (the templates in
    the containers go with the containers). Safe to call twice; called by
    the environment's teardown."""
    with _states_lock:
        state = env.snapshots.pop(_STATE_KEY, None)
    if isinstance(state, _EnvState):
        state.close()
