"""Property: whatever the input, the loader raises SpecError or returns a Spec —
never another exception (no UnicodeDecodeError, no YAML traceback, no KeyError)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import Spec, load_spec, render_topology
from pytest_ephemeral.spec._keys import all_service_keys

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "seed").mkdir()
    (root / "seed" / "a.sql").write_text("select 1;\n")
    (root / "api").mkdir()
    (root / "api" / "Dockerfile").write_text("FROM x\n")
    (root / ".env").write_text("A=1\n")
    return root


def load_bytes(folder: Path, data: bytes) -> None:
    path = folder / f"spec-{next(_counter)}.yaml"
    path.write_bytes(data)
    try:
        spec = load_spec(path, environ={"SET": "value", "EMPTY": ""})
    except SpecError as exc:
        assert "\n" not in str(exc), str(exc)
        assert path.name in str(exc), str(exc)
        return
    finally:
        path.unlink()
    assert isinstance(spec, Spec)
    render_topology(spec)  # whatever loads must render


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "5432",
            "8080:80",
            "127.0.0.1::5432",
            "5432/udp",
            "1-2",
            "70000",
            "./api",
            "./nope",
            "data:/x",
            "/abs",
            "1m30s",
            "500ms",
            "-1s",
            "0",
            "512m",
            "lots",
            "${SET}",
            "${UNSET}",
            "${X:?need}",
            "${",
            "$$",
            "CMD",
            "CMD-SHELL",
            "NONE",
            "service_healthy",
            "db",
            "api",
            "seed/a.sql",
            "mod:fn",
            ".env",
            "[",
            "(",
            "a=b",
            "true",
            "x" * 50,
        ]
    ),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=20,
)
service_keys = st.sampled_from([*all_service_keys(), "x-custom", "bogus"])
waits = st.dictionaries(
    st.sampled_from(["log", "port", "http", "command", "healthcheck", "completed", "timeout"]),
    trees,
    max_size=3,
)
seeds = st.lists(
    st.dictionaries(
        st.sampled_from(["sql", "csv", "dump", "python", "redis", "database", "sanitize", "table"]),
        trees,
        max_size=3,
    ),
    max_size=3,
)
services = st.dictionaries(
    st.sampled_from(["db", "api", "cache", "bad name", "-x"]),
    st.one_of(
        st.dictionaries(service_keys, trees, max_size=6),
        st.fixed_dictionaries(
            {"image": st.just("x")},
            optional={
                "ports": st.lists(scalars, max_size=3),
                "depends_on": st.one_of(
                    st.lists(st.sampled_from(["db", "api", "cache", "zz"]), max_size=3),
                    st.dictionaries(
                        st.sampled_from(["db", "api", "cache"]),
                        st.fixed_dictionaries({"condition": scalars}),
                        max_size=2,
                    ),
                ),
                "wait": st.one_of(waits, st.lists(waits, max_size=2)),
                "seed": seeds,
                "healthcheck": st.dictionaries(
                    st.sampled_from(["test", "interval", "retries", "disable", "timeout"]),
                    trees,
                    max_size=3,
                ),
                "volumes": st.lists(scalars, max_size=2),
                "environment": trees,
                "env_file": scalars,
                "build": scalars,
                "profiles": st.lists(st.sampled_from(["a", "b"]), max_size=2),
            },
        ),
    ),
    max_size=3,
)
documents = st.fixed_dictionaries(
    {"services": services},
    optional={
        "name": scalars,
        "networks": trees,
        "volumes": trees,
        "version": scalars,
        "x-ephemeral": trees,
    },
)
fragments = st.sampled_from(
    [
        "services:",
        "  db:",
        "    image: x",
        "    ports: [5432]",
        "  - a",
        "- ",
        "&a ",
        "*a",
        "<<: *a",
        "{",
        "}",
        "[",
        "]",
        ": ",
        "'",
        '"',
        "\t",
        "---",
        "...",
        "%YAML 1.1",
        "!!str",
        "!!python/object:os.system",
        "? ",
        "|",
        ">",
        "#",
        "${",
        "$$",
        "x-ephemeral:",
        "wait:",
        "seed:",
        "depends_on: [db]",
        "\u00e9",
        "\ufeff",
        "\x00",
        "\x85",
        "\u2028",
        "@",
        "`",
    ]
)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(folder: Path, data: bytes) -> None:
    load_bytes(folder, data)


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text(folder: Path, text: str) -> None:
    load_bytes(folder, text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(
    parts=st.lists(
        st.tuples(st.sampled_from(["", " ", "  ", "\n", "\n  "]), fragments), max_size=30
    )
)
def test_yaml_ish_text(folder: Path, parts: list[tuple[str, str]]) -> None:
    text = "".join(space + fragment for space, fragment in parts)
    load_bytes(folder, text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(tree=trees)
def test_random_structures(folder: Path, tree: object) -> None:
    load_bytes(folder, yaml.safe_dump(tree, allow_unicode=True).encode())


@FUZZ
@given(document=documents)
def test_random_service_documents(folder: Path, document: dict[str, object]) -> None:
    load_bytes(folder, yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode())
