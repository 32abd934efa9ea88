#!/usr/bin/env python
"""What the reaper costs an environment start.

The reaper (a detached process that removes a killed run's resources) is
started just before a process's first environment is created. This starts
the quickstart topology through ``Manager`` (the ``eph`` fixture's path) in
fresh processes, interleaved: with the reaper as it ships, and with the
reaper's spawn replaced by a no-op. The ratio of the medians is the cost.

    python benchmarks/bench_reaper.py [--repeat 8] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import docker
from _common import command_line, machine_facts, machine_table, spread, write_section

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
from pathlib import Path
from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle.manager import Manager
if sys.argv[1] == "off":
    import pytest_ephemeral.lifecycle.reaper as reaper
    reaper.spawn_reaper = lambda owner, log_dir=None: None
m = Manager(Settings(rootdir=Path(sys.argv[2])), worker="bench")
t0 = time.perf_counter()
env = m.environment()
up = time.perf_counter() - t0
m.close(failed=False)
print(json.dumps({"up": up}))
"""


def one(arm: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, arm, str(ROOT / "examples" / "quickstart")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["up"])


def main() -> int:
    ap = argparse.ArgumentParser(description="reaper cost on environment start")
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    one("on")  # warm-up: images, page cache
    times: dict[str, list[float]] = {"on": [], "off": []}
    for i in range(args.repeat):
        for arm in ("on", "off") if i % 2 == 0 else ("off", "on"):
            times[arm].append(one(arm))
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    lines = [
        "## Reaper cost on environment start (`bench_reaper.py`)",
        "",
        f"Command: `{command_line()}`  ",
        f"{args.repeat} repetitions per arm, interleaved, each a fresh process starting "
        "the quickstart topology through `Manager`.",
        "",
        "| arm | up median (min-max) |",
        "|---|---|",
    ]
    for arm, label in (("on", "with the reaper (as shipped)"), ("off", "reaper spawn disabled")):
        med, lo, hi = spread(times[arm])
        lines.append(f"| {label} | {med:.2f} s ({lo:.2f}-{hi:.2f}) |")
    lines += [
        "",
        f"Ratio with/without: **{on / off:.3f}** (the reaper is a detached process "
        "started in about a millisecond; it polls its owner's `/proc` entry and "
        "imports the Docker SDK only once the owner is gone).",
        "",
        *machine_table(machine_facts(docker.from_env().info())),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_section(args.out, "bench-reaper", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
