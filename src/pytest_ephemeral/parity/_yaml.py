"""YAML documents with their numbers, first lines and ``# Source:`` comments
(``helm template`` writes one before each document)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._errors import ParityError

__all__ = ["Document", "documents", "shown_path"]

_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Document:
    path: Path
    number: int  # 1-based, counting empty documents too
    line: int  # 1-based first line
    data: object
    source: str | None  # helm's "# Source: chart/templates/x.yaml", if any

    @property
    def where(self) -> str:
        source = f", {self.source}" if self.source else ""
        return f"{shown_path(self.path)}:{self.line} (document {self.number}{source})"


def shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def documents(path: Path) -> Iterator[Document]:
    """Every document of the YAML (or JSON) file at ``path``, in order."""
    import yaml

    shown = shown_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParityError(f"{shown}: no such file (check the path given to --against)") from None
    except UnicodeDecodeError:
        raise ParityError(
            f"{shown}: not a text file (pass Kubernetes YAML or a Compose file)"
        ) from None
    except OSError as exc:
        raise ParityError(f"{shown}: cannot be read: {exc.strerror}") from None
    lines = text.splitlines()
    # libyaml's parser when PyYAML has it: about 10x faster on a large helm output
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    number = 0
    previous_end = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            number += 1
            data = loader.construct_document(node) if node is not None else None
            start = node.start_mark.line if node is not None else previous_end
            source = None
            for index in range(previous_end, min(start + 1, len(lines))):
                if lines[index].startswith("#") and (match := _SOURCE.match(lines[index])):
                    source = match.group(1)
            yield Document(path, number, start + 1, data, source)
            if node is not None:
                previous_end = node.end_mark.line
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParityError(
            f"{shown}{line} (document {number + 1}): not valid YAML: {problem} "
            "(fix the YAML, or pass `helm template` output rather than the chart's templates)"
        ) from None
    finally:
        loader.dispose()
