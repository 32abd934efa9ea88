"""Shared by the benchmark scripts: statistics, the machine description, and
writing one script's section of ``docs/benchmarks.md`` without touching the
sections other scripts own."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "ROOT",
    "command_line",
    "machine_facts",
    "machine_table",
    "other_plugins",
    "spread",
    "write_section",
]


def other_plugins(keep: Sequence[str] = ("ephemeral",)) -> list[str]:
    """``-p no:NAME`` for every auto-loaded pytest plugin not named in ``keep``
    (hypothesis, faker, ... whatever this venv has): they cost every pytest
    process the same and only dilute what a benchmark measures of ours."""
    from importlib.metadata import entry_points

    names = sorted({e.name for e in entry_points(group="pytest11")} - set(keep))
    return [arg for n in names for arg in ("-p", f"no:{n}")]


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def command_line() -> str:
    """How this script was run, as a command someone can paste."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(ROOT)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (src/ with uncommitted changes)" if dirty else head


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def machine_facts(docker_info: dict[str, object] | None = None) -> dict[str, str]:
    """What the numbers were measured on. ``docker_info``: the engine's
    ``/info`` (pass it when a client is at hand)."""
    facts = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus (nproc)": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pytest-ephemeral": f"{_version('pytest-ephemeral')} at {_git_commit()}",
        "pytest": _version("pytest"),
        "testcontainers": _version("testcontainers"),
        "docker SDK": _version("docker"),
    }
    if docker_info:
        facts["docker engine"] = str(docker_info.get("ServerVersion", "?"))
        facts["storage driver"] = str(docker_info.get("Driver", "?"))
        facts["cgroup"] = (
            f"{docker_info.get('CgroupDriver', '?')} v{docker_info.get('CgroupVersion', '?')}"
        )
    try:
        load = os.getloadavg()
        facts["load average at start"] = " ".join(f"{x:.2f}" for x in load)
    except OSError:
        pass
    return facts


def machine_table(facts: dict[str, str]) -> list[str]:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in facts.items()]
    return lines


_TITLE = """# Benchmarks

Measured side by side in one run by the scripts in `benchmarks/`; every
section below is written by the script named in it (`--out docs/benchmarks.md`)
and says the command that produced it. Do not edit the numbers by hand: run
the script again.
"""


def write_section(path: Path, name: str, body: str) -> None:
    """Replace (or append) the section ``name`` of ``path``, delimited by
    ``<!-- name:start -->`` / ``<!-- name:end -->``; other sections stay."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else _TITLE
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
