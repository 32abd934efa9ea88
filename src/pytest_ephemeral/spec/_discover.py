"""Finding the spec file: explicit path, ini value, then the usual names in the rootdir.

pytest's conventions for paths (DESIGN §12): a path given on the command line is
relative to the folder pytest was started in (the invocation dir); a path in an
ini file is relative to that file's folder. :func:`resolve_spec_path` applies
them; :func:`discover_spec` (one file) and :func:`discover_specs` (several
files, merged in order like ``docker compose -f a -f b``) use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import SpecError

__all__ = ["DEFAULT_NAMES", "discover_spec", "discover_specs", "resolve_spec_path"]

DEFAULT_NAMES = (
    "ephemeral.yaml",
    "ephemeral.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)


def resolve_spec_path(given: str, base: Path) -> Path:
    """``given`` (``~`` expanded) as an absolute path; a relative one starts at ``base``
    (the invocation dir for a command-line value, the ini file's folder for an ini
    value). Symbolic links are kept."""
    path = Path(given.strip()).expanduser()
    return path if path.is_absolute() else Path(base).absolute() / path


def discover_spec(
    rootdir: Path,
    explicit: str | None = None,
    ini: str | None = None,
    *,
    invocation_dir: Path | None = None,
    ini_dir: Path | None = None,
) -> Path:
    """The spec to use: ``explicit`` (``--eph-spec``), else ``ini`` (``eph_spec``), else
    the first of :data:`DEFAULT_NAMES` in ``rootdir``. A relative ``explicit`` starts
    at ``invocation_dir``, a relative ``ini`` at ``ini_dir`` (both default to
    ``rootdir``); a folder is searched for the default names. Absolute result."""
    found = discover_specs(
        rootdir,
        [explicit] if explicit else (),
        [ini] if ini else (),
        invocation_dir=invocation_dir,
        ini_dir=ini_dir,
    )
    return found[0]


def discover_specs(
    rootdir: Path,
    explicit: Sequence[str] = (),
    ini: Sequence[str] = (),
    *,
    invocation_dir: Path | None = None,
    ini_dir: Path | None = None,
) -> tuple[Path, ...]:
    """The spec files to merge, in order: every ``explicit`` value (``--eph-spec``,
    repeatable), else every ``ini`` value (``eph_spec``, one per line), else the
    first default name in ``rootdir``. The SpecError of a file not found names
    every path that was tried."""
    rootdir = Path(rootdir).absolute()
    for values, origin, base, where in (
        (explicit, "--eph-spec", invocation_dir or rootdir, "the invocation dir"),
        (ini, "ini option eph_spec", ini_dir or rootdir, "the ini file's folder"),
    ):
        given = [value for value in values if value and value.strip()]
        if not given:
            continue
        return tuple(_one(value, origin, Path(base), where) for value in given)
    return (_search(rootdir, f"rootdir {rootdir}", "--eph-spec not given, ini eph_spec not set"),)


def _one(given: str, origin: str, base: Path, where: str) -> Path:
    path = resolve_spec_path(given, base)
    if path.is_file():
        return path
    if path.is_dir():
        return _search(path, f"folder {given!r} (from {origin})", "")
    raise SpecError(
        f"spec file {given!r} (from {origin}) not found: looked for {path}",
        fix=f"fix the path; a relative path starts at {where} {base.absolute()}",
    )


def _search(folder: Path, what: str, note: str) -> Path:
    tried = [folder / name for name in DEFAULT_NAMES]
    for candidate in tried:
        if candidate.is_file():
            return candidate
    names = ", ".join(DEFAULT_NAMES)
    extra = f"; {note}" if note else ""
    raise SpecError(
        f"no spec found in {what}: looked for {names} (tried {', '.join(map(str, tried))}{extra})",
        fix="create ephemeral.yaml there, or name the spec with --eph-spec PATH or ini eph_spec",
    )
