"""Offline validation against the Kubernetes JSON schemas shipped by the
``kubernetes-validate`` package (strict: unknown fields are errors too)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._errors import RenderError

__all__ = ["schema_versions", "validate_manifests"]


def _module() -> Any:
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        raise RenderError(
            "kubernetes: validating the manifests needs the kubernetes-validate package "
            "(pip install 'pytest-ephemeral[kubernetes]', or pass --no-validate)"
        ) from None
    return kubernetes_validate


def schema_versions() -> list[str]:
    return list(_module().utils.all_versions())


def validate_manifests(manifests: Iterable[dict[str, Any]], version: str | None = None) -> str:
    """Check every manifest against the schemas of Kubernetes ``version`` (default:
    the newest the package knows); returns the version used. A manifest that
    fails is a RenderError naming its kind, name and the offending path."""
    kv = _module()
    wanted = (version or kv.latest_version()).removeprefix("v")
    known = schema_versions()
    if kv.utils.major_minor(wanted) not in {kv.utils.major_minor(v) for v in known}:
        raise RenderError(
            f"kubernetes: no schemas for Kubernetes {wanted} (known: {known[0]} to "
            f"{known[-1]}): pass one of those to --kubernetes-version"
        )
    used = wanted
    for manifest in manifests:
        try:
            used = kv.validate(manifest, wanted, strict=True)
        except kv.utils.SchemaNotFoundError as exc:
            raise RenderError(f"kubernetes: {exc.message}") from None
        except kv.ValidationError as exc:
            kind = manifest.get("kind")
            name = (manifest.get("metadata") or {}).get("name")
            path = ".".join(str(p) for p in exc.absolute_path) or "(top)"
            message = str(exc.message).splitlines()[0]
            raise RenderError(
                f"kubernetes: {kind} {name!r} fails the Kubernetes {exc.version} schema at "
                f"{path}: {message} (a bug in eph render: please report it with the spec)"
            ) from None
    return str(used)
