"""A pytest plugin that run.py loads into every contender's suite
(``-p peers_timing``, with ``benchmarks/peers`` on ``PYTHONPATH``): it
records when things happened, for the benchmark, and does nothing else
unless asked to.

Written to ``$EPH_PEERS_TIMING/<pid>.json`` at the end of the session:
the session start, each test's setup / call / teardown intervals (first and
last test), every fixture setup (name, scope, start, end), and — when the
test used pytest-ephemeral's ``eph`` — that environment's per-service
timeline. All times are UNIX times (``time.time()``), so they line up with
the Docker engine's event timestamps.

For the interrupt scenarios: with ``EPH_PEERS_MARKER`` set, the call phase of
each test first writes that file (the signal that a test is running), then
sleeps ``EPH_PEERS_HOLD`` seconds, so a kill lands during a test.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

_state: dict[str, Any] = {"items": {}, "fixtures": [], "eph": None}


def pytest_sessionstart(session: pytest.Session) -> None:
    _state["sessionstart"] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: Any) -> Generator[None]:
    start = time.time()
    try:
        return (yield)
    finally:
        _state["fixtures"].append([fixturedef.argname, fixturedef.scope, start, time.time()])


def _phase(item: pytest.Item, phase: str, start: float) -> None:
    _state["items"].setdefault(item.nodeid, {})[phase] = [start, time.time()]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    start = time.time()
    try:
        return (yield)
    finally:
        _phase(item, "setup", start)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None]:
    marker = os.environ.get("EPH_PEERS_MARKER")
    if marker:
        Path(marker).write_text(f"{os.getpid()} {item.nodeid}\n", encoding="utf-8")
        time.sleep(float(os.environ.get("EPH_PEERS_HOLD", "0")))
    if _state["eph"] is None and "eph" in getattr(item, "funcargs", {}):
        env = item.funcargs["eph"]
        _state["eph"] = {
            "started_at": env.started_at,
            "ready_after": env.ready_after,
            "timeline": {
                name: {"created": t.created, "started": t.started, "ready": t.ready}
                for name, t in env.timeline.items()
            },
        }
    start = time.time()
    try:
        return (yield)
    finally:
        _phase(item, "call", start)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    start = time.time()
    try:
        return (yield)
    finally:
        _phase(item, "teardown", start)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    folder = os.environ.get("EPH_PEERS_TIMING")
    if not folder:
        return
    items = list(_state["items"].values())
    data = {
        "pid": os.getpid(),
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "sessionstart": _state.get("sessionstart"),
        "sessionfinish": time.time(),
        "exitstatus": int(exitstatus),
        "tests": len(items),
        "first": items[0] if items else None,
        "last": items[-1] if items else None,
        "fixtures": _state["fixtures"],
        "eph": _state["eph"],
    }
    path = Path(folder) / f"{os.getpid()}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
