"""The spec hash: same effective content -> same hash, on any machine, in any clone."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import SpecError
from .model import ServiceSpec, Spec, VolumeMount

__all__ = ["spec_hash"]

# Fields whose order carries no meaning; sorted so reordering them keeps the hash.
_UNORDERED = {
    (Spec, "networks"),
    (Spec, "volumes"),
    (ServiceSpec, "depends_on"),
    (ServiceSpec, "expose"),
    (ServiceSpec, "profiles"),
}
# Fields that say where things were written, or that are derived: never hashed.
_SKIPPED = {"location", "hash", "warnings", "diagnostics"}


def spec_hash(spec: Spec, files: Iterable[Path]) -> str:
    """sha256 (16 hex digits) of the canonical model plus the referenced files' content."""
    root = spec.root
    document = {
        "spec": _canonical(spec, root),
        "files": {_relative(path, root): _digest(path) for path in files},
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(value: object, root: Path) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        result: dict[str, object] = {}
        for field in dataclasses.fields(value):
            if field.name in _SKIPPED:
                continue
            item = getattr(value, field.name)
            if isinstance(value, Spec) and field.name == "path":
                result["path"] = Path(item).name
                continue
            if isinstance(value, VolumeMount) and field.name == "source" and value.type == "bind":
                result["source"] = _relative(Path(str(item)), root)
                continue
            canonical = _canonical(item, root)
            if (type(value), field.name) in _UNORDERED and isinstance(canonical, list):
                canonical = sorted(canonical, key=lambda v: json.dumps(v, sort_keys=True))
            result[field.name] = canonical
        return result
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, root) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_canonical(v, root) for v in value]
    if isinstance(value, Path):
        return _relative(value, root)
    return value


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise SpecError(
            f"cannot read {path}: {exc.strerror or exc}", fix="check its permissions"
        ) from None
    return digest.hexdigest()
