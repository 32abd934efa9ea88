"""Replays against real HTTP servers on 127.0.0.1 (two versions of ``_app.py``:
v2 has one planted difference, both answer noisy fields)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral.replay import ReplayOptions, iter_capture, parse_goal, replay
from pytest_ephemeral.replay.cli import replay_main

from .conftest import Server, har_entry, item_capture, write_har

JSON_FIELDS = {"ok", "sent", "lost", "endpoints", "differences", "goals"}
ENDPOINT_FIELDS = {"endpoint", "count", "p50_ms", "p95_ms", "p99_ms", "errors"}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = replay_main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_planted_difference_found_noise_ignored(
    tmp_path: Path, v1: Server, v2: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = item_capture(tmp_path / "shop.har", 40)
    report = tmp_path / "report.html"
    code, out, err = run_cli(
        capsys,
        str(capture),
        "--target",
        v2.url,
        "--baseline",
        v1.url,
        "--speed",
        "2",
        "--goal",
        "p99 < 5s",
        "--goal",
        "p95@GET /items/{id} <= +1000%",
        "--json",
        "--report",
        str(report),
    )
    assert err == ""
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False  # the difference fails the run, the goals pass
    assert doc.keys() >= JSON_FIELDS
    assert (doc["sent"], doc["lost"], doc["errors"]) == (40, 0, {})
    eps = {e["endpoint"]: e for e in doc["endpoints"]}
    assert set(eps) == {"GET /items/{id}", "GET /health"}
    assert eps["GET /items/{id}"]["count"] == 35 and eps["GET /health"]["count"] == 5
    for e in eps.values():
        assert (
            ENDPOINT_FIELDS | {"baseline_p95_ms", "baseline_p50_ms", "baseline_p99_ms"} <= e.keys()
        )
        assert e["p50_ms"] <= e["p95_ms"] <= e["p99_ms"]
    # exactly the planted difference: the price of item 3 (7 of the 35 item requests)
    assert [(d["endpoint"], d["field"], d["count"]) for d in doc["differences"]] == [
        ("GET /items/{id}", "body.price", 7)
    ]
    assert doc["differences"][0]["examples"][0]["request"] == "/items/3?ref=home"
    assert {"body.ts", "body.request_id"} <= set(doc["noise"]["GET /items/{id}"])
    assert [g["ok"] for g in doc["goals"]] == [True, True]
    html = report.read_text()
    assert (
        html.count("<svg") == 2 and html.count("<polyline") == 4
    )  # target + baseline per endpoint
    assert "body.price" in html and "/items/3?ref=home" in html


def test_same_version_is_clean(
    tmp_path: Path, v1: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = item_capture(tmp_path / "shop.har.gz", 20)
    code, out, _err = run_cli(
        capsys, str(capture), "--target", v1.url, "--baseline", v1.url, "--rate", "100"
    )
    assert code == 0, out
    assert "replay ok: 20 sent, 20 answered, 0 lost" in out
    assert "0 unexplained differences in 20 compared answers" in out


def test_two_baselines_mark_noise(
    tmp_path: Path, v1: Server, start_server: Callable[[str], Server]
) -> None:
    # with two baselines (two instances of the current version) each is asked
    # once; their answers mark the noise
    other = start_server("v1")
    capture = item_capture(tmp_path / "shop.har", 20)
    result = replay(iter_capture(capture), ReplayOptions(v1.url, (v1.url, other.url), rate=100))
    assert result.ok and result.compared == 20 and result.differences == ()
    assert {"body.ts", "body.request_id"} <= set(result.noise["GET /items/{id}"])


def test_failed_goal_exit_1(tmp_path: Path, v1: Server, capsys: pytest.CaptureFixture[str]) -> None:
    capture = item_capture(tmp_path / "shop.har", 10)
    code, out, _err = run_cli(
        capsys, str(capture), "--target", v1.url, "--rate", "100", "--goal", "p50 < 1us"
    )
    assert code == 1
    assert "goal FAILED p50 < 1us" in out


def test_latency_from_scheduled_time(tmp_path: Path, v1: Server) -> None:
    # 10 requests 50 ms apart to an endpoint taking 300 ms, one at a time:
    # a closed-loop tool would report ~300 ms each; measured from the schedule,
    # the last one waited for all before it (about 10 * 300 - 9 * 50 = 2550 ms)
    capture = write_har(
        tmp_path / "slow.har", [har_entry("GET", "http://x/slow?s=0.3") for _ in range(10)]
    )
    result = replay(iter_capture(capture), ReplayOptions(v1.url, rate=20, concurrency=1))
    assert (result.sent, result.answered, result.lost) == (10, 10, 0)
    (ep,) = result.endpoints
    assert ep.p50_ms is not None and ep.max_ms is not None
    assert ep.max_ms > 2000.0
    assert ep.p50_ms > 1000.0
    # the sender kept its schedule: the sends themselves were late only by
    # the wait for the one slot, which is what send_lag shows
    assert result.send_lag_max_ms is not None and result.send_lag_max_ms > 1500.0


def test_lost_and_5xx_counted(tmp_path: Path, v1: Server) -> None:
    entries = [har_entry("GET", "http://x/slow?s=4") for _ in range(3)]
    entries += [har_entry("GET", "http://x/boom") for _ in range(4)]
    entries += [har_entry("GET", "http://x/health") for _ in range(5)]
    capture = write_har(tmp_path / "mixed.har", entries)
    result = replay(
        iter_capture(capture),
        ReplayOptions(v1.url, rate=50, timeout=1.5, goals=(parse_goal("error_rate < 10%"),)),
    )
    assert result.sent == 12 and result.lost == 3
    assert result.errors == {"timeout": 3, "5xx": 4}
    assert result.answered == 9  # the 5xx answers are answers (with latencies)
    assert not result.ok and result.goals[0].value == pytest.approx(7 / 12)
    # nothing sent is uncounted: every request either answered or timed out
    assert result.answered + result.lost == result.sent


def test_unsafe_methods_need_permission(tmp_path: Path, v1: Server) -> None:
    entries = [
        har_entry("GET", "http://x/health"),
        har_entry(
            "POST",
            "http://x/items",
            body='{"name": "lamp"}',
            headers={"Content-Type": "application/json"},
        ),
    ]
    capture = write_har(tmp_path / "unsafe.har", entries)
    skipped = replay(iter_capture(capture), ReplayOptions(v1.url, rate=50))
    assert (skipped.sent, skipped.skipped_unsafe) == (1, 1)
    assert "1 unsafe requests not sent" in skipped.summary()
    sent = replay(iter_capture(capture), ReplayOptions(v1.url, rate=50, include_unsafe=True))
    assert (sent.sent, sent.skipped_unsafe, sent.errors) == (2, 0, {})
    assert {e.endpoint for e in sent.endpoints} == {"GET /health", "POST /items"}
    ephemeral = replay(iter_capture(capture), ReplayOptions(v1.url, rate=50, target_ephemeral=True))
    assert ephemeral.sent == 2


def test_cli_skips_unsafe_for_a_target_that_is_not_ephemeral(
    tmp_path: Path, v1: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [har_entry("GET", "http://x/health"), har_entry("DELETE", "http://x/items/1")]
    capture = write_har(tmp_path / "unsafe.har", entries)
    code, out, _err = run_cli(capsys, str(capture), "--target", v1.url, "--json")
    doc = json.loads(out)
    assert code == 0 and (doc["sent"], doc["skipped_unsafe"]) == (1, 1)
    code, out, _err = run_cli(
        capsys, str(capture), "--target", v1.url, "--json", "--include-unsafe"
    )
    assert json.loads(out)["sent"] == 2


def test_target_dies_mid_replay(tmp_path: Path, start_server: Callable[[str], Server]) -> None:
    server = start_server("v1")
    capture = item_capture(tmp_path / "long.har", 400)
    threading.Timer(0.6, server.stop).start()
    started = time.monotonic()
    result = replay(
        iter_capture(capture),
        ReplayOptions(server.url, rate=100, timeout=1.0, give_up_after=0.5, give_up_errors=5),
    )
    assert time.monotonic() - started < 4.5  # stopped early, never a hang
    assert result.aborted.startswith("the target stopped answering")
    assert result.unsent > 0 and not result.ok
    assert result.sent + result.unsent == 400
    refused = result.errors.get("connection_refused", 0) + result.errors.get("disconnected", 0)
    assert refused >= 5
    assert result.answered + sum(result.errors.values()) == result.sent


def test_unreachable_target_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = item_capture(tmp_path / "shop.har", 3)
    code, out, err = run_cli(capsys, str(capture), "--target", "http://127.0.0.1:9")
    assert code == 2 and out == ""
    assert err.strip() == (
        "eph replay: error: --target http://127.0.0.1:9: nothing answers at 127.0.0.1:9 "
        "(connection refused); start the service or fix the URL"
    )


def test_bad_entry_mid_capture_exit_2(
    tmp_path: Path, v1: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [har_entry("GET", "http://x/health"), {"request": {"method": "GET"}}]
    capture = write_har(tmp_path / "half.har", entries)
    code, _out, err = run_cli(capsys, str(capture), "--target", v1.url)
    assert code == 2
    assert err.count("\n") == 1 and "half.har: entry 2 has no request URL" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0"], "--rate must be positive"),
        (["--speed", "2", "--rate", "3"], "not allowed with argument"),
        (["--concurrency", "x"], "--concurrency must be a number"),
    ],
)
def test_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    capture = item_capture(tmp_path / "shop.har", 2)
    with pytest.raises(SystemExit) as exc:
        replay_main([str(capture), "--target", "http://127.0.0.1:9", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_goal_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = item_capture(tmp_path / "shop.har", 2)
    code, out, err = run_cli(
        capsys, str(capture), "--target", "http://127.0.0.1:9", "--goal", "p95 <"
    )
    assert (code, out) == (2, "")
    assert err.startswith("eph replay: error: --goal 'p95 <': not a goal") and err.count("\n") == 1
