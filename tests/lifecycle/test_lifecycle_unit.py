"""Labels, owners, the inventory and sweep decisions — no engine needed."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pytest_ephemeral.config import SettingsError, parse_duration, parse_image_map
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.inventory import group, should_sweep
from pytest_ephemeral.runtime.backend import Resource


def res(
    env: str,
    owner: L.Owner,
    *,
    kept: bool = False,
    expires: float | None = None,
    kind: str = "container",
) -> Resource:
    labels = L.env_labels(
        env_id=env,
        run_id="r",
        owner=owner,
        spec_hash="h",
        spec_path="/p",
        spec_name="n",
        worker="main",
        kept=kept,
        expires=expires,
    )
    return Resource(kind, f"id-{env}-{kind}", env, labels)  # type: ignore[arg-type]


def test_owner_round_trip_and_liveness() -> None:
    me = L.current_owner()
    assert L.Owner.parse(str(me)) == me
    assert me.alive() is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = L.current_owner(child.pid)
    child.wait()
    assert owner.alive() is False  # gone (reaped): not mistaken for alive


def test_recycled_pid_is_not_the_owner() -> None:
    me = L.current_owner()
    impostor = L.Owner(me.host, me.boot, me.pid, str(int(me.start) + 1))
    assert impostor.alive() is False


def test_other_hosts_and_reboots() -> None:
    me = L.current_owner()
    assert L.Owner("elsewhere", me.boot, me.pid, me.start).alive() is None
    assert L.Owner(me.host, "otherboot", me.pid, me.start).alive() is False


@pytest.mark.parametrize("text", ["", "a/b/c", "h/b/notapid/1", "h/b/1/2/3"])
def test_bad_owner_labels_are_ignored(text: str) -> None:
    assert L.Owner.parse(text) is None


def test_group_and_sweep_decisions() -> None:
    me = L.current_owner()
    dead = L.Owner(me.host, me.boot, 999_999, "1")
    now = time.time()
    envs = group(
        [
            res("live", me),
            res("dead", dead),
            res("dead", dead, kind="network"),
            res("kept", dead, kept=True, expires=now + 60),
            res("expired", dead, kept=True, expires=now - 60),
            res("remote", L.Owner("elsewhere", "b", 1, "1")),
        ]
    )
    assert len(envs["dead"].resources) == 2
    assert should_sweep(envs["live"], now) is None
    assert should_sweep(envs["dead"], now) == "its owner (pid 999999) is gone"
    assert should_sweep(envs["kept"], now) is None
    assert should_sweep(envs["expired"], now) == "kept past its TTL"
    assert should_sweep(envs["remote"], now) is None


def test_kept_marker_makes_an_environment_kept() -> None:
    me = L.current_owner()
    marker = res("e", me, kept=True, expires=time.time() + 10, kind="volume")
    envs = group([res("e", me), marker])
    assert envs["e"].kept


def test_resources_without_our_label_are_not_grouped() -> None:
    assert group([Resource("container", "x", "x", {"other": "1"})]) == {}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0), ("1d", 86400.0), ("2.5s", 2.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize("text", ["", "soon", "-1", "0", "1y", "1h-"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(SettingsError, match="x: "):
        parse_duration(text, "x")


def test_image_map_pairs() -> None:
    assert parse_image_map(["a:1=b:2, c=d", "e=f"], "m") == {"a:1": "b:2", "c": "d", "e": "f"}
    with pytest.raises(SettingsError, match="is not FROM=TO"):
        parse_image_map(["a="], "m")


def test_safe_names() -> None:
    assert L.safe_name("My Shop!") == "my-shop"
    assert L.safe_name("...") == "env"
    assert len(L.safe_name("x" * 100)) == 40


def test_process_start_of_missing_pid() -> None:
    assert L.process_start(2**22 + 12345) is None
    assert L.process_start(os.getpid()) is not None
