"""Finding the spec file: explicit path, ini value, then the usual names in the rootdir."""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError

__all__ = ["DEFAULT_NAMES", "discover_spec"]

DEFAULT_NAMES = (
    "ephemeral.yaml",
    "ephemeral.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)


def discover_spec(rootdir: Path, explicit: str | None = None, ini: str | None = None) -> Path:
    """The spec to use: ``explicit`` (``--eph-spec``), else ``ini`` (``eph_spec``), else
    the first of :data:`DEFAULT_NAMES` in ``rootdir``. Relative paths start at
    ``rootdir``; a folder is searched for the default names. Absolute result."""
    rootdir = Path(rootdir).absolute()
    for given, origin in ((explicit, "--eph-spec"), (ini, "ini option eph_spec")):
        if given is None or not given.strip():
            continue
        path = Path(given).expanduser()
        path = path if path.is_absolute() else rootdir / path
        if path.is_file():
            return path
        if path.is_dir():
            return _search(path, f"folder {given!r} (from {origin})")
        raise SpecError(
            f"spec file {given!r} (from {origin}) not found: looked for {path}",
            fix=f"fix the path; a relative path starts at the rootdir {rootdir}",
        )
    return _search(rootdir, f"rootdir {rootdir}")


def _search(folder: Path, what: str) -> Path:
    for name in DEFAULT_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise SpecError(
        f"no spec found in {what}: looked for {', '.join(DEFAULT_NAMES)}",
        fix="create ephemeral.yaml there, or name the spec with --eph-spec PATH or ini eph_spec",
    )
