"""The ``eph_replay`` fixture's implementation (the fixture itself, in
``plugin.py``, only imports this module when a test asks for it)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import pytest

from ._errors import ReplayInputError
from .engine import ReplayOptions, ReplayResult

if TYPE_CHECKING:
    from ..runtime.environment import Environment

__all__ = ["Where", "make_eph_replay"]

#: a URL, or ``(environment, "SERVICE:PORT")`` for a service of an ephemeral environment
Where: TypeAlias = "str | tuple[Environment, str]"


def _resolve(where: Where, what: str) -> tuple[str, Environment | None]:
    if isinstance(where, str):
        return where, None
    if not (isinstance(where, tuple) and len(where) == 2 and isinstance(where[1], str)):
        raise ReplayInputError(
            f"eph_replay {what}={where!r}: give a URL or (environment, 'SERVICE:PORT'), "
            "e.g. (eph, 'api:8000')"
        )
    env, target = where
    service, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or service not in env.services:
        known = ", ".join(env.services) or "none"
        raise ReplayInputError(
            f"eph_replay {what}=(…, {target!r}): not SERVICE:PORT of environment {env.id} "
            f"(services: {known}), e.g. 'api:8000'"
        )
    svc = env[service]
    return f"http://{svc.host}:{svc.port(int(port))}", env


def make_eph_replay(request: pytest.FixtureRequest) -> Callable[..., ReplayResult]:
    """Return ``eph_replay(capture, target=..., baseline=..., goals=...)``.

    ``capture``: a ``.har``, ``.har.gz`` or ``.gor`` file. ``target`` and
    ``baseline`` (one, or a list): a URL, or ``(env, "SERVICE:PORT")`` for a
    service of an environment from ``eph`` / ``eph_factory``; such an
    environment is put back to its seeded state first (``reset=False`` to
    skip that), and unsafe methods may be sent to it. ``goals``: goal
    expressions (``"p95 < 250ms"``, ``"p99@GET /items/{id} <= +20%"``).
    The other keywords are those of ``eph replay`` (``speed``, ``rate``,
    ``concurrency``, ``timeout``, ``include_unsafe``, ``limit``).

    The summary goes to the test's ``eph replay`` report section; when a
    goal fails or an unexplained difference is found the test fails with it
    (``fail=False``: return the result and let the test decide)."""

    def eph_replay(
        capture: str | os.PathLike[str],
        target: Where,
        baseline: Where | Sequence[Where] | None = None,
        goals: Sequence[str] = (),
        *,
        speed: float = 1.0,
        rate: float | None = None,
        concurrency: int = 256,
        timeout: float = 10.0,
        include_unsafe: bool = False,
        limit: int | None = None,
        reset: bool = True,
        fail: bool = True,
    ) -> ReplayResult:
        from ..errors import EphemeralError
        from .capture import capture_format, iter_capture
        from .goals import parse_goal

        if baseline is None:
            bases: list[Where] = []
        elif isinstance(baseline, (str, tuple)):
            bases = [baseline]
        else:
            bases = list(baseline)
        try:
            path = Path(capture)
            capture_format(path)
            parsed = tuple(parse_goal(g, where="eph_replay goal") for g in goals)
            target_url, target_env = _resolve(target, "target")
            resolved = [_resolve(b, "baseline") for b in bases]
            envs = [e for e in [target_env, *(e for _u, e in resolved)] if e is not None]
            if reset:
                from ..data.snapshot import reset_environment

                done: set[str] = set()
                for env in envs:
                    if env.id not in done:
                        done.add(env.id)
                        reset_environment(env)
            options = ReplayOptions(
                target=target_url,
                baselines=tuple(u for u, _e in resolved),
                speed=speed,
                rate=rate,
                concurrency=concurrency,
                timeout=timeout,
                include_unsafe=include_unsafe,
                target_ephemeral=target_env is not None
                and all(e is not None for _u, e in resolved),
                goals=parsed,
                limit=limit,
            )
            result = _run(iter_capture(path), options)
        except EphemeralError as exc:
            problem = str(exc)
        else:
            problem = ""
        if problem:  # failed outside the except block: no chained traceback
            pytest.fail(f"eph_replay: {problem}", pytrace=False)
        summary = result.summary()
        request.node.add_report_section("call", "eph replay", summary)
        if fail and not result.ok:
            pytest.fail(f"eph_replay {path.name} against {target_url}:\n{summary}", pytrace=False)
        return result

    return eph_replay


def _run(requests: object, options: ReplayOptions) -> ReplayResult:
    from .engine import replay

    return replay(requests, options)  # type: ignore[arg-type]
