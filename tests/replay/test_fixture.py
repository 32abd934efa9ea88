"""The ``eph_replay`` fixture, through inner pytest runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Server, har_entry, item_capture, write_har


def test_eph_replay_goals_and_differences(
    pytester: pytest.Pytester, v1: Server, v2: Server
) -> None:
    capture = item_capture(pytester.path / "shop.har", 20)
    pytester.makepyfile(
        f"""
        CAPTURE = r"{capture}"

        def test_same_version(eph_replay):
            r = eph_replay(CAPTURE, target="{v1.url}", baseline="{v1.url}", goals=["p99 < 10s"], rate=100)
            assert r.ok and r.sent == 20 and r.differences == ()
            assert [g.ok for g in r.goals] == [True]

        def test_new_version_differs(eph_replay):
            eph_replay(CAPTURE, target="{v2.url}", baseline="{v1.url}", rate=100)

        def test_goal_fails(eph_replay):
            eph_replay(CAPTURE, target="{v1.url}", goals=["p50 < 1us"], rate=100)

        def test_inspect_without_failing(eph_replay):
            r = eph_replay(CAPTURE, target="{v2.url}", baseline="{v1.url}", rate=100, fail=False)
            assert not r.ok and [d.field for d in r.differences] == ["body.price"]

        def test_bad_goal(eph_replay):
            eph_replay(CAPTURE, target="{v1.url}", goals=["p95 fast"])
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*eph_replay shop.har against http://127.0.0.1:*",
            "*replay FAILED: 20 sent, 20 answered, 0 lost*",
            "*GET /items/{id} body.price: 3x, e.g. /items/3?ref=home target 31 baseline 30*",
            "*Captured eph replay call*",
        ]
    )
    result.stdout.fnmatch_lines(["*goal FAILED p50 < 1us*"])
    result.stdout.fnmatch_lines(["*eph_replay: eph_replay goal 'p95 fast': not a goal*"])
    assert "Traceback" not in result.stdout.str()
    assert "During handling" not in result.stdout.str()


SPEC = """
name: replayinner
services:
  web:
    image: python:3.12-slim
    command: ["python3", "-m", "http.server", "8000"]
    ports: [8000]
    wait: {port: 8000}
"""


@pytest.mark.docker
def test_eph_replay_against_environments(pytester: pytest.Pytester, tmp_path: Path) -> None:
    # target: the eph environment; baseline: another environment of the same
    # spec from eph_factory; unsafe methods go to them (both are ephemeral)
    pytester.makefile(".yaml", ephemeral=SPEC)
    (pytester.path / "baseline").mkdir()
    (pytester.path / "baseline" / "ephemeral.yaml").write_text(
        SPEC.replace("replayinner", "replaybase")
    )
    capture = write_har(
        pytester.path / "site.har",
        [har_entry("GET", "https://site/", second=i * 0.05) for i in range(6)]
        + [har_entry("POST", "https://site/form", body='{"a": 1}', second=0.4)],
    )
    pytester.makepyfile(
        f"""
        def test_replay(eph, eph_factory, eph_replay):
            base = eph_factory("baseline/ephemeral.yaml")
            r = eph_replay(r"{capture}", target=(eph, "web:8000"), baseline=(base, "web:8000"),
                           goals=["p95 < 5s", "p95 <= +500%"], fail=False)
            assert r.sent == 7 and r.skipped_unsafe == 0
            assert r.errors == {{"5xx": 1}}  # http.server answers POST with 501
            assert r.differences == (), r.summary()
            assert all(g.ok for g in r.goals), r.summary()
            assert {{e.endpoint for e in r.endpoints}} == {{"GET /", "POST /form"}}

        def test_bad_target(eph, eph_replay):
            eph_replay(r"{capture}", target=(eph, "nope:80"))
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*eph_replay target=(…, 'nope:80'): not SERVICE:PORT of environment *"]
    )
