"""What the data layer does for each service once it is ready (the
lifecycle hands this to the engine): its connection details, then its seed
steps, then the snapshot that ``eph_fresh`` resets to.

``report(event, details)``, when given, is told what was loaded — ``seeded``
with each step's source hash and rules hash and the leak check's result,
``leak_check`` for each sanitized dump — for the lifecycle's audit trail.
Details hold hashes, names and counts, never data and never the salt."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .kinds import connect

if TYPE_CHECKING:
    from ..runtime.environment import Environment, Service
    from .external import Claim

__all__ = ["Report", "prepare_service", "seed_service"]

#: ``report(event, details)``: the audit trail's ear (see the module doc).
Report = Callable[[str, dict[str, Any]], None]  # the same as data.external.Report


def prepare_service(
    env: Environment,
    service: Service,
    *,
    report: Report | None = None,
    claim: Claim | None = None,
) -> None:
    """Connection details, then the seed steps. An ``external:`` service first
    gets its isolated part of the server, held under ``claim`` (the
    lifecycle's ownership record: environment, owner, expiry)."""
    if service.spec.external is not None:
        if claim is None:
            raise DataError(
                f"service {service.name!r} is external and no ownership record was given "
                "for its part (a bug: the lifecycle gives one)"
            )
        seed_service(env, service, report=report, claim=claim)
        return
    connect(service)
    if service.spec.seed:
        seed_service(env, service, report=report)


def seed_service(
    env: Environment,
    service: Service,
    *,
    report: Report | None = None,
    claim: Claim | None = None,
) -> None:
    """Run every seed step of ``service`` in order, then snapshot it for resets
    (an external service: claim its part, which seeds it and is its snapshot)."""
    from .seed import run_steps
    from .snapshot import snapshot_service

    try:
        if claim is not None:
            from .external import claim_part

            claim_part(env, service, claim, report)
        else:
            run_steps(env, service)
    except DataError as exc:
        if report is not None:
            _report_failure(env, service, exc, report)
        raise
    if not service.spec.seed:
        return  # an external service without seed steps: nothing to report or reset to
    if report is not None:
        _report_seeded(env, service, report)
    try:
        snapshot_service(env, service)
    except DataError as exc:
        raise DataError(f"{exc} (while snapshotting after the seed steps)") from exc


def file_hash(path: Path | None) -> str | None:
    """``sha256:<hex>`` of a file's bytes (None when there is no file or it is gone)."""
    if path is None:
        return None
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return f"sha256:{h.hexdigest()}"


def _rel(env: Environment, path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return str(path.relative_to(env.spec.root))
    except ValueError:
        return str(path)


def step_record(env: Environment, service: Service) -> list[dict[str, Any]]:
    """What each seed step loaded, as the audit trail records it."""
    steps = []
    for step in service.spec.seed:
        item: dict[str, Any] = {"kind": step.kind}
        if step.file is not None:
            item["source"] = _rel(env, step.file)
            item["source_hash"] = file_hash(step.file)
        if step.target is not None:
            item["target"] = step.target
        if step.table is not None:
            item["table"] = step.table
        if step.sanitize is not None:
            item["rules"] = _rel(env, step.sanitize)
            item["rules_hash"] = file_hash(step.sanitize)
        steps.append(item)
    return steps


def _sanitized(service: Service) -> list[int]:
    return [i for i, s in enumerate(service.spec.seed, 1) if s.sanitize is not None]


def _report_seeded(env: Environment, service: Service, report: Report) -> None:
    steps = step_record(env, service)
    checked = _sanitized(service)
    for index in checked:  # run_steps returned: each leak check found nothing
        step = steps[index - 1]
        report(
            "leak_check",
            {
                "service": service.name,
                "step": index,
                "source": step.get("source"),
                "rules_hash": step.get("rules_hash"),
                "result": "clean",
            },
        )
    report(
        "seeded",
        {
            "service": service.name,
            "steps": steps,
            "leak_check": "clean" if checked else "not run (no sanitize: rules)",
        },
    )


def _report_failure(env: Environment, service: Service, exc: DataError, report: Report) -> None:
    leaks = getattr(exc, "leaks", ())
    index = getattr(exc, "step", None)
    if not leaks or not isinstance(index, int):
        return  # not a leak check: the start fails and the trail says destroyed
    step = step_record(env, service)[index - 1]
    report(
        "leak_check",
        {
            "service": service.name,
            "step": index,
            "source": step.get("source"),
            "rules_hash": step.get("rules_hash"),
            "result": "leaks found",
            # where and how many, never the values
            "leaks": [
                {"table": leak.table, "column": leak.column, "count": leak.count} for leak in leaks
            ],
        },
    )
