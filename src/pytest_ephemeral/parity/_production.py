"""Production given as files and folders: Kubernetes YAML (multi-document,
``helm template`` output, ``kubectl get -o yaml`` Lists) or Compose files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._compose import compose_workloads, looks_like_compose
from ._errors import ParityError
from ._kubernetes import KubeObject, kubernetes_objects, workloads_from_objects
from ._model import Workload
from ._yaml import Document, documents, shown_path

__all__ = ["Production", "load_production"]

_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class Production:
    workloads: dict[str, Workload]
    aliases: dict[str, str]
    files: tuple[Path, ...]
    objects: int


def _files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES
            )
            if not inside:
                raise ParityError(
                    f"{shown_path(path)}: the folder holds no .yaml, .yml or .json file "
                    "(point --against at the rendered manifests)"
                )
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise ParityError(
                f"{shown_path(path)}: no such file or folder (check the path given to --against "
                "or parity.against)"
            )
    return found


def load_production(paths: Sequence[Path]) -> Production:
    """Every workload in ``paths``; a document that is neither Kubernetes nor
    Compose, or broken YAML, is a :class:`ParityError` naming file and document."""
    files = _files(paths)
    objects: list[KubeObject] = []
    workloads: dict[str, Workload] = {}
    for file in files:
        docs: list[Document] = list(documents(file))
        first = next((d for d in docs if d.data is not None), None)
        if first is not None and looks_like_compose(first.data):
            for name, work in compose_workloads(first).items():
                if name in workloads:
                    raise ParityError(
                        f"{first.where}: services.{name}: a second production service named "
                        f"{name!r} (first: {workloads[name].origin}) (pass one environment's "
                        "files at a time)"
                    )
                workloads[name] = work
            continue
        objects += kubernetes_objects(docs)
    kube, aliases = workloads_from_objects(objects)
    for name, work in kube.items():
        if name in workloads:
            raise ParityError(
                f"{work.origin}: a second production service named {name!r} "
                f"(first: {workloads[name].origin}) (pass one environment's files at a time)"
            )
        workloads[name] = work
    return Production(workloads, aliases, tuple(files), len(objects))
