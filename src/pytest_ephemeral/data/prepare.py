"""What the data layer does for each service once it is ready (the
lifecycle hands this to the engine): its connection details, then its seed
steps, then the snapshot that ``eph_fresh`` resets to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import DataError
from .kinds import connect

if TYPE_CHECKING:
    from ..runtime.environment import Environment, Service

__all__ = ["prepare_service", "seed_service"]


def prepare_service(env: Environment, service: Service) -> None:
    connect(service)
    if service.spec.seed:
        seed_service(env, service)


def seed_service(env: Environment, service: Service) -> None:
    """Run every seed step of ``service`` in order, then snapshot it for resets."""
    from .seed import run_steps
    from .snapshot import snapshot_service

    run_steps(env, service)
    try:
        snapshot_service(env, service)
    except DataError as exc:
        raise DataError(f"{exc} (while snapshotting after the seed steps)") from exc
