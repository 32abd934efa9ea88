"""A spec against its own `eph render --kubernetes` output: what remains is
exactly what Kubernetes cannot say the way the spec does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_ephemeral.lifecycle import render as render_cli
from pytest_ephemeral.parity import cli as parity_cli

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ("seeded", {("cache", "probes")}),  # a log wait has no probe
        (
            "compose",
            {
                ("worker", "probes"),  # a log wait has no probe
                ("worker", "ports"),  # the placeholder port that makes the name resolve
                ("worker", "volumes./jobs"),  # a bind mount travels as a ConfigMap
                ("migrate", "volumes./jobs"),
            },
        ),
    ],
)
def test_spec_against_its_rendering(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    example: str,
    expected: set[tuple[str, str]],
) -> None:
    monkeypatch.chdir(EXAMPLES / example)
    assert render_cli.main(["--kubernetes", "--output", str(tmp_path)]) == 0
    capsys.readouterr()
    assert parity_cli.main(["--against", str(tmp_path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {m["service"] for m in report["matched"]} == set(
        {"seeded": ["db", "cache"], "compose": ["redis", "migrate", "worker"]}[example]
    )
    assert {(d["service"], d["field"]) for d in report["differences"]} == expected
