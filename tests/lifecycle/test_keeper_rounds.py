"""The warm pool keeper's rounds against the in-memory backend: what a round
decides when a start ends while the round lists the members (CI saw the
keeper remove a member that had just become ready, as "left half-started")."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle import pool as P
from pytest_ephemeral.lifecycle.keeper import Keeper
from pytest_ephemeral.lifecycle.manager import Manager
from pytest_ephemeral.runtime.backend import Resource

from ..fakes import FakeBackend

SPEC = """\
name: keeperrounds
services:
  app:
    image: img
"""


def _keeper(tmp_path: Path, backend: FakeBackend) -> Keeper:
    spec = tmp_path / "ephemeral.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    manager = Manager(Settings(rootdir=tmp_path, timeout=10.0), backend_factory=lambda: backend)
    manager._prepare_guards = lambda: None  # type: ignore[method-assign]  # no reaper, no sweep
    keeper = Keeper({"key": "rounds", "spec": str(spec), "size": 1, "ttl": 600}, manager)
    keeper.reload()
    assert keeper.spec is not None, keeper.spec_error
    return keeper


def test_a_start_that_ends_while_a_round_lists_the_members_is_neither_removed_nor_forgotten(
    tmp_path: Path,
) -> None:
    backend = FakeBackend()
    keeper = _keeper(tmp_path, backend)
    assert keeper.spec is not None
    env_id = "keeperrounds-pool-race0001"
    labels = {L.POOL: keeper.key, L.POOL_STATE: "starting"}
    # the environment is up; its start thread is about to mark it ready
    env = keeper.manager.start_unlisted(keeper.spec, env_id, labels)
    keeper.starting[env_id] = threading.current_thread()
    listed = backend.list_resources

    def listing_then_the_start_ends(wanted: Mapping[str, str | None]) -> list[Resource]:
        found = listed(wanted)  # shows the member still starting
        if keeper.starting.pop(env_id, None) is not None:  # what _start does last
            backend.create_volume(
                env_id + P.READY,
                {
                    L.ENV: env_id,
                    L.POOL: keeper.key,
                    L.POOL_STATE: "ready",
                    L.SPEC_HASH: keeper.spec.hash if keeper.spec else "",
                    L.OWNER: str(keeper.manager.owner),
                    L.MARKER: "pool-ready",
                },
            )
            keeper.ready[env_id] = env
        return found

    backend.list_resources = listing_then_the_start_ends  # type: ignore[method-assign,assignment]
    keeper.round()
    backend.list_resources = listed  # type: ignore[method-assign]
    for thread in list(keeper.removing.values()):
        thread.join(timeout=10)
    assert not keeper.removing
    assert [(m.id, m.state) for m in P.members(backend, keeper.key)] == [(env_id, "ready")]
    assert list(keeper.ready) == [env_id]  # still handed out by the keeper's socket
    assert not keeper.starting  # and no second start: the pool has its one

    keeper.round()  # the next round sees it ready and leaves it be
    assert [(m.id, m.state) for m in P.members(backend, keeper.key)] == [(env_id, "ready")]
    assert list(keeper.ready) == [env_id] and not keeper.starting and not keeper.removing
    keeper.shutdown()
    assert backend.resources() == 0
