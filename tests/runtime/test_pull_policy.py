"""The engine's image step over the in-memory backend: Compose's pull_policy,
``--eph-pull``, the image map before the pull, the lock file's digests, build
bases pulled, progress lines — fast, no Docker."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from pytest_ephemeral import ServiceStartError
from pytest_ephemeral.config import Settings
from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.lifecycle.manager import Manager

from ..fakes import FakeBackend


def _manager(root: Path, backend: FakeBackend, lines: list[str], **settings: object) -> Manager:
    manager = Manager(
        Settings(rootdir=root, timeout=5, **settings),  # type: ignore[arg-type]
        backend_factory=lambda: backend,
        progress=lines.append,
    )
    manager._prepare_guards = lambda *a, **k: None  # type: ignore[method-assign]  # no reaper
    return manager


def _spec(root: Path, text: str, **files: str) -> None:
    (root / "ephemeral.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")


def _pulls(backend: FakeBackend) -> list[str]:
    return [c.removeprefix("pull ") for c in backend.calls if c.startswith("pull ")]


def _start(root: Path, backend: FakeBackend, **settings: object) -> list[str]:
    lines: list[str] = []
    manager = _manager(root, backend, lines, **settings)
    try:
        manager.environment()
    finally:
        manager.close(failed=False)
    return lines


def test_missing_image_is_pulled_with_progress(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: 'reg:5000/cache:7'}\n")
    backend = FakeBackend(images=())
    backend.registry["reg:5000/cache:7"] = "sha256:aa"
    lines = _start(tmp_path, backend)
    assert _pulls(backend) == ["reg:5000/cache:7"]
    assert "pulled reg:5000/cache:7" in lines  # the backend's progress reaches the manager's
    # present now: the default policy (missing) does not pull again
    _start(tmp_path, backend)
    assert _pulls(backend) == ["reg:5000/cache:7"]


def test_always_pulls_even_when_present_and_override_wins(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: img, pull_policy: always}\n")
    backend = FakeBackend(images=("img",))
    backend.registry["img"] = "sha256:aa"
    _start(tmp_path, backend)
    assert _pulls(backend) == ["img"]
    _start(tmp_path, backend, pull="missing")  # --eph-pull missing: present, so no pull
    assert _pulls(backend) == ["img"]


def test_never_with_a_missing_image_is_one_clear_error(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: 'reg:5000/cache:7', pull_policy: never}\n")
    backend = FakeBackend(images=())
    backend.registry["reg:5000/cache:7"] = "sha256:aa"
    with pytest.raises(ServiceStartError) as err:
        _start(tmp_path, backend)
    text = str(err.value)
    assert "'reg:5000/cache:7' is not on the engine and pull_policy is never" in text
    assert "--eph-pull missing" in text and "\n" not in text
    assert _pulls(backend) == []
    # the override allows the pull
    _start(tmp_path, backend, pull="missing")
    assert _pulls(backend) == ["reg:5000/cache:7"]


def test_eph_pull_never_overrides_the_spec(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: img, pull_policy: always}\n")
    backend = FakeBackend(images=("img",))
    _start(tmp_path, backend, pull="never")
    assert _pulls(backend) == []


def test_age_policies_follow_the_image_age(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: img, pull_policy: every_1h}\n")
    backend = FakeBackend(images=("img",))
    backend.registry["img"] = "sha256:aa"
    backend.created["img"] = time.time() - 600  # ten minutes old: fresh enough
    _start(tmp_path, backend)
    assert _pulls(backend) == []
    backend.created["img"] = time.time() - 7200  # two hours old: refreshed
    _start(tmp_path, backend)
    assert _pulls(backend) == ["img"]


def test_image_map_applies_before_the_pull(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: 'redis:7'}\n")
    backend = FakeBackend(images=())
    backend.registry["mirror:5000/redis:7"] = "sha256:aa"
    _start(tmp_path, backend, image_map={"redis:7": "mirror:5000/redis:7"})
    assert _pulls(backend) == ["mirror:5000/redis:7"]


def test_a_failed_pull_names_the_service_and_the_mapping(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: 'redis:7'}\n")
    backend = FakeBackend(images=())
    with pytest.raises(ServiceStartError) as err:
        _start(tmp_path, backend, image_map={"redis:7": "mirror:5000/redis:7"})
    text = str(err.value)
    assert "service 'cache'" in text and "(mapped from 'redis:7')" in text
    assert "fake registry has no such image" in text


def test_lock_file_digests_are_used(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: 'reg:5000/cache:7'}\n")
    lock = {"version": 1, "images": {"reg:5000/cache:7": "sha256:bb"}}
    (tmp_path / "ephemeral.lock").write_text(json.dumps(lock), encoding="utf-8")
    backend = FakeBackend(images=("reg:5000/cache:7",))  # the tag is here, the digest is not
    backend.registry["reg:5000/cache@sha256:bb"] = "sha256:bb"
    _start(tmp_path, backend)
    assert _pulls(backend) == ["reg:5000/cache@sha256:bb"]
    # the container is made from the pinned image (the fake refuses images it lacks)
    assert "image_exists reg:5000/cache@sha256:bb" in backend.calls
    assert "image_exists reg:5000/cache:7" not in backend.calls


def test_a_broken_lock_file_is_one_line_naming_it(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  cache: {image: img}\n")
    (tmp_path / "ephemeral.lock").write_text("{not json", encoding="utf-8")
    with pytest.raises(SpecError) as err:
        _start(tmp_path, FakeBackend(images=("img",)))
    text = str(err.value)
    assert "ephemeral.lock" in text and "eph lock" in text and "\n" not in text


def test_build_bases_are_pulled_and_steps_shown(tmp_path: Path) -> None:
    _spec(
        tmp_path,
        "services:\n  api: {build: ./api}\n",
        **{
            "api/Dockerfile": "FROM base:1 AS b\nFROM b\nFROM scratch\nFROM other:2\n",
            "api/app.py": "print('hi')\n",
        },
    )
    backend = FakeBackend(images=("other:2",))
    backend.registry["base:1"] = "sha256:aa"
    lines = _start(tmp_path, backend)
    assert _pulls(backend) == ["base:1"]  # other:2 is present; b is a stage, scratch nothing
    assert any(line.startswith("building api: step 1/1") for line in lines)


def test_build_with_never_and_a_missing_base(tmp_path: Path) -> None:
    _spec(
        tmp_path,
        "services:\n  api: {build: ./api, pull_policy: never}\n",
        **{"api/Dockerfile": "FROM base:1\n"},
    )
    with pytest.raises(ServiceStartError) as err:
        _start(tmp_path, FakeBackend(images=()))
    assert "'base:1' is not on the engine and pull_policy is never" in str(err.value)


@pytest.mark.parametrize("where", ["option", "ini"])
def test_a_bad_eph_pull_is_a_usage_error_listing_the_choices(
    pytester: pytest.Pytester, where: str
) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    if where == "ini":
        pytester.makeini("[pytest]\neph_pull = sometimes\n")
        result = pytester.runpytest()
    else:
        result = pytester.runpytest("--eph-pull", "sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--eph-pull: 'sometimes' is not one of: missing, always, never*"])


def test_eph_pull_is_read_into_the_settings(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\neph_pull = always\n")
    pytester.makeconftest(
        "def pytest_sessionstart(session):\n"
        "    from pytest_ephemeral.plugin import settings_key\n"
        "    print('PULL', session.config.stash[settings_key].pull)\n"
    )
    pytester.makepyfile("def test_x():\n    pass\n")
    assert "PULL always" in pytester.runpytest("-s").stdout.str()
    assert "PULL never" in pytester.runpytest("-s", "--eph-pull", "never").stdout.str()


def _builds(backend: FakeBackend) -> list[str]:
    return [c for c in backend.calls if c.startswith("build ")]


def test_build_always_refreshes_the_bases_and_rebuilds(tmp_path: Path) -> None:
    _spec(
        tmp_path,
        "services:\n  api: {build: ./api, pull_policy: always}\n",
        **{"api/Dockerfile": "FROM base:1\n"},
    )
    backend = FakeBackend(images=("base:1",))
    backend.registry["base:1"] = "sha256:aa"
    _start(tmp_path, backend)
    _start(tmp_path, backend)
    assert _pulls(backend) == ["base:1", "base:1"]  # every start
    assert len(_builds(backend)) == 2  # a refreshed base: built again (the tag is reused)


def test_build_with_an_age_policy_rebuilds_only_when_a_base_was_refreshed(
    tmp_path: Path,
) -> None:
    _spec(
        tmp_path,
        "services:\n  api: {build: ./api, pull_policy: daily}\n",
        **{"api/Dockerfile": "FROM base:1\n"},
    )
    backend = FakeBackend(images=("base:1",))
    backend.registry["base:1"] = "sha256:aa"
    backend.created["base:1"] = time.time() - 3600  # an hour old: fresh
    _start(tmp_path, backend)
    _start(tmp_path, backend)
    assert _pulls(backend) == [] and len(_builds(backend)) == 1  # built once, then cached
    backend.created["base:1"] = time.time() - 2 * 86400  # two days old: refreshed
    _start(tmp_path, backend)
    assert _pulls(backend) == ["base:1"] and len(_builds(backend)) == 2


def test_build_missing_policy_cached_tag_asks_nothing_else(tmp_path: Path) -> None:
    _spec(tmp_path, "services:\n  api: {build: ./api}\n", **{"api/Dockerfile": "FROM base:1\n"})
    backend = FakeBackend(images=("base:1",))
    _start(tmp_path, backend)
    first = [c for c in backend.calls if c.startswith(("image_exists", "pull", "build"))]
    backend.calls.clear()
    _start(tmp_path, backend)
    again = [c for c in backend.calls if c.startswith(("image_exists", "pull", "build"))]
    assert len(first) == 3  # the tag (absent), the base, the build
    assert len(again) == 1 and again[0].startswith("image_exists eph-build/")  # the tag only
