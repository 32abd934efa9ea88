"""Chaos run: N randomised kills of real pytest runs at random moments.

Each round starts a small suite (two services, two tests; sometimes under
``-n 2``, and then half the time with ``--eph-shared``), waits a random
time, then interrupts it at random: SIGINT, SIGTERM, SIGKILL of the whole
process group, or SIGKILL of one xdist worker. It then
measures how long until nothing labelled with that round's spec remains
(the reaper's cleanup delay after a SIGKILL) and counts what leaked after 30 s.

    python benchmarks/chaos.py --runs 50 [--seed 1] [--out docs/chaos.md]

Exit status 1 when anything leaked.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker

LABEL_NAME = "pytest-ephemeral.name"
HOW = ("SIGINT", "SIGTERM", "SIGKILL-group", "SIGKILL-worker")


@dataclass
class Round:
    how: str
    after: float
    xdist: bool
    shared: bool
    cleanup: float | None  # seconds from the signal to nothing left; None: leaked
    leaked: int
    had_resources: bool


def suite(root: Path, name: str) -> None:
    (root / "ephemeral.yaml").write_text(
        textwrap.dedent(
            f"""
            name: {name}
            services:
              a:
                image: python:3.12-slim
                command: ["sh", "-c", "sleep 0.5; echo ready; sleep 600"]
                wait: {{log: ready}}
              b:
                image: python:3.12-slim
                command: ["sh", "-c", "echo ready; sleep 600"]
                depends_on: [a]
                wait: {{log: ready}}
            """
        )
    )
    (root / "test_chaos.py").write_text(
        textwrap.dedent(
            """
            import os, time
            def test_one(eph):
                open(os.environ["CHAOS_PIDS"] + f"/{os.getpid()}", "w").close()
                time.sleep(3)
            def test_two(eph):
                open(os.environ["CHAOS_PIDS"] + f"/{os.getpid()}", "w").close()
                time.sleep(3)
            """
        )
    )


def count(client: docker.DockerClient, name: str, label: str = LABEL_NAME) -> int:
    flt = {"label": [f"{label}={name}"]}
    api = client.api
    return (
        len(api.containers(all=True, filters=flt))
        + len(api.networks(filters=flt))
        + len(api.volumes(filters=flt).get("Volumes") or [])
    )


def one_round(client: docker.DockerClient, rng: random.Random, workdir: Path) -> Round:
    name = f"chaos-{uuid.uuid4().hex[:8]}"
    root = workdir / name
    pids = root / "pids"
    pids.mkdir(parents=True)
    suite(root, name)
    how = rng.choice(HOW)
    xdist = how == "SIGKILL-worker" or rng.random() < 0.4
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    shared = xdist and rng.random() < 0.5
    if xdist:
        args += ["-p", "xdist", "-n", "2"]
    if shared:
        args.append("--eph-shared")
    proc = subprocess.Popen(
        args,
        cwd=root,
        env=dict(os.environ, CHAOS_PIDS=str(pids)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # the random moment: a while after the first resource appeared (setup,
    # a test, or teardown), or now and then before anything exists
    t0 = time.monotonic()
    if rng.random() < 0.85:
        while count(client, name) == 0 and proc.poll() is None and time.monotonic() - t0 < 60:
            time.sleep(0.02)
    delay = rng.uniform(0.0, 4.0)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    after = time.monotonic() - t0
    had = count(client, name) > 0
    victim_env: str | None = None  # SIGKILL-worker: the victim's environment only
    t_signal = time.monotonic()
    if proc.poll() is None:
        if how == "SIGINT":
            proc.send_signal(signal.SIGINT)
        elif how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        elif how == "SIGKILL-group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            workers = [int(p.name) for p in pids.iterdir()]
            if workers:
                victim = rng.choice(workers)
                for c in client.api.containers(
                    all=True, filters={"label": [f"{LABEL_NAME}={name}"]}
                ):
                    owner = c["Labels"].get("pytest-ephemeral.owner", "")
                    if owner.split("/")[2:3] == [str(victim)]:
                        victim_env = c["Labels"]["pytest-ephemeral.env"]
                t_signal = time.monotonic()
                os.kill(victim, signal.SIGKILL)
            else:
                os.killpg(proc.pid, signal.SIGKILL)
    cleanup = None
    if victim_env is not None:  # the run goes on; time the victim's cleanup alone
        end = t_signal + 30
        while time.monotonic() < end:
            if count(client, victim_env, "pytest-ephemeral.env") == 0:
                cleanup = time.monotonic() - t_signal
                break
            time.sleep(0.05)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if count(client, name) == 0:
            if victim_env is None:
                cleanup = time.monotonic() - t_signal
            break
        time.sleep(0.05)
    leaked = count(client, name)
    if leaked:  # leave the engine clean for the next round, but count it
        subprocess.run(
            [sys.executable, "-m", "pytest_ephemeral.cli", "prune"],
            check=False,
            capture_output=True,
        )
    return Round(how, after, xdist, shared, cleanup, leaked, had)


def report(rounds: list[Round]) -> str:
    lines = [
        "| interrupt | rounds | of them -n 2 / --eph-shared | leaked | cleanup median "
        "| cleanup max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for how in (*HOW, "all"):
        rs = [r for r in rounds if how in ("all", r.how)]
        if not rs:
            continue
        delays = [r.cleanup for r in rs if r.cleanup is not None and r.had_resources]
        med = f"{statistics.median(delays):.2f} s" if delays else "-"
        mx = f"{max(delays):.2f} s" if delays else "-"
        modes = f"{sum(r.xdist for r in rs)} / {sum(r.shared for r in rs)}"
        lines.append(
            f"| {how} | {len(rs)} | {modes} | {sum(r.leaked for r in rs)} | {med} | {mx} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="write a Markdown report here")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    client = docker.from_env()
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="eph-chaos-") as tmp:
        for i in range(args.runs):
            r = one_round(client, rng, Path(tmp))
            rounds.append(r)
            state = (
                "LEAKED"
                if r.leaked
                else f"clean after {r.cleanup:.2f}s"
                if r.cleanup is not None
                else "?"
            )
            print(
                f"round {i + 1:3}/{args.runs}: {r.how:<14} after {r.after:4.1f}s "
                f"xdist={r.xdist!s:<5} shared={r.shared!s:<5} {state}",
                flush=True,
            )
    table = report(rounds)
    leaked = sum(r.leaked for r in rounds)
    print(f"\nseed {seed}, {args.runs} rounds, {leaked} leaked resources\n")
    print(table)
    if args.out:
        cmd = f"python benchmarks/chaos.py --runs {args.runs} --seed {seed}"
        args.out.write_text(
            f"# Chaos run\n\n`{cmd}` on {time.strftime('%Y-%m-%d')}: "
            f"{args.runs} randomised interrupts, {leaked} leaked resources.\n"
            "Cleanup is measured from the signal to the moment no resource of the "
            "round remains (for SIGKILL: the reaper's delay).\n\n" + table + "\n"
        )
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())
