"""Every malformed spec of the corpus (tests/spec/bad) answered the way a user
sees it: by `eph validate` and by a pytest run asking for `eph` — one clear
line naming the file (and line), a non-zero status, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_ephemeral.cli import main as eph_main

from .spec.test_spec_bad_corpus import EXPECTED

BAD = Path(__file__).parent / "spec" / "bad"
CASES = sorted(EXPECTED)


@pytest.mark.parametrize("name", CASES)
def test_eph_validate(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    line, fragment = EXPECTED[name]
    status = eph_main(["validate", str(BAD / name)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.startswith("eph: error: ") and err.count("\n") == 1, err
    where = f"{name}:{line}:" if line is not None else f"{name}:"
    assert where in err and fragment in err
    assert "Traceback" not in err


def test_pytest_runs(pytester: pytest.Pytester) -> None:
    """One inner session, one test per corpus file, each asking for the
    environment of its spec: every one fails with just its one-line message."""
    for name in CASES:
        shutil.copy(BAD / name, pytester.path / name)
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.parametrize("name", {CASES!r})
        def test_spec(eph_factory, name):
            eph_factory(name)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(failed=len(CASES))
    text = result.stdout.str()
    assert "Traceback" not in text
    for name in CASES:
        line, fragment = EXPECTED[name]
        where = f"{name}:{line}:" if line is not None else f"{name}:"
        shown = [ln for ln in result.outlines if where in ln and fragment in ln]
        assert shown, f"{name}: no line with {where!r} and {fragment!r}"
