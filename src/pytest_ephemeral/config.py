"""Settings, read once (option first, then ini, then environment) into a frozen value."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import EphemeralError

__all__ = ["KeepMode", "LogsMode", "Settings", "parse_duration", "parse_image_map"]

KeepMode = Literal["never", "failed", "always"]
LogsMode = Literal["failed", "all", "none"]
KEEP_MODES = ("failed", "always", "never")
LOGS_MODES = ("failed", "all", "none")
#: --eph-pull / ini eph_pull (unset: each service's own pull_policy)
PULL_MODES = ("missing", "always", "never")
DEFAULT_TTL = 8 * 3600.0  # a working day

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*)+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "": 1.0}


class SettingsError(EphemeralError):
    """A command-line, ini or environment setting has a bad value."""


def parse_duration(text: str, what: str) -> float:
    """``90`` / ``90s`` / ``1m30s`` / ``2h`` / ``1d`` → seconds (positive)."""
    if not _DURATION.match(text or ""):
        raise SettingsError(
            f"{what}: {text!r} is not a duration (use seconds like 90, or 500ms, 30s, 2m, 2h, 1d)"
        )
    total = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if total <= 0:
        raise SettingsError(f"{what}: {text!r} must be more than zero")
    return total


def parse_image_map(pairs: Iterable[str], what: str) -> dict[str, str]:
    """``FROM=TO`` pairs (each item may hold several, comma-separated)."""
    out: dict[str, str] = {}
    for item in pairs:
        for pair in item.replace("\n", ",").split(","):
            pair = pair.strip()
            if not pair:
                continue
            src, sep, dst = pair.partition("=")
            if not sep or not src.strip() or not dst.strip():
                raise SettingsError(
                    f"{what}: {pair!r} is not FROM=TO (e.g. postgres:16-alpine=mirror/postgres:16)"
                )
            out[src.strip()] = dst.strip()
    return out


def default_max_starts() -> int:
    """Environments starting at once on one host unless told: two per CPU.
    Starting is CPU work in the engine and the containers, with waits in
    between (for the engine, for a database's start); measured on 2 CPUs, 4
    at once were ready sooner than 2 at once and 2 queued (docs/benchmarks.md)."""
    return 2 * (os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Settings:
    rootdir: Path
    spec: str | None = None  # --eph-spec (the first, when repeated)
    spec_ini: str | None = None  # ini eph_spec (the first line)
    # every --eph-spec / ini eph_spec line: several files merge in order
    specs: tuple[str, ...] = ()
    specs_ini: tuple[str, ...] = ()
    # a relative --eph-spec starts at the invocation dir, a relative ini
    # eph_spec at the ini file's folder (pytest's own convention); None: rootdir
    invocation_dir: Path | None = None
    ini_dir: Path | None = None
    timeout: float = 60.0
    image_map: Mapping[str, str] = field(default_factory=dict)
    keep: KeepMode = "never"
    ttl: float = DEFAULT_TTL
    reuse: bool = False
    shared: bool = False
    pool: bool = False  # --eph-pool: claim a ready environment from the warm pool (eph pool up)
    logs: LogsMode = "failed"
    max_starts: int = 0  # 0: automatic
    host_ip: str = "127.0.0.1"
    profiles: tuple[str, ...] = ()
    backend: str = "docker"  # --eph-backend
    hosts: tuple[str, ...] = ()  # --eph-hosts: a pool of engines (URLs or context names)
    pull: str | None = None  # --eph-pull: missing | always | never (None: each service's policy)
    audit_file: str | None = None  # ini eph_audit_file (resolved); None: EPH_AUDIT_FILE, default

    @property
    def effective_max_starts(self) -> int:
        return self.max_starts or default_max_starts()


def image_map_from(
    option: Iterable[str], ini: Iterable[str], environ: Mapping[str, str]
) -> dict[str, str]:
    """Environment first, then ini, then the command line (later wins)."""
    mapping = parse_image_map([environ.get("EPH_IMAGE_MAP", "")], "EPH_IMAGE_MAP")
    mapping.update(parse_image_map(ini, "ini eph_image_map"))
    mapping.update(parse_image_map(option, "--eph-image-map"))
    return mapping
