"""Helpers for the spec tests: write a small project into a folder and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import Spec, load_spec


class Project:
    """A throwaway folder holding a spec and the files it names."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def file(self, name: str, text: str = "") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def load(
        self,
        text: str,
        *,
        name: str = "ephemeral.yaml",
        environ: Mapping[str, str] | None = None,
        profiles: Sequence[str] = (),
    ) -> Spec:
        path = self.file(name, text)
        return load_spec(path, environ={} if environ is None else environ, profiles=profiles)

    def error(
        self,
        text: str,
        *,
        name: str = "ephemeral.yaml",
        environ: Mapping[str, str] | None = None,
        profiles: Sequence[str] = (),
        in_file: str | None = None,
    ) -> SpecError:
        """The SpecError loading ``text`` raises, checked to be one line naming the file
        (``in_file``, default the spec)."""
        with pytest.raises(SpecError) as info:
            self.load(text, name=name, environ=environ, profiles=profiles)
        return check_message(info.value, in_file or name)


def check_message(error: SpecError, file_name: str) -> SpecError:
    message = str(error)
    assert "\n" not in message, message
    assert file_name in message, message
    return error


def service(text: str) -> str:
    """A spec with one service ``svc`` whose body is ``text`` (dedented, indented)."""
    body = textwrap.indent(textwrap.dedent(text).strip("\n"), "    ")
    return f"services:\n  svc:\n{body}\n"
