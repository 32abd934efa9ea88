"""Labels and names: everything cleanup, ``eph ls``, prune and reuse need,
carried on the resources themselves so it works against a remote engine too."""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "CLAIM",
    "CLAIMANT",
    "ENV",
    "EXPIRES",
    "KEPT",
    "OWNER",
    "POOL",
    "POOL_STATE",
    "PREFIX",
    "RUN",
    "SERVICE",
    "SPEC_HASH",
    "Owner",
    "current_owner",
    "env_labels",
    "process_start",
]

PREFIX = "pytest-ephemeral"
ENV = f"{PREFIX}.env"
RUN = f"{PREFIX}.run"
OWNER = f"{PREFIX}.owner"
SPEC_HASH = f"{PREFIX}.spec-hash"
SPEC_PATH = f"{PREFIX}.spec"
SPEC_NAME = f"{PREFIX}.name"
SERVICE = f"{PREFIX}.service"
KEPT = f"{PREFIX}.kept"
EXPIRES = f"{PREFIX}.expires"
CREATED = f"{PREFIX}.created"
WORKER = f"{PREFIX}.worker"
SHARED = f"{PREFIX}.shared"
MARKER = f"{PREFIX}.marker"  # the volume that records "kept" after creation
# the warm pool (lifecycle/pool.py): members carry POOL (the pool's key, from the
# spec's path); their state is told by marker volumes, as container labels cannot
# change: POOL_STATE is "starting" on the resources made at creation, "ready" on
# the keeper's ready marker, "claimed" on a claimant's claim marker (which also
# carries CLAIM, the claim's token, and CLAIMANT, the claimant's Owner), "discard"
# on the marker that asks the keeper to remove and replace the environment
POOL = f"{PREFIX}.pool"
POOL_STATE = f"{PREFIX}.pool-state"
CLAIM = f"{PREFIX}.claim"
CLAIMANT = f"{PREFIX}.claimant"
AUDIT = f"{PREFIX}.audit"  # the creator's audit trail: whoever removes it records it there too
EXTERNAL = f"{PREFIX}.external"  # names of the spec's external: services (parts to drop)

_NAME_SAFE = re.compile(r"[^a-z0-9_.-]+")


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "noboot"


def process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot, or None if it is gone.

    Together with the boot id this names a process uniquely over time, so a
    recycled pid is never mistaken for the original owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if not Path("/proc").is_dir():  # no procfs: fall back to existence only
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            except PermissionError:
                return "0"
            return "0"
        return None
    # the command name (field 2) may contain spaces and parentheses
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields and fields[0] == "Z":  # a zombie is gone for our purposes
        return None
    return fields[19] if len(fields) > 19 else "0"


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that holds an environment: host, boot, pid, start time."""

    host: str
    boot: str
    pid: int
    start: str

    def __str__(self) -> str:
        return f"{self.host}/{self.boot}/{self.pid}/{self.start}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        parts = text.split("/")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])

    def is_local(self) -> bool:
        return self.host == socket.gethostname() and self.boot == _boot_id()

    def alive(self) -> bool | None:
        """True/False for a process on this host; None when it cannot be told
        (another host: leave its resources alone)."""
        if self.host != socket.gethostname():
            return None
        if self.boot != _boot_id():
            return False  # the machine rebooted since
        return process_start(self.pid) == self.start


def current_owner(pid: int | None = None) -> Owner:
    pid = os.getpid() if pid is None else pid
    return Owner(socket.gethostname(), _boot_id(), pid, process_start(pid) or "0")


def safe_name(text: str) -> str:
    name = _NAME_SAFE.sub("-", text.lower()).strip("-.") or "env"
    return name[:40]


def env_labels(
    *,
    env_id: str,
    run_id: str,
    owner: Owner,
    spec_hash: str,
    spec_path: str,
    spec_name: str,
    worker: str,
    kept: bool,
    expires: float | None,
) -> dict[str, str]:
    return {
        ENV: env_id,
        RUN: run_id,
        OWNER: str(owner),
        SPEC_HASH: spec_hash,
        SPEC_PATH: spec_path,
        SPEC_NAME: spec_name,
        WORKER: worker,
        KEPT: "true" if kept else "false",
        EXPIRES: f"{expires:.0f}" if expires else "",
        CREATED: f"{time.time():.0f}",
    }
