#!/usr/bin/env python
"""``eph run -- true`` against ``eph up`` + ``eph down``, side by side.

The topology is the reference one, ``examples/quickstart`` (PostgreSQL with a
pg_isready healthcheck, Redis with a log wait, an HTTP api built from
``examples/quickstart/api``), copied to a temporary folder under a name of its
own, so that its spec hash is this run's alone (``eph up`` reuses a kept
environment of the same spec hash: it must not find anyone else's).

Contenders, interleaved round-robin in every repetition (the order rotates):

run
    ``eph run -f SPEC -- true``: one process — up, the command, down.
up+down
    ``eph up -f SPEC --json`` then ``eph down ID``: two processes, the way a
    pipeline does it without ``eph run``.

Each is timed from the first process's start to the last one's end (what a
pipeline step costs), with the api image built once before (untimed). After
each contender, nothing labelled with the spec's name may be left (checked,
untimed).

Run:  python benchmarks/bench_run.py [--repeat N] [--out docs/benchmarks.md]
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
import uuid
from pathlib import Path

from _common import ROOT, command_line, machine_facts, machine_table, spread, write_section

EPH = [sys.executable, "-m", "pytest_ephemeral.cli"]


def _eph(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*EPH, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"eph {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done


def _left(name: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=pytest-ephemeral.name={name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    vols = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=pytest-ephemeral.name={name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out + vols


def run_once(spec: Path) -> float:
    t0 = time.perf_counter()
    _eph("run", "-f", str(spec), "--", "true", cwd=spec.parent)
    return time.perf_counter() - t0


def up_down_once(spec: Path) -> float:
    t0 = time.perf_counter()
    up = _eph("up", "-f", str(spec), "--json", cwd=spec.parent)
    env_id = json.loads(up.stdout)["id"]
    _eph("down", env_id, cwd=spec.parent)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-run-"))
    name = f"benchrun-{uuid.uuid4().hex[:6]}"
    try:
        shutil.copytree(ROOT / "examples" / "quickstart", folder / "quickstart")
        spec = folder / "quickstart" / "ephemeral.yaml"
        text = spec.read_text().replace("name: quickstart", f"name: {name}", 1)
        spec.write_text(text)
        facts = machine_facts()
        print(f"warm-up (builds the api image) for {name} ...", file=sys.stderr)
        run_once(spec)
        contenders = {"eph run -- true": run_once, "eph up + eph down": up_down_once}
        times: dict[str, list[float]] = {k: [] for k in contenders}
        order = list(contenders)
        for i in range(args.repeat):
            for key in order[i % 2 :] + order[: i % 2]:
                seconds = contenders[key](spec)
                left = _left(name)
                if left:
                    raise SystemExit(f"{key}: left behind {left}")
                times[key].append(seconds)
                print(f"{i + 1}/{args.repeat} {key}: {seconds:.2f}s", file=sys.stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    run_med = spread(times["eph run -- true"])[0]
    lines = [
        "## `eph run -- true` against `eph up` + `eph down`",
        "",
        f"Command: `{command_line()}` (the reference topology, `examples/quickstart`, "
        "under a name of its own; the two ways interleaved in one run, the order "
        "rotating; wall time from the first process's start to the last one's end; the "
        "api image built before, untimed).",
        "",
        "| way | processes | median | min | max | vs eph run |",
        "|---|---|---|---|---|---|",
    ]
    for key, values in times.items():
        med, low, high = spread(values)
        procs = 1 if key.startswith("eph run") else 2
        lines.append(
            f"| {key} | {procs} | {med:.2f} s | {low:.2f} s | {high:.2f} s | {med / run_med:.2f}x |"
        )
    up_med = spread(times["eph up + eph down"])[0]
    # each repetition ran the two back to back: their ratio is less exposed to the
    # load of the machine (shared with other work) than the medians are
    ratios = [
        r / u for r, u in zip(times["eph run -- true"], times["eph up + eph down"], strict=True)
    ]
    ratio = spread(ratios)[0]
    wins = sum(1 for x in ratios if x <= 1.0)
    verdict = "no slower" if ratio <= 1.0 else "slower"
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines += [
        "",
        f"- Paired (the two ways back to back in each repetition): `eph run` took "
        f"{ratio:.2f}x the time of `eph up` + `eph down` (median of {args.repeat} ratios; "
        f"`eph run` as fast or faster in {wins} of {args.repeat}): {verdict}. Medians: "
        f"{run_med:.2f} s against {up_med:.2f} s.",
        "- Why: the same start and removal path (`Manager`), one Python start and one "
        "engine client instead of two, and no kept marker to write (nor a search for a "
        "kept environment to reuse, which `eph up` now makes).",
        f"- The machine was shared (load average {facts.get('load average at start', '?')} "
        f"at the start, {load_end} at the end), hence the spread between min and max.",
        "- Nothing labelled with the benchmark's spec name was left after any repetition.",
        "",
        *machine_table(facts),
    ]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        write_section(args.out, "bench-run", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
