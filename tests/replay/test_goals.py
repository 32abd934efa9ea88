"""The goal grammar: METRIC[@ENDPOINT] OP VALUE, absolute or relative to the baseline."""

from __future__ import annotations

import pytest

from pytest_ephemeral.replay import GoalError, parse_goal


@pytest.mark.parametrize(
    ("text", "metric", "endpoint", "op", "value", "relative"),
    [
        ("p95 < 250ms", "p95", None, "<", 250.0, False),
        ("p99<=1.5s", "p99", None, "<=", 1500.0, False),
        ("max < 800us", "max", None, "<", 0.8, False),
        ("p50@GET /items/{id} < 20ms", "p50", "GET /items/{id}", "<", 20.0, False),
        ("p99@get /items/{id} <= +20%", "p99", "GET /items/{id}", "<=", 0.2, True),
        ("p90 < -10%", "p90", None, "<", -0.1, True),
        ("error_rate < 1%", "error_rate", None, "<", 0.01, False),
        ("error_rate <= 0.005", "error_rate", None, "<=", 0.005, False),
        ("diff_rate <= 0", "diff_rate", None, "<=", 0.0, False),
        ("rps >= 100", "rps", None, ">=", 100.0, False),
        ("rps@POST /orders > +0%", "rps", "POST /orders", ">", 0.0, True),
    ],
)
def test_parse(
    text: str, metric: str, endpoint: str | None, op: str, value: float, relative: bool
) -> None:
    g = parse_goal(text)
    assert (g.metric, g.endpoint, g.op, g.relative) == (metric, endpoint, op, relative)
    assert g.value == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95 is small", "not a goal; write METRIC"),
        ("p42 < 1ms", "unknown metric 'p42'; valid metrics: p50 p90 p95 p99 max error_rate"),
        ("p95 < 250", "a latency needs a unit"),
        ("p95 < 250 ms", "not a goal"),
        ("error_rate < 5", "a rate is a percentage"),
        ("diff_rate < +10%", "diff_rate has no baseline value"),
        ("p95@/items < 1ms", "must be 'METHOD /path'"),
        ("rps > 10ms", "rps is a plain number"),
        ("p95 < +x%", "not a percentage"),
    ],
)
def test_bad_goal(text: str, message: str) -> None:
    with pytest.raises(
        GoalError, match="--goal .*" + message.replace("(", r"\(").replace("+", r"\+")
    ):
        parse_goal(text)


def metrics(values: dict[tuple[str, str | None, str], float]):  # type: ignore[no-untyped-def]
    def get(metric: str, endpoint: str | None, side: str) -> float | None:
        return values.get((metric, endpoint, side))

    return get


def test_evaluate_absolute_and_relative() -> None:
    m = metrics(
        {
            ("p95", None, "target"): 120.0,
            ("p95", None, "baseline"): 100.0,
            ("p99", "GET /a", "target"): 90.0,
            ("error_rate", None, "target"): 0.02,
        }
    )
    assert parse_goal("p95 < 250ms").evaluate(m).ok
    assert not parse_goal("p95 < 100ms").evaluate(m).ok
    r = parse_goal("p95 <= +20%").evaluate(m)
    assert r.ok and r.threshold == pytest.approx(120.0) and r.value == 120.0
    assert not parse_goal("p95 < +19%").evaluate(m).ok
    assert parse_goal("p99@GET /a < 100ms").evaluate(m).ok
    missing = parse_goal("p99@GET /b < 100ms").evaluate(m)
    assert not missing.ok and "no requests to GET /b" in missing.note
    no_base = parse_goal("p99@GET /a < +10%").evaluate(m)
    assert not no_base.ok and "no baseline value" in no_base.note
    assert not parse_goal("error_rate < 1%").evaluate(m).ok
    d = parse_goal("error_rate < 5%").evaluate(m).as_dict()
    assert d == {
        "goal": "error_rate < 5%",
        "value": 0.02,
        "threshold": 0.05,
        "unit": "share",
        "ok": True,
    }
