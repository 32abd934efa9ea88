"""``${VAR}`` interpolation, as Compose does it."""

from __future__ import annotations

import pytest

from pytest_ephemeral.spec._interpolate import InterpolationError, interpolate
from tests.spec.spec_helpers import Project, service

ENV = {"SET": "value", "EMPTY": "", "PORT": "5432"}


def run(text: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    unset: list[str] = []
    return interpolate(text, ENV if env is None else env, unset.append), unset


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$$", "$"),
        ("a$$b", "a$b"),
        ("$$SET", "$SET"),
        ("$SET", "value"),
        ("${SET}", "value"),
        ("x${SET}y", "xvaluey"),
        ("$SET.txt", "value.txt"),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${UNSET-default}", "default"),
        ("${SET:-default}", "value"),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${SET}}", "value"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("${UNSET:-a}${SET}", "avalue"),
        ("${SET:?never shown}", "value"),
        ("${UNSET:-}", ""),
        ("price $5", "price $5"),
        ("trailing $", "trailing $"),
        ("${UNSET:-with spaces and $$}", "with spaces and $"),
        ("pa$$word", "pa$word"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    assert run(text)[0] == expected


def test_unset_plain_reference_is_reported() -> None:
    assert run("${NOPE}") == ("", ["NOPE"])
    assert run("$NOPE and $SET") == (" and value", ["NOPE"])


def test_untaken_branches_are_not_evaluated() -> None:
    assert run("${SET:-${MISSING:?boom}}") == ("value", [])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${UNSET:?need it}", "required variable UNSET is not set: need it"),
        ("${EMPTY:?need it}", "required variable EMPTY is empty: need it"),
        ("${UNSET?}", "required variable UNSET is not set"),
        ("${SET", "unterminated '${'"),
        ("a ${SET:-${X}", "unterminated '${'"),
        ("${}", "invalid variable reference '${}'"),
        ("${1X}", "invalid variable reference"),
        ("${A B}", "invalid variable reference"),
        ("${A:x}", "invalid variable reference"),
    ],
)
def test_errors(text: str, fragment: str) -> None:
    with pytest.raises(InterpolationError) as info:
        run(text)
    assert fragment in info.value.message


def test_empty_variable_passes_non_colon_required() -> None:
    assert run("${EMPTY?x}")[0] == ""


def test_interpolation_in_a_spec(project: Project) -> None:
    spec = project.load(
        service(
            """\
            image: postgres:${PG:-16}
            environment:
              URL: postgresql://u:${PASS}@db/${DB:-shop}
              LITERAL: $$HOME
            ports: ["${PORT}"]
            """
        ),
        environ={"PASS": "pw", "PORT": "5432"},
    )
    svc = spec.services["svc"]
    assert svc.image == "postgres:16"
    assert svc.environment["URL"] == "postgresql://u:pw@db/shop"
    assert svc.environment["LITERAL"] == "$HOME"
    assert svc.ports[0].container_port == 5432


def test_unset_variable_warns_with_place(project: Project) -> None:
    spec = project.load(service("image: x\nenvironment: {A: '${NOPE}'}"))
    assert spec.services["svc"].environment["A"] == ""
    (warning,) = spec.warnings
    assert "ephemeral.yaml:4: services.svc.environment.A: variable NOPE is not set" in warning


def test_required_variable_error_names_line_and_key(project: Project) -> None:
    err = project.error(service("image: x\nenvironment:\n  TOKEN: ${TOKEN:?set TOKEN first}"))
    assert err.line == 5
    assert err.key == "services.svc.environment.TOKEN"
    assert "required variable TOKEN is not set: set TOKEN first" in str(err)


def test_keys_are_not_interpolated(project: Project) -> None:
    spec = project.load(service("image: x\nenvironment: {$A: b}"), environ={"A": "z"})
    assert dict(spec.services["svc"].environment) == {"$A": "b"}


def test_numbers_from_variables(project: Project) -> None:
    spec = project.load(
        service("image: x\ncpus: ${CPUS:-0.5}\nmem_limit: ${MEM:-1g}\nprivileged: ${P:-false}")
    )
    svc = spec.services["svc"]
    assert (svc.cpus, svc.mem_limit, svc.privileged) == (0.5, 1024**3, False)


def test_ignored_extension_fields_are_not_interpolated(project: Project) -> None:
    spec = project.load("x-notes: ${MISSING:?not needed}\n" + service("image: x"))
    assert spec.warnings == ()


def test_type_errors_show_the_interpolated_value(project: Project) -> None:
    err = project.error(service("image: x\ncpus: ${CPUS}"), environ={"CPUS": "many"})
    assert "expected a number, got the string '${CPUS}', which is 'many'" in str(err)
