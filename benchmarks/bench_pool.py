#!/usr/bin/env python
"""The warm pool and the cold path, through pytest as a user runs it, side by side.

Suites (each a folder of its own, 8 tests, every test body writes the time it
starts to a file per worker), run as subprocesses, interleaved round-robin:

plain
    ``pytest -p no:ephemeral``: tests that use nothing (the floor of any suite).
bare
    ``pytest -p no:ephemeral`` with a session fixture that brings the reference
    topology (``examples/quickstart``: db, cache, api) up and down with the
    bare Docker SDK (``bench_up.Bare``: the lower bound, the same code).
cold
    ``pytest`` with the ``eph`` fixture, the same topology (the plugin's cold path).
pool
    ``pytest --eph-pool`` against a warm pool of 4 (``eph pool up --size 4``).

Measured per run: the first test body after the process start (at ``-n 4``:
the last worker's first body), the whole run, the teardown (process exit
after the last test body), and for the pool: how long after the run the pool
is full again (its api service cannot be reset, so each claimed environment
is replaced by the keeper, after the run's own teardown).

Run:  python benchmarks/bench_pool.py [--repeat N] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    command_line,
    machine_facts,
    machine_table,
    other_plugins,
    spread,
    write_section,
)

QUICKSTART = ROOT / "examples" / "quickstart"
HERE = Path(__file__).resolve().parent
EPH = [sys.executable, "-c", "import sys; from pytest_ephemeral.cli import main; sys.exit(main())"]
TESTS = 8

STAMP = """\
import os, time
from pathlib import Path

def stamp():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(Path(os.environ["BENCH_MARKS"], worker + ".txt"), "a") as f:
        f.write(f"{time.time()}\\n")
"""

BARE_CONFTEST = """\
import sys
import pytest

sys.path.insert(0, {bench!r})

@pytest.fixture(scope="session")
def bare_env():
    from bench_up import Bare

    env = Bare()
    try:
        env.up()
        yield env
    finally:
        env.down()
"""


def log(msg: str) -> None:
    print(f"[bench_pool] {msg}", file=sys.stderr, flush=True)


def make_suites(root: Path) -> dict[str, Path]:
    suites = {}
    for name, fixture in (("plain", ""), ("bare", "bare_env"), ("eph", "eph")):
        folder = root / name
        folder.mkdir()
        (folder / "stamp.py").write_text(STAMP)
        body = "".join(
            f"def test_{i}({fixture}):\n    stamp()\n    time.sleep(0.05)\n\n" for i in range(TESTS)
        )
        (folder / "test_bench.py").write_text(f"import time\nfrom stamp import stamp\n\n{body}")
        (folder / "pytest.ini").write_text("[pytest]\n")
        suites[name] = folder
    (suites["bare"] / "conftest.py").write_text(BARE_CONFTEST.format(bench=str(HERE)))
    shutil.copy(QUICKSTART / "ephemeral.yaml", suites["eph"] / "ephemeral.yaml")
    shutil.copytree(QUICKSTART / "api", suites["eph"] / "api")
    return suites


MODES = {
    # name: (suite, workers, extra args)
    "plain -n1": ("plain", 0, ["-p", "no:ephemeral"]),
    "bare -n1": ("bare", 0, ["-p", "no:ephemeral"]),
    "cold -n1": ("eph", 0, []),
    "pool -n1": ("eph", 0, ["--eph-pool"]),
    "plain -n4": ("plain", 4, ["-p", "no:ephemeral"]),
    "cold -n4": ("eph", 4, []),
    "pool -n4": ("eph", 4, ["--eph-pool"]),
}


def run_suite(folder: Path, workers: int, extra: list[str], marks: Path) -> dict[str, float]:
    shutil.rmtree(marks, ignore_errors=True)
    marks.mkdir()
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    args += other_plugins(keep=("ephemeral", "xdist", "xdist.looponfail"))
    args += (["-n", str(workers)] if workers else ["-p", "no:xdist"]) + extra
    env = {**os.environ, "BENCH_MARKS": str(marks)}
    # as a default Python runs: compiled modules (and pytest's rewritten ones)
    # cached after the warm-up. A machine that sets PYTHONDONTWRITEBYTECODE
    # would make every run compile the plugin's modules from source again,
    # a cost the plain suite (which imports none of them) does not pay.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.time()
    done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    end = time.time()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    per_worker = {
        p.stem: [float(x) for x in p.read_text().split()] for p in sorted(marks.glob("*.txt"))
    }
    firsts = [v[0] for v in per_worker.values()]
    lasts = [v[-1] for v in per_worker.values()]
    return {
        "first": max(firsts) - t0,  # the last worker's first test body
        "earliest": min(firsts) - t0,
        "wall": end - t0,
        "teardown": end - max(lasts) - 0.05,
        "workers": float(len(per_worker)),
        "cold_notice": float("a cold start" in done.stdout),
    }


def pool_members(folder: Path) -> list[dict[str, str]]:
    done = subprocess.run(
        [*EPH, "pool", "ls", "-f", "ephemeral.yaml", "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[dict[str, str]] = json.loads(done.stdout)
    return rows


def wait_full(folder: Path, size: int, timeout: float = 600) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if sum(r["state"] == "ready" for r in pool_members(folder)) >= size:
            return time.monotonic() - t0
        time.sleep(0.2)
    raise SystemExit(f"the pool was not full after {timeout:.0f}s")


def fmt(values: list[float]) -> str:
    med, lo, hi = spread(values)
    return f"{med:.2f} ({lo:.2f} to {hi:.2f})"


def build_report(
    args: argparse.Namespace,
    samples: dict[str, list[dict[str, float]]],
    refill: dict[str, list[float]],
    facts: dict[str, str],
    wall: float,
) -> str:
    import statistics

    def med(mode: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[mode])

    lines = [
        "## Warm pool and cold path through pytest (`bench_pool.py`)",
        "",
        f"Command: `{command_line()}`  ",
        f"Whole run: {wall / 60:.1f} min; {args.repeat} repetitions, interleaved (order "
        "rotated), after one warm-up of each. Seconds: median (min to max). Topology: "
        "`examples/quickstart` (db, cache, api). 8 tests per suite; `first` = process start "
        "to the first test body (at -n 4: the last worker's first body); `teardown` = the "
        "last test body to the process's exit.",
        "",
        "| suite | first test body | whole run | teardown |",
        "|---|---|---|---|",
    ]
    for mode in samples:
        s = samples[mode]
        lines.append(
            f"| {mode} | {fmt([x['first'] for x in s])} | {fmt([x['wall'] for x in s])} | "
            f"{fmt([x['teardown'] for x in s])} |"
        )
    lines += ["", "| ratio / difference | measured | target | |", "|---|---|---|---|"]

    def row(name: str, value: float, target: str, ok: bool | None, unit: str = "") -> None:
        verdict = "" if ok is None else "met" if ok else "NOT met"
        lines.append(f"| {name} | {value:.2f}{unit} | {target} | {verdict} |")

    if "pool -n1" in samples and "plain -n1" in samples:
        d = med("pool -n1", "first") - med("plain -n1", "first")
        row("first body: pool - plain, one worker", d, "≤ 0.30 s", d <= 0.30, " s")
    if "pool -n4" in samples and "plain -n4" in samples:
        d = med("pool -n4", "first") - med("plain -n4", "first")
        row("first body: pool - plain, -n 4, pool of 4", d, "≤ 0.50 s", d <= 0.50, " s")
    if "cold -n1" in samples and "bare -n1" in samples:
        r = med("cold -n1", "first") / med("bare -n1", "first")
        row("first body: cold / bare lower bound", r, "≤ 1.15", r <= 1.15)
        r = med("cold -n1", "wall") / med("bare -n1", "wall")
        row("up + down through pytest: cold / bare", r, "≤ 1.15", r <= 1.15)
    if "pool -n1" in samples and "cold -n1" in samples:
        r = med("pool -n1", "teardown") / med("cold -n1", "teardown")
        row("teardown: pool / cold (the refill is not the run's)", r, "≤ 1.0", r <= 1.0)
    if "cold -n4" in samples and "cold -n1" in samples:
        r = (med("cold -n4", "first") - med("plain -n4", "first")) / (
            med("cold -n1", "first") - med("plain -n1", "first")
        )
        row("4 per-worker cold environments / one (first body, plain subtracted)", r, "—", None)
    for mode, values in refill.items():
        lines.append(f"| pool full again after a {mode} run | {fmt(values)} s | — | |")
    lines += [
        "",
        "Claims go through the keeper's socket (`lifecycle/pool_lease.py`): the keeper "
        "hands out one of its ready environments and makes the claim marker; the claimant "
        "never imports the Docker client unless a test uses the engine. At its teardown the "
        "claimant hands the environment back over the same socket and exits; the keeper "
        "then resets and returns it, or, as here (the api service has no kind whose data "
        "can be reset), removes it and starts another, after the run's own teardown. "
        "The suites run with bytecode caching on (`PYTHONDONTWRITEBYTECODE` removed from "
        "their environment, as a default Python runs; this machine sets it), so that the "
        "plugin's modules are not compiled from source in every run.",
        "",
        "Machine:",
        "",
        *machine_table(facts),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    import docker

    client = docker.from_env()
    facts = machine_facts(client.api.info())
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    os.environ["EPH_POOL_DIR"] = str(root)
    suites = make_suites(root)
    eph_dir = suites["eph"]
    samples: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    refill: dict[str, list[float]] = {}
    uses_pool = any(m.startswith("pool") for m in modes)
    try:
        from bench_up import API_TAG

        log(f"building {API_TAG} (cached after the first time)")
        client.images.build(path=str(QUICKSTART / "api"), tag=API_TAG, rm=True)
        if uses_pool:
            log("eph pool up --size 4 --wait")
            subprocess.run(
                [*EPH, "pool", "up", "-f", "ephemeral.yaml", "--size", "4", "--wait"],
                cwd=eph_dir,
                check=True,
            )
        for rep in range(-1, args.repeat):
            order = modes[rep % len(modes) :] + modes[: rep % len(modes)] if rep >= 0 else modes
            for mode in order:
                suite, workers, extra = MODES[mode]
                if mode.startswith("pool"):
                    wait_full(eph_dir, 4)
                sample = run_suite(suites[suite], workers, extra, root / "marks")
                if mode.startswith("pool"):
                    if sample["cold_notice"]:
                        raise SystemExit(f"{mode}: a cold start, the pool was not used")
                    back = wait_full(eph_dir, 4)
                    if rep >= 0:
                        refill.setdefault(mode, []).append(back)
                tag = "warm-up" if rep < 0 else f"rep {rep + 1}/{args.repeat}"
                log(
                    f"{tag:>9} {mode:<10} first {sample['first']:6.2f} s  wall "
                    f"{sample['wall']:6.2f} s  teardown {sample['teardown']:5.2f} s"
                )
                if rep >= 0:
                    samples[mode].append(sample)
                time.sleep(1)
    finally:
        if uses_pool:
            subprocess.run([*EPH, "pool", "down", "-f", "ephemeral.yaml"], cwd=eph_dir)
        shutil.rmtree(root, ignore_errors=True)
    wall = time.monotonic() - started
    facts["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report = build_report(args, samples, refill, facts, wall)
    print(report)
    if args.out:
        write_section(args.out, "bench_pool", report)
        log(f"wrote the bench_pool section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
