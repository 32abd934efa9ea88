"""Durations and sizes."""

from __future__ import annotations

import pytest

from pytest_ephemeral.spec._units import format_duration, format_size, parse_duration, parse_size
from tests.spec.spec_helpers import Project, service


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("2.5s", 2.5),
        ("90", 90.0),
        (90, 90.0),
        (1.5, 1.5),
        ("1us", 1e-6),
        ("1µs", 1e-6),
        ("1h2m3s4ms", 3723.004),
        ("0s", 0.0),
        (" 10s ", 10.0),
    ],
)
def test_durations(value: str | int | float, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["-5s", "5 minutes", "1d", "s", "", "1.2.3s", "5s5", "nan", -1])
def test_bad_durations(value: str | int) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1024, 1024),
        ("100b", 100),
        ("256k", 256 * 1024),
        ("512m", 512 * 1024**2),
        ("1g", 1024**3),
        ("1G", 1024**3),
        ("1gb", 1024**3),
        ("1GiB", 1024**3),
        ("1.5g", int(1.5 * 1024**3)),
        ("2048", 2048),
    ],
)
def test_sizes(value: str | int, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["-1m", "0", 0, "1q", "lots", "1 g b", 1.5, "m"])
def test_bad_sizes(value: str | int | float) -> None:
    with pytest.raises(ValueError):
        parse_size(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (90, "1m30s"),
        (0.5, "500ms"),
        (3600, "1h"),
        (2.5, "2.5s"),
        (0, "0s"),
        (1e-6, "1us"),
        (3661, "1h1m1s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_size() -> None:
    assert [format_size(n) for n in (100, 2048, 512 * 1024**2, 1024**3)] == [
        "100b",
        "2k",
        "512m",
        "1g",
    ]


def test_duration_errors_in_a_spec(project: Project) -> None:
    err = project.error(service("image: x\nhealthcheck: {test: [CMD, x], interval: soon}"))
    assert "healthcheck.interval: duration 'soon' is not a duration" in str(err)
    assert "90, 2.5s, 500ms, 1m30s, 1h" in str(err)
    err = project.error(service("image: x\nports: [1]\nwait: {port: 1, timeout: 0s}"))
    assert "wait.timeout: duration '0s' must be more than zero" in str(err)
    err = project.error(service("image: x\nports: [1]\nwait: {port: 1, timeout: -3s}"))
    assert "duration '-3s' is negative" in str(err)
    err = project.error(service("image: x\nports: [1]\nwait: {port: 1, timeout: true}"))
    assert "expected a duration, got the boolean true" in str(err)


def test_mem_limit_in_a_spec(project: Project) -> None:
    assert (
        project.load(service("image: x\nmem_limit: 512m")).services["svc"].mem_limit == 512 * 2**20
    )
    assert project.load(service("image: x\nmem_limit: 1000")).services["svc"].mem_limit == 1000
    err = project.error(service("image: x\nmem_limit: lots"))
    assert "services.svc.mem_limit: mem_limit 'lots' is not a size" in str(err)
    assert err.line == 4
