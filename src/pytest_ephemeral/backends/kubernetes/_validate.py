"""Offline validation against the Kubernetes JSON schemas shipped by the
``kubernetes-validate`` package, in its strict form (an unknown field is an
error too). The schemas are read, and each kind's validator built, once per
process: ``kubernetes_validate.validate`` re-reads the 1.4 MB definitions for
every object, about 80 ms each."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from ._errors import InvalidManifestError, RenderError

__all__ = ["schema_versions", "validate_manifests"]

_INSTALL = "pip install 'pytest-ephemeral[kubernetes]', or pass --no-validate"


def _module() -> Any:
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        raise RenderError(
            "kubernetes: validating the manifests needs the kubernetes-validate package "
            f"({_INSTALL})"
        ) from None
    return kubernetes_validate


def schema_versions() -> list[str]:
    """The Kubernetes versions whose schemas are at hand, oldest first (X.Y.Z)."""
    return sorted(set(_module().utils.all_versions()), key=lambda v: tuple(map(int, v.split("."))))


def _minor(version: str) -> str:
    return ".".join(version.removeprefix("v").split(".")[:2])


@cache
def _definitions(version: str) -> Any:
    return _module().utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version
    )


@cache
def _validator(version: str, kind: str, api_version: str) -> Any:
    """The strict validator of ``kind`` in ``api_version`` for Kubernetes ``version``;
    None when there is no such schema."""
    from jsonschema.validators import Draft202012Validator
    from referencing import Registry, Resource

    # rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1 (the package's file names)
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = _module().utils.schema_contents(
            f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group}.json", version
        )
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(_definitions(version)) @ (
        Resource.from_contents(schema) @ Registry()
    )
    return Draft202012Validator(schema, registry=registry)


def validate_manifests(manifests: Iterable[dict[str, Any]], version: str | None = None) -> str:
    """Check every manifest against the schemas of Kubernetes ``version`` (X.Y; default:
    the newest at hand); returns the X.Y used. A manifest that fails is a RenderError
    naming its kind, name and the offending path."""
    known = schema_versions()
    wanted = _minor(version) if version else _minor(known[-1])
    matching = [v for v in known if _minor(v) == wanted]
    if not matching:
        raise RenderError(
            f"kubernetes: no schemas for Kubernetes {wanted} (known: {_minor(known[0])} to "
            f"{_minor(known[-1])}): pass one of those to --kubernetes-version"
        )
    full = matching[-1]
    import jsonschema

    for manifest in manifests:
        kind, api_version = str(manifest.get("kind")), str(manifest.get("apiVersion"))
        name = (manifest.get("metadata") or {}).get("name")
        validator = _validator(full, kind, api_version)
        if validator is None:
            raise InvalidManifestError(
                f"kubernetes: no schema for {kind} {api_version} in Kubernetes {wanted} "
                "(a bug in eph render: please report it with the spec)"
            )
        error = jsonschema.exceptions.best_match(validator.iter_errors(manifest))
        if error is not None:
            path = ".".join(str(p) for p in error.absolute_path) or "(top)"
            message = str(error.message).splitlines()[0]
            raise InvalidManifestError(
                f"kubernetes: {kind} {name!r} fails the Kubernetes {wanted} schema at "
                f"{path}: {message} (a bug in eph render: please report it with the spec)"
            )
    return wanted
