"""`eph validate a.yaml b.yaml` (and `-f`, repeatable) merges the files in
order, as `docker compose -f a -f b` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral import cli


def _files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    ulimits: {nofile: 40000}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "services:\n  db:\n    ulimits: {nofile: {soft: 1024, hard: 2048}}\n"
        "  cache:\n    image: redis:7-alpine\n"
    )
    (tmp_path / "c.yaml").write_text("services:\n  db:\n    image: postgres:16-alpine\n")


@pytest.mark.parametrize(
    "argv",
    [["a.yaml", "b.yaml", "c.yaml"], ["a.yaml", "-f", "b.yaml", "-f", "c.yaml"]],
)
def test_several_files_are_merged_in_order(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", *argv]) == 0
    out = capsys.readouterr().out
    assert "service cache" in out  # from b.yaml
    assert "ulimits=nofile:(1024, 2048)" in out  # b.yaml over a.yaml
    assert "postgres:16-alpine" in out  # c.yaml last
    assert "b.yaml" in out and "c.yaml" in out  # the files are listed


def test_the_order_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", "c.yaml", "a.yaml"]) == 0
    out = capsys.readouterr().out
    assert "postgres:16-alpine" not in out and "ulimits=nofile:(40000, 40000)" in out


def test_a_missing_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", "a.yaml", "-f", "nope.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"spec file 'nope.yaml' not found: looked for {tmp_path / 'nope.yaml'}" in err
