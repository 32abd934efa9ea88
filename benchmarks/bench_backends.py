"""Backends side by side, in one run (issue #12's measure):

1. ``pytest -n 4`` with a per-worker environment each, on one engine against
   the same on two engines (``--eph-hosts``: this machine's engine and the
   second dockerd of scripts/setup.d/30-engine2.sh);
2. the reference-shaped topology (PostgreSQL + Redis + one HTTP service, with
   healthchecks and a dependency) up and down on the Swarm backend against the
   Docker backend (the HTTP service runs from python:3.12-slim instead of a
   build: a Swarm's nodes need an image they can all run).

Arms interleaved, each a fresh process; medians with min-max.

    python benchmarks/bench_backends.py --repeat 3 --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_facts, machine_table, other_plugins, spread, write_section

LOCAL = "unix:///var/run/docker.sock"
ENGINE2 = "tcp://10.99.0.2:2375"

TOPOLOGY = """
services:
  db:
    image: postgres:16-alpine
    environment: {POSTGRES_PASSWORD: secret}
    ports: [5432]
    healthcheck:
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres"]
      interval: 1s
      retries: 60
    tmpfs: [/var/lib/postgresql/data]
  cache:
    image: redis:7-alpine
    ports: [6379]
    wait: {log: "Ready to accept connections"}
  api:
    image: python:3.12-slim
    command: ["python3", "-m", "http.server", "8000"]
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
    ports: [8000]
    wait: {http: {port: 8000, path: /}, timeout: 120s}
"""

TEST = "def test_{n}(eph):\n    assert eph['api'].port(8000)\n"

UP_DOWN = """
import json, sys, time
from pathlib import Path
from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle.manager import Manager
root = Path(sys.argv[1]); backend = sys.argv[2]
manager = Manager(Settings(rootdir=root, backend=backend, timeout=180), worker="bench")
t0 = time.perf_counter()
env = manager.environment()
up = time.perf_counter() - t0
t1 = time.perf_counter()
manager.close(failed=False)
down = time.perf_counter() - t1
print(json.dumps({"up": up, "down": down}))
"""


def _project(root: Path, tests: int) -> None:
    (root / "ephemeral.yaml").write_text(textwrap.dedent(TOPOLOGY))
    for n in range(tests):
        (root / f"test_{n}.py").write_text(TEST.format(n=n))


def _xdist_run(root: Path, hosts: str) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "4",
            "--dist",
            "loadfile",
            "-p",
            "xdist",
            "--eph-hosts",
            hosts,
            *other_plugins(("ephemeral", "xdist")),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    took = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"pytest -n 4 --eph-hosts {hosts} failed:\n{res.stdout[-3000:]}")
    return took


def _up_down(root: Path, backend: str) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, "-c", UP_DOWN, str(root), backend],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if res.returncode != 0:
        raise SystemExit(f"{backend} up/down failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _updown_row(name: str, up: list[float], down: list[float]) -> str:
    med, lo, hi = spread(up)
    return f"| {name} | {med:.2f} ({lo:.2f}-{hi:.2f}) | {spread(down)[0]:.2f} |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    one: list[float] = []
    two: list[float] = []
    ups: dict[str, list[float]] = {"docker": [], "swarm": []}
    downs: dict[str, list[float]] = {"docker": [], "swarm": []}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-backends-") as tmp:
        for i in range(args.repeat):
            root = Path(tmp) / f"r{i}"
            root.mkdir()
            _project(root, tests=8)
            one.append(_xdist_run(root, LOCAL))
            two.append(_xdist_run(root, f"{LOCAL},{ENGINE2}"))
            for backend in ("docker", "swarm"):
                r = _up_down(root, backend)
                ups[backend].append(r["up"])
                downs[backend].append(r["down"])
            print(
                f"round {i + 1}: -n 4 one {one[-1]:.1f}s two {two[-1]:.1f}s; up docker "
                f"{ups['docker'][-1]:.1f}s swarm {ups['swarm'][-1]:.1f}s",
                flush=True,
            )
    load_after = os.getloadavg()[0]

    def row(name: str, values: list[float]) -> str:
        med, lo, hi = spread(values)
        return f"| {name} | {med:.2f} ({lo:.2f}-{hi:.2f}) |"

    ratio_hosts = spread(two)[0] / spread(one)[0]
    ratio_swarm = spread(ups["swarm"])[0] / spread(ups["docker"])[0]
    body = "\n".join(
        [
            "## Backends: a pool of engines, and Swarm against Docker",
            "",
            f"Command: `{command_line()}`; {args.repeat} rounds, arms interleaved, each a fresh "
            f"process; load average {load_before:.1f} at the start, {load_after:.1f} at the end "
            "(other jobs shared the machine: the ratios mean more than the seconds).",
            "",
            "`pytest -n 4 --dist loadfile`, 8 test files asking for `eph` (one environment per "
            "worker, reference-shaped topology), wall time of the whole run, in seconds:",
            "",
            "| engines | median (min-max) |",
            "|---|---|",
            row("one (`--eph-hosts` this engine)", one),
            row("two (this engine + the second dockerd, over tcp)", two),
            "",
            f"Two engines / one: **{ratio_hosts:.2f}x**. Both engines run on this machine's "
            "two CPUs, so a second engine adds no CPU: what the pool buys here is the engine's "
            "own serialisation (one dockerd's work for four environments) split in two; on "
            "separate machines the CPUs add up too.",
            "",
            "Reference-shaped topology up and down through `Manager`, seconds:",
            "",
            "| backend | up | down |",
            "|---|---|---|",
            _updown_row("docker", ups["docker"], downs["docker"]),
            _updown_row("swarm (3 nodes)", ups["swarm"], downs["swarm"]),
            "",
            f"Swarm / Docker, up: **{ratio_swarm:.2f}x**. A Swarm start pays the scheduler "
            "(a task is assigned, then its node's engine starts it), the forwarder containers "
            "for published ports, and task-state polling (no event stream); teardown waits "
            "until the tasks have left the overlay network before removing it.",
            "",
            *machine_table(machine_facts()),
        ]
    )
    print(body)
    if args.out:
        write_section(args.out, "bench-backends", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
