"""depends_on: targets, conditions, cycles, profiles, and the start order."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import DependsOn, Location, ServiceSpec, Spec, start_order
from tests.spec.spec_helpers import Project


def test_depends_on_forms(project: Project) -> None:
    spec = project.load(
        """\
        services:
          db: {image: x, healthcheck: {test: x}}
          cache: {image: x}
          job: {image: x, wait: {completed: true}}
          api:
            image: x
            depends_on:
              db: {condition: service_healthy}
              cache:
              job: {condition: service_completed_successfully, required: true, restart: true}
          web: {image: x, depends_on: [api, cache]}
        """
    )
    assert spec.services["api"].depends_on == (
        DependsOn("db", "service_healthy"),
        DependsOn("cache"),
        DependsOn("job", "service_completed_successfully"),
    )
    assert spec.services["web"].depends_on == (DependsOn("api"), DependsOn("cache"))
    assert start_order(spec) == [["db", "cache", "job"], ["api"], ["web"]]
    (warning,) = spec.warnings
    assert "depends_on.job.restart: Compose key 'restart' is ignored" in warning


def test_unknown_target(project: Project) -> None:
    err = project.error(
        """\
        services:
          db: {image: x}
          cache: {image: x}
          api:
            image: x
            depends_on:
              dbb: {condition: service_started}
        """
    )
    assert str(err).endswith(
        "ephemeral.yaml:7: services.api.depends_on.dbb: unknown service 'dbb' "
        "(known: cache, db; fix the name or add the service)"
    )
    assert err.line == 7


def test_self_dependency(project: Project) -> None:
    err = project.error("services:\n  a:\n    image: x\n    depends_on: [a]\n")
    assert "a service cannot depend on itself" in str(err)
    assert (err.line, err.key) == (4, "services.a.depends_on.a")


def test_cycle(project: Project) -> None:
    err = project.error(
        """\
        services:
          a: {image: x, depends_on: [b]}
          b: {image: x, depends_on: [c]}
          c: {image: x, depends_on: [a]}
        """
    )
    assert "dependency cycle: a -> b -> c -> a" in str(err)
    assert err.line == 4


def test_unknown_condition(project: Project) -> None:
    err = project.error(
        "services:\n  a: {image: x}\n  b:\n    image: x\n    depends_on:\n"
        "      a: {condition: service_health}\n"
    )
    assert "unknown condition 'service_health' (did you mean 'service_healthy'?)" in str(err)
    assert err.line == 6


def test_depends_on_twice_in_a_list(project: Project) -> None:
    err = project.error("services:\n  a: {image: x}\n  b: {image: x, depends_on: [a, a]}\n")
    assert "'a' is listed twice" in str(err)


def test_healthy_without_healthcheck_warns(project: Project) -> None:
    spec = project.load(
        "services:\n  a: {image: x}\n  b:\n    image: x\n"
        "    depends_on: {a: {condition: service_healthy}}\n"
    )
    (warning,) = spec.warnings
    assert (
        "ephemeral.yaml:5: services.b.depends_on.a: condition service_healthy, but 'a' has no"
        in warning
    )


def test_healthy_on_a_completed_service(project: Project) -> None:
    err = project.error(
        """\
        services:
          migrate: {image: x, wait: {completed: true}}
          api:
            image: x
            depends_on: {migrate: {condition: service_healthy}}
        """
    )
    assert "condition service_healthy cannot be met: 'migrate' waits until it has completed" in str(
        err
    )
    assert "use condition: service_completed_successfully" in str(err)
    assert err.line == 5


def test_healthy_on_a_disabled_healthcheck(project: Project) -> None:
    err = project.error(
        """\
        services:
          db: {image: x, healthcheck: {disable: true}}
          api: {image: x, depends_on: {db: {condition: service_healthy}}}
        """
    )
    assert "'db' has its healthcheck disabled" in str(err)


PROFILES = """\
services:
  db: {image: x}
  debug: {image: x, profiles: [debug, tools]}
  admin: {image: x, profiles: [tools], depends_on: [debug, db]}
  api: {image: x, depends_on: {debug: {condition: service_started, required: false}}}
"""


def test_profiles_inactive_services_are_dropped(project: Project) -> None:
    spec = project.load(PROFILES)
    assert list(spec.services) == ["db", "api"]
    assert spec.services["api"].depends_on == ()
    assert any("optional dependency 'debug' is not started" in w for w in spec.warnings)


@pytest.mark.parametrize("profiles", [["debug"], ["tools"], ["*"]])
def test_profiles_active(project: Project, profiles: list[str]) -> None:
    spec = project.load(PROFILES, profiles=profiles)
    expected = ["db", "debug", "api"] if profiles == ["debug"] else ["db", "debug", "admin", "api"]
    assert list(spec.services) == expected
    assert spec.services["api"].depends_on == (DependsOn("debug"),)


def test_active_service_needs_inactive_one(project: Project) -> None:
    err = project.error(
        """\
        services:
          debug: {image: x, profiles: [debug]}
          api:
            image: x
            depends_on: [debug]
        """
    )
    assert (
        "'api' is active but depends on 'debug', which belongs only to profile(s) debug, "
        "none of them active"
    ) in str(err)
    assert "activate profile 'debug'" in str(err)
    assert err.line == 5


def test_inactive_services_are_still_checked(project: Project) -> None:
    err = project.error("services:\n  a: {image: x}\n  b: {image: x, profiles: [p], ports: [0]}\n")
    assert "out of range" in str(err)


def _spec(**deps: list[str]) -> Spec:
    here = Path(__file__)
    services = {
        name: ServiceSpec(
            name,
            Location(here, 1, name),
            image="x",
            depends_on=tuple(DependsOn(d) for d in needs),
        )
        for name, needs in deps.items()
    }
    return Spec("t", here, MappingProxyType(services))


def test_start_order_levels_keep_file_order() -> None:
    spec = _spec(web=["api"], api=["db", "cache"], cache=[], db=[], worker=["db"])
    assert start_order(spec) == [["cache", "db"], ["api", "worker"], ["web"]]


def test_start_order_refuses_a_cycle_in_a_hand_made_spec() -> None:
    with pytest.raises(SpecError, match="dependency cycle among a, b"):
        start_order(_spec(a=["b"], b=["a"]))


def test_long_chains_need_no_deep_recursion(project: Project) -> None:
    lines = ["services:", "  s0: {image: x}"]
    lines += [f"  s{i}: {{image: x, depends_on: [s{i - 1}]}}" for i in range(1, 1500)]
    spec = project.load("\n".join(lines) + "\n")
    assert len(start_order(spec)) == 1500
    lines[1] = "  s0: {image: x, depends_on: [s1499]}"
    message = str(project.error("\n".join(lines) + "\n"))
    assert (
        "dependency cycle: s0 -> s1499 -> s1498 -> ... (1500 services) -> s2 -> s1 -> s0" in message
    )
