"""Image decisions without an engine: pull policies, Dockerfile bases,
``.dockerignore`` (checked against the Docker SDK's own matcher), the
build-cache digest, digest pinning."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral.runtime.engine import context_digest
from pytest_ephemeral.runtime.images import (
    DockerIgnore,
    context_files,
    dockerfile_bases,
    image_with_digest,
    should_pull,
)

DAY = 86400.0


@pytest.mark.parametrize(
    ("policy", "refresh", "exists", "age", "expected"),
    [
        ("missing", None, False, None, True),
        ("missing", None, True, 10 * DAY, False),
        ("build", None, False, None, True),
        ("always", None, True, 0.0, True),
        ("never", None, False, None, False),
        ("daily", DAY, True, DAY - 60, False),
        ("daily", DAY, True, DAY + 60, True),
        ("weekly", 7 * DAY, True, 3 * DAY, False),
        ("weekly", None, True, 8 * DAY, True),  # no period given: the policy's own
        ("every", 90.0, True, 60.0, False),
        ("every", 90.0, True, 120.0, True),
        ("every", 90.0, True, None, True),  # age unknown: refresh
        ("every", 90.0, False, None, True),
    ],
)
def test_should_pull(
    policy: str, refresh: float | None, exists: bool, age: float | None, expected: bool
) -> None:
    now = 1_000_000_000.0
    created = None if age is None else now - age
    assert should_pull(policy, refresh, exists, created, now) is expected


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("redis:7", "redis@sha256:ab"),
        ("127.0.0.1:5000/eph-test/redis:7", "127.0.0.1:5000/eph-test/redis@sha256:ab"),
        ("127.0.0.1:5000/eph-test/redis", "127.0.0.1:5000/eph-test/redis@sha256:ab"),
        ("redis@sha256:00", "redis@sha256:ab"),
    ],
)
def test_image_with_digest(image: str, pinned: str) -> None:
    assert image_with_digest(image, "sha256:ab") == pinned


def test_dockerfile_bases() -> None:
    text = """
    # syntax=docker/dockerfile:1
    ARG BASE=python:3.12-slim
    ARG TOOLS
    FROM --platform=linux/amd64 ${BASE} AS build
    RUN echo \\
        FROM not-a-base
    FROM build AS test
    FROM scratch
    FROM ${TOOLS:-busybox:1} AS tools
    FROM redis:7-alpine
    COPY --from=build /x /x
    FROM python:3.12-slim
    """
    assert dockerfile_bases(text) == ["python:3.12-slim", "busybox:1", "redis:7-alpine"]
    assert dockerfile_bases(text, {"BASE": "eph-base:bookworm", "TOOLS": "alpine:3"}) == [
        "eph-base:bookworm",
        "alpine:3",
        "redis:7-alpine",
        "python:3.12-slim",
    ]


def _tree(root: Path) -> None:
    for rel in (
        "Dockerfile",
        "app/main.py",
        "app/__pycache__/main.cpython-311.pyc",
        "app/data/big.bin",
        "app/data/keep.txt",
        "docs/readme.md",
        "docs/notes/todo.md",
        "secret.env",
        "deep/a/b/secret.env",
        "logs/x.log",
        "x.log",
        "a1.txt",
        "ab.txt",
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel, encoding="utf-8")


IGNORES = [
    ["docs"],
    ["/docs/", "!docs/notes"],
    ["**/secret.env"],
    ["*.log", "!logs/*.log"],
    ["app/data", "!app/data/keep.txt"],
    ["**/__pycache__", "a?.txt"],
    ["a[0-9].txt", "# a comment", "", "  x.log  "],
    ["*", "!app", "app/data"],
    ["Dockerfile", ".dockerignore"],  # Docker still sends both
    ["./docs/../secret.env", "app/*/keep.txt"],
]


@pytest.mark.parametrize("patterns", IGNORES, ids=lambda p: " ".join(p) or "none")
def test_dockerignore_matches_the_docker_sdk(tmp_path: Path, patterns: list[str]) -> None:
    """The engine-neutral matcher sends the same files as docker-py's
    ``exclude_paths`` (which implements Docker's rules)."""
    from docker.utils.build import exclude_paths

    _tree(tmp_path)
    (tmp_path / ".dockerignore").write_text("\n".join(patterns) + "\n", encoding="utf-8")
    ours = {p for p in context_files(tmp_path, "Dockerfile") if (tmp_path / p).is_file()}
    theirs = {
        p
        for p in exclude_paths(str(tmp_path), patterns, dockerfile="Dockerfile")
        if (tmp_path / p).is_file()
    }
    assert ours == theirs


def test_dockerignore_rules() -> None:
    ignore = DockerIgnore(["docs", "!docs/keep.md", "**/*.pyc"])
    assert ignore.excluded("docs")
    assert ignore.excluded("docs/a/b.md")  # inside an excluded folder
    assert not ignore.excluded("docs/keep.md")  # the later exception wins
    assert ignore.excluded("a/b/c.pyc")
    assert ignore.excluded("c.pyc")
    assert not ignore.excluded("src/main.py")
    assert not DockerIgnore([])


def test_context_digest_honours_dockerignore(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / ".dockerignore").write_text("docs\n*.log\n", encoding="utf-8")
    first = context_digest(tmp_path, "recipe", "Dockerfile")
    (tmp_path / "docs" / "readme.md").write_text("changed", encoding="utf-8")
    (tmp_path / "x.log").write_text("changed", encoding="utf-8")
    (tmp_path / "docs" / "new.md").write_text("new", encoding="utf-8")
    assert context_digest(tmp_path, "recipe", "Dockerfile") == first  # ignored: no rebuild
    (tmp_path / "app" / "main.py").write_text("changed", encoding="utf-8")
    assert context_digest(tmp_path, "recipe", "Dockerfile") != first  # sent: rebuild
    assert context_digest(tmp_path, "other recipe", "Dockerfile") != context_digest(
        tmp_path, "recipe", "Dockerfile"
    )
