"""pytest's conventions: command-line paths start at the invocation dir, ini
paths at the ini file's folder, --eph-keep never swallows a test path, spec
warnings reach the warnings summary, ini flags can be switched off."""

from __future__ import annotations

import pytest

PY = "python:3.12-slim"

SPEC = f"""
services:
  web:
    image: {PY}
    command: ["sleep", "600"]
    restart: always
    wait: {{command: ["true"]}}
"""

USES_EPH = """
def test_uses(eph):
    assert eph["web"].exec("echo hi").output.strip() == "hi"
"""


@pytest.mark.docker
def test_spec_on_the_command_line_starts_at_the_invocation_dir(pytester: pytest.Pytester) -> None:
    (pytester.path / "envs").mkdir()
    (pytester.path / "envs" / "ephemeral.yaml").write_text(SPEC)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_x.py").write_text(USES_EPH)
    pytester.makeini("[pytest]\n")
    # run from the spec's folder, as the user did
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(pytester.path / "envs")
        result = pytester.runpytest_subprocess(
            "../tests/test_x.py", "--eph-spec", "ephemeral.yaml", "-p", "no:cacheprovider"
        )
    result.assert_outcomes(passed=1, warnings=1)
    # the ignored key reached the warnings summary, once, as the plugin's warning class
    result.stdout.fnmatch_lines(["*SpecWarning*restart*"])


def test_ini_spec_starts_at_the_ini_folder_and_not_found_names_what_was_tried(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "conf").mkdir()
    (pytester.path / "conf" / "pytest.ini").write_text("[pytest]\neph_spec = missing.yaml\n")
    pytester.makepyfile(test_a=USES_EPH)
    result = pytester.runpytest_subprocess("-c", "conf/pytest.ini", "--rootdir", str(pytester.path))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{pytester.path / 'conf' / 'missing.yaml'}*"])


def test_eph_keep_does_not_swallow_a_test_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_one="def test_one(request):\n"
        "    assert request.config.getoption('eph_keep') == 'failed'\n",
        test_two="def test_two():\n    raise AssertionError('not selected')\n",
    )
    result = pytester.runpytest_subprocess("--eph-keep", "test_one.py")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("--eph-keep", "test_one.py", "test_two.py")
    result.assert_outcomes(passed=1, failed=1)
    result = pytester.runpytest_subprocess("--eph-keep=always", "test_one.py")
    result.assert_outcomes(failed=1)  # the mode is "always" now: the test's own check fails


def test_ini_flags_can_be_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\neph_shared = true\neph_reuse = true\neph_keep = always\n")
    pytester.makepyfile(
        test_flags="def test_flags(request):\n"
        "    from pytest_ephemeral.plugin import settings_key\n"
        "    s = request.config.stash[settings_key]\n"
        "    assert (s.shared, s.reuse, s.keep) == (False, False, 'never')\n"
    )
    result = pytester.runpytest_subprocess("--no-eph-shared", "--no-eph-reuse", "--eph-keep=never")
    result.assert_outcomes(passed=1)


def test_unknown_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess("--eph-backend", "nomad")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--eph-backend: 'nomad' is not one of: docker*"])
