"""The YAML layer: documents, duplicates, anchors, merge keys, encodings, YAML 1.2 scalars."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import load_spec
from tests.spec.spec_helpers import Project, check_message, service


def test_minimal_spec(project: Project) -> None:
    spec = project.load(service("image: redis:7"))
    assert list(spec.services) == ["svc"]
    assert spec.services["svc"].image == "redis:7"
    assert spec.warnings == ()


def test_duplicate_key_names_both_lines(project: Project) -> None:
    err = project.error(service("image: a\nports: [1]\nimage: b"))
    assert err.line == 5
    assert err.key == "services.svc.image"
    assert "duplicate key 'image', first at line 3 (keep only one of them)" in str(err)


def test_duplicate_key_deep(project: Project) -> None:
    err = project.error(service("environment:\n  A: 1\n  A: 2\nimage: x"))
    assert err.line == 5
    assert "first at line 4" in str(err)


def test_duplicate_service(project: Project) -> None:
    err = project.error("services:\n  a: {image: x}\n  a: {image: y}\n")
    assert (err.line, err.key) == (3, "services.a")


def test_anchors_and_merge_keys(project: Project) -> None:
    spec = project.load(
        """\
        x-base: &base
          image: python:3.12
          environment: {A: "1"}
        services:
          one:
            <<: *base
          two:
            <<: *base
            image: python:3.11
          three:
            <<: [*base, {user: nobody}]
            environment: {B: "2"}
        """
    )
    assert spec.services["one"].image == "python:3.12"
    assert spec.services["two"].image == "python:3.11"
    assert dict(spec.services["one"].environment) == {"A": "1"}
    assert dict(spec.services["three"].environment) == {"B": "2"}
    assert spec.services["three"].user == "nobody"


def test_merge_of_a_scalar_is_refused(project: Project) -> None:
    err = project.error("x-a: &a hello\nservices:\n  s:\n    <<: *a\n    image: x\n")
    assert "'<<' merges mappings only" in str(err)
    assert err.line == 4


def test_explicit_key_wins_over_merge_whatever_the_order(project: Project) -> None:
    spec = project.load("x-a: &a {image: one}\nservices:\n  s:\n    image: two\n    <<: *a\n")
    assert spec.services["s"].image == "two"


def test_alias_used_as_a_value(project: Project) -> None:
    spec = project.load("x-p: &ports [5432]\nservices:\n  s: {image: x, ports: *ports}\n")
    assert spec.services["s"].ports[0].container_port == 5432


def test_recursive_alias(project: Project) -> None:
    err = project.error("services: &s\n  a:\n    image: x\n    x-loop: *s\n")
    assert "refers to the mapping or list that contains it" in str(err)


def test_alias_bomb_is_refused_quickly(project: Project) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = "\n".join(f"x-{line}" for line in lines) + "\nservices:\n  s: {image: x, x-b: *a8}\n"
    err = project.error(text)
    assert "expands to more than" in str(err)


def test_several_documents(project: Project) -> None:
    err = project.error("services:\n  a: {image: x}\n---\nservices: {}\n")
    assert "several YAML documents" in str(err)
    assert err.line == 3


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the spec is empty"),
        ("\n\n   \n", "the spec is empty"),
        ("# hi\n# there\n", "only comments"),
    ],
)
def test_empty(project: Project, text: str, fragment: str) -> None:
    err = project.error(text)
    assert fragment in str(err)
    assert err.line is None


@pytest.mark.parametrize(
    ("text", "got"),
    [("- a\n- b\n", "a list"), ("hello\n", "the string 'hello'"), ("42\n", "the number 42")],
)
def test_top_level_not_a_mapping(project: Project, text: str, got: str) -> None:
    err = project.error(text)
    assert f"the top level must be a mapping with services:, got {got}" in str(err)


def test_invalid_yaml_message(project: Project) -> None:
    err = project.error("services:\n  a:\n    image: x: y\n")
    assert err.line == 3
    assert "invalid YAML: mapping values are not allowed here" in str(err)
    assert "quote values" in str(err)


def test_tab_indentation(project: Project) -> None:
    err = project.error("services:\n\ta: {image: x}\n")
    assert "invalid YAML" in str(err)
    assert "tabs" in str(err)


def test_unclosed_quote(project: Project) -> None:
    err = project.error('services:\n  a: {image: "x}\n')
    assert "invalid YAML" in str(err)


def test_undefined_alias(project: Project) -> None:
    err = project.error("services:\n  a: *nope\n")
    assert "undefined alias" in str(err)
    assert err.line == 2


def test_custom_tags_are_refused(project: Project) -> None:
    err = project.error("services:\n  a: !!python/object:os.system {image: x}\n")
    assert "YAML tag '!!python/object:os.system' is not supported" in str(err)
    err = project.error("services:\n  a:\n    image: !Ref x\n")
    assert "YAML tag '!Ref'" in str(err)
    assert err.line == 3


def test_non_string_key(project: Project) -> None:
    err = project.error("services:\n  ? [a, b]\n  : {image: x}\n")
    assert "a key must be a plain string" in str(err)


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "ephemeral.yaml"
    path.write_bytes(b"services:\n  a:\n    image: \xff\xfe\x00\x01garbage\n")
    with pytest.raises(SpecError) as info:
        load_spec(path, environ={})
    check_message(info.value, "ephemeral.yaml")
    assert info.value.line == 3
    assert "not a text file" in str(info.value)


def test_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "ephemeral.yaml"
    path.write_bytes(b"services:\n  a:\n    image: x\x07y\n")
    with pytest.raises(SpecError) as info:
        load_spec(path, environ={})
    check_message(info.value, "ephemeral.yaml")
    assert info.value.line == 3
    assert "control character" in str(info.value)


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ephemeral.yaml"
    path.write_bytes("services:\n  a: {image: café}\n".encode("utf-16"))
    assert load_spec(path, environ={}).services["a"].image == "café"


def test_utf8_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ephemeral.yaml"
    path.write_bytes(b"\xef\xbb\xbfservices:\n  a: {image: x}\n")
    assert load_spec(path, environ={}).services["a"].image == "x"


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="is a folder"):
        load_spec(tmp_path)


def test_yaml_12_scalars_keep_their_text(project: Project) -> None:
    spec = project.load(
        service(
            """\
            image: x
            environment:
              ON: on
              YES: yes
              VERSION: 1.10
              OCTAL: 0755
              EMPTY: ""
              T: true
            ports: [22:22]
            """
        )
    )
    env = spec.services["svc"].environment
    assert dict(env) == {
        "ON": "on",
        "YES": "yes",
        "VERSION": "1.10",
        "OCTAL": "0755",
        "EMPTY": "",
        "T": "true",
    }
    port = spec.services["svc"].ports[0]
    assert (port.host_port, port.container_port) == (22, 22)
