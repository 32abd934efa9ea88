"""Engine-neutral image decisions: when to pull (Compose's ``pull_policy``),
which base images a Dockerfile needs, and which files of a build context are
sent (``.dockerignore``, with Docker's semantics). The build-cache digest
(:func:`pytest_ephemeral.runtime.engine.context_digest`) and the Docker
backend's context archive both use :func:`context_files`, so they agree on
what the context is."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DockerIgnore",
    "context_files",
    "dockerfile_bases",
    "image_with_digest",
    "should_pull",
]

# periods of the age policies without an explicit one
_PERIODS = {"daily": 86400.0, "weekly": 7 * 86400.0}


def should_pull(
    policy: str, refresh: float | None, exists: bool, created: float | None, now: float
) -> bool:
    """Whether to pull an image now under Compose's ``pull_policy``.

    ``missing`` / ``build``: only when the engine lacks it; ``always``: every
    time; ``never``: never; ``daily`` / ``weekly`` / ``every`` (``refresh``
    seconds): when it is missing or older than the period (``created``: when
    the engine's copy was made or last pulled, None when unknown)."""
    if policy == "never":
        return False
    if policy == "always":
        return True
    if not exists:
        return True
    if policy in ("daily", "weekly", "every"):
        period = refresh if refresh is not None else _PERIODS.get(policy, 86400.0)
        return created is None or now - created >= period
    return False


def image_with_digest(image: str, digest: str) -> str:
    """``name:tag`` pinned to ``digest``: ``name@sha256:...`` (a tag is dropped,
    as the digest names the content; the registry and repository stay)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # a tag, not a registry's port
        name = name[:colon]
    return f"{name}@{digest}"


# -- Dockerfile bases ----------------------------------------------------------------

_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?\s*$", re.IGNORECASE)
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def _logical_lines(text: str) -> list[str]:
    """Dockerfile lines with backslash continuations joined, comments dropped."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if not pending and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append(pending + raw)
        pending = ""
    if pending:
        out.append(pending)
    return out


def dockerfile_bases(text: str, args: Mapping[str, str] | None = None) -> list[str]:
    """The images a Dockerfile builds on (its ``FROM`` lines), in order, once
    each: ``ARG`` defaults before the first ``FROM`` and the build ``args``
    substituted; ``scratch`` and earlier stages (``FROM x AS builder`` ...
    ``FROM builder``) left out."""
    values: dict[str, str] = {}
    given = dict(args or {})
    stages: set[str] = set()
    bases: list[str] = []
    seen_from = False

    def subst(word: str) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(3)
            value = values.get(name, "")
            if not value and m.group(2) is not None:
                return m.group(2)
            return value

        return _VAR.sub(one, word)

    for line in _logical_lines(text):
        if not seen_from and (m := _ARG.match(line)):
            values[m.group(1)] = given.get(m.group(1), m.group(2) or "")
            continue
        if m := _FROM.match(line):
            seen_from = True
            image = subst(m.group(1))
            if m.group(2):
                stages.add(m.group(2).lower())
            if not image or image.lower() == "scratch" or image.lower() in stages:
                continue
            if image not in bases:
                bases.append(image)
    return bases


# -- .dockerignore -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pattern:
    regex: re.Pattern[str]
    exception: bool


def _compile(pattern: str) -> re.Pattern[str]:
    """Go's ``filepath.Match`` syntax plus ``**``, as moby's patternmatcher has it."""
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 1
                if i + 1 < n and pattern[i + 1] == "/":
                    i += 1
                    out.append("(?:.*/)?")  # **/ : zero or more folders
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^"):
                    body = "!" + body[1:]
                if body.startswith("!"):
                    out.append("[^" + body[1:].replace("\\", "\\\\") + "]")
                else:
                    out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def _clean(pattern: str) -> str:
    """``filepath.Clean`` of a pattern, slashes forward, no leading ``/``."""
    cleaned = os.path.normpath(pattern).replace(os.sep, "/")
    while cleaned.startswith("/"):
        cleaned = cleaned[1:]
    return "." if cleaned in ("", ".") else cleaned


class DockerIgnore:
    """A ``.dockerignore``: Docker's rules (moby ``patternmatcher``). Lines
    are trimmed; empty lines and ``#`` comments are skipped; ``!`` makes an
    exception; each pattern is cleaned (leading ``/`` dropped); ``*``, ``?``,
    ``[...]`` and ``**`` as in Docker; a pattern that matches a folder
    excludes what is inside it; the last matching line decides."""

    def __init__(self, patterns: Sequence[str]) -> None:
        compiled: list[_Pattern] = []
        for line in patterns:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            exception = text.startswith("!")
            if exception:
                text = text[1:].strip()
            if not text:
                continue
            compiled.append(_Pattern(_compile(_clean(text)), exception))
        self._patterns = tuple(compiled)
        self.has_exceptions = any(p.exception for p in compiled)

    @classmethod
    def of(cls, root: Path, dockerfile: str | None = None) -> DockerIgnore:
        """The context's ``.dockerignore`` (none: nothing excluded), with the
        exceptions Docker adds itself: the Dockerfile and ``.dockerignore``
        are always sent."""
        path = root / ".dockerignore"
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        if lines:
            lines.append("!.dockerignore")
            if dockerfile:
                lines.append("!" + dockerfile)
        return cls(lines)

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def excluded(self, relpath: str) -> bool:
        """Whether ``relpath`` (relative to the context, ``/``-separated) is left out."""
        parts = relpath.split("/")
        parents = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        matched = False
        for p in self._patterns:
            if any(p.regex.match(candidate) for candidate in parents):
                matched = not p.exception
        return matched


def context_files(root: Path, dockerfile: str | None = None) -> list[str]:
    """Every path of the build context at ``root`` that is sent (``/``-separated,
    relative, sorted; folders included as entries), ``.dockerignore`` applied."""
    ignore = DockerIgnore.of(root, dockerfile)
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if rel_folder == "." else rel_folder + "/"
        kept_dirs = []
        for d in sorted(dirs):
            rel = prefix + d
            if (Path(folder) / d).is_symlink():  # sent as the link itself, not followed
                if not ignore.excluded(rel):
                    out.append(rel)
                continue
            if not ignore.excluded(rel):
                out.append(rel)
                kept_dirs.append(d)
            elif ignore.has_exceptions:
                kept_dirs.append(d)  # an exception may bring back something inside
        dirs[:] = kept_dirs
        for f in sorted(files):
            rel = prefix + f
            if not ignore.excluded(rel):
                out.append(rel)
    return sorted(out)
