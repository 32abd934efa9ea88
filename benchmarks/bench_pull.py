#!/usr/bin/env python
"""Pulls and the image step (issue 10), side by side in one run.

1. PULL: one image from the registry on 127.0.0.1:5000
   (scripts/setup.d/20-registry.sh), not on the engine before each pull
   (removed in between, layers and all), by three contenders interleaved
   round-robin (the order rotates):

   plugin
       ``DockerBackend.pull_image`` — what a run does for a missing image:
       credentials looked up, the per-image lock across processes, the
       engine's progress stream parsed into progress lines.
   docker pull
       the ``docker`` CLI (``docker pull -q``), a process per pull.
   sdk
       the Docker SDK's own ``APIClient.pull(stream=True)``, consumed: the
       lower bound of a pull through the engine's API from Python.

   The image is a layer of random bytes (``--size-mb``, default 48) on
   ``scratch``, pushed once; the registry serves it over loopback, so the
   numbers are the engine's pull machinery, not a network.

2. READY WITH IMAGES PRESENT, before and after this change: a spec of Redis
   (log wait) and an HTTP server (port wait), images on the engine, started
   and removed in a fresh process each time (as a pytest run would), by the
   tree before the pulls work (``--before``, default 5b06ff4, extracted with
   ``git archive`` into a temporary folder) and by this checkout,
   interleaved. Timed to ready, and every HTTP request to the engine
   counted by path (the count is what "no new round trips on the hot path"
   is about; the time is noisy on a shared machine).

Run:  python benchmarks/bench_pull.py [--repeat 5] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, command_line, machine_facts, machine_table, spread, write_section

REGISTRY = "127.0.0.1:5000"
IMAGE = f"{REGISTRY}/eph-bench/pull:blob"
LOCAL = "eph-bench/pull:blob"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def prepare_image(size_mb: int) -> None:
    """An image of ``size_mb`` random bytes in the registry, on the engine nowhere."""
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "blob").write_bytes(os.urandom(size_mb * 1024 * 1024))
        Path(ctx, "Dockerfile").write_text(
            "FROM scratch\nCOPY blob /blob\nLABEL pytest-ephemeral.bench=pull\n", encoding="utf-8"
        )
        docker("build", "-q", "-t", LOCAL, ctx)
    docker("tag", LOCAL, IMAGE)
    docker("push", "-q", IMAGE)
    forget()


def forget() -> None:
    """The benchmark's image off the engine: its names and its digest reference."""
    refs = docker("image", "inspect", "--format", "{{json .RepoDigests}}", IMAGE, check=False)
    names = [IMAGE, LOCAL]
    if refs.startswith("["):
        names += json.loads(refs)
    for name in names:
        docker("rmi", "-f", name, check=False)


def pull_plugin() -> None:
    from pytest_ephemeral.backends.docker import DockerBackend

    backend = DockerBackend()
    try:
        backend.pull_image(IMAGE, lambda _line: None)
    finally:
        backend.close()


def pull_cli() -> None:
    docker("pull", "-q", IMAGE)


def pull_sdk() -> None:
    import docker as sdk

    client = sdk.APIClient(version="auto")
    try:
        for _ in client.pull(IMAGE, stream=True, decode=True):
            pass
    finally:
        client.close()


PULLERS = {"plugin": pull_plugin, "docker pull": pull_cli, "sdk": pull_sdk}


def bench_pull(repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in PULLERS}
    names = list(PULLERS)
    for rep in range(repeat):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            forget()
            t0 = time.perf_counter()
            PULLERS[name]()
            times[name].append(time.perf_counter() - t0)
            if not docker("images", "-q", IMAGE):
                raise SystemExit(f"{name}: the image is not on the engine after the pull")
        log(f"pull round {rep + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in names))
    forget()
    return times


SPEC = """\
name: benchready
services:
  cache:
    image: redis:7-alpine
    wait: {log: "Ready to accept connections"}
  web:
    image: python:3.12-slim
    command: ["python3", "-m", "http.server", "8000"]
    ports: [8000]
"""

# one run in a fresh process: every request to the engine counted by path
CHILD = r"""
import collections, json, re, sys, time
import requests

counts = collections.Counter()
send = requests.Session.send

def counting(self, request, **kw):
    path = re.sub(r"^/v[0-9.]+", "", request.path_url.split("?")[0])
    path = re.sub(r"/[0-9a-f]{64}", "/ID", path)
    path = re.sub(r"^/(images|containers|networks|volumes)/[^/]+/", r"/\1/NAME/", path)
    counts[f"{request.method} {path}"] += 1
    return send(self, request, **kw)

requests.Session.send = counting
from pathlib import Path
from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle.manager import Manager

root = Path(sys.argv[1])
t0 = time.perf_counter()
manager = Manager(Settings(rootdir=root, timeout=60))
env = manager.environment()
ready = time.perf_counter() - t0
before_close = sum(counts.values())
up = dict(counts)
manager.close(failed=False)
print(json.dumps({"ready": ready, "up": up, "up_total": before_close}))
"""


# before: the tree before this change; after: this checkout
TREES = ("before", "after")


def extract(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def bench_ready(repeat: int, before: str) -> dict[str, Any]:
    out: dict[str, Any] = {name: [] for name in TREES}
    with tempfile.TemporaryDirectory() as tmp:
        old_src = extract(before, Path(tmp))
        spec_dir = Path(tmp, "spec")
        spec_dir.mkdir()
        (spec_dir / "ephemeral.yaml").write_text(SPEC, encoding="utf-8")
        trees = {"before": old_src, "after": ROOT / "src"}
        names = list(TREES)
        for rep in range(repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                env = {
                    **os.environ,
                    "PYTHONPATH": str(trees[name]),
                    "TESTCONTAINERS_RYUK_DISABLED": "true",
                }
                env.pop("DOCKER_API_VERSION", None)
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(spec_dir)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    env=env,
                    cwd=tmp,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{name}: {done.stderr.strip()[-2000:]}")
                out[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            log(
                f"ready round {rep + 1}: "
                + ", ".join(f"{n} {out[n][-1]['ready']:.2f}s" for n in names)
            )
    return out


def report(args: argparse.Namespace, pulls: dict[str, list[float]], ready: dict[str, Any]) -> str:
    facts = machine_facts()
    facts["registry"] = f"Debian's docker-registry on {REGISTRY} (loopback, plain HTTP)"
    lines = [
        "## Pulls and the image step (issue 10)",
        "",
        f"Command: `{command_line()}`",
        "",
        *machine_table(facts),
        "",
        f"### Pull of a {args.size_mb} MB image from the local registry "
        f"({args.repeat} rounds, interleaved, image removed before each pull)",
        "",
        "| contender | median | min | max | ratio of medians to docker pull | "
        "median of the per-round ratios |",
        "|---|---|---|---|---|---|",
    ]
    base = spread(pulls["docker pull"])[0]
    for name, values in pulls.items():
        med, lo, hi = spread(values)
        paired = statistics.median(v / d for v, d in zip(values, pulls["docker pull"], strict=True))
        lines.append(
            f"| {name} | {med:.2f} s | {lo:.2f} s | {hi:.2f} s | {med / base:.2f}x | "
            f"{paired:.2f}x |"
        )
    lines += [
        "",
        f"### Time to ready with the images present, before ({args.before}) and after "
        f"({args.repeat} rounds each, interleaved, a fresh process per start)",
        "",
        "| tree | median to ready | min | max | requests to the engine until ready |",
        "|---|---|---|---|---|",
    ]
    for name in TREES:
        runs = ready[name]
        med, lo, hi = spread([r["ready"] for r in runs])
        totals = sorted({r["up_total"] for r in runs})
        lines.append(
            f"| {name} | {med:.2f} s | {lo:.2f} s | {hi:.2f} s | "
            f"{' / '.join(str(t) for t in totals)} |"
        )
    kinds = sorted({k for name in TREES for r in ready[name] for k in r["up"]})

    def median_count(name: str, kind: str) -> float:
        return float(statistics.median(Counter(r["up"])[kind] for r in ready[name]))

    def median_ready(name: str) -> float:
        return float(statistics.median(r["ready"] for r in ready[name]))

    always = ("GET /version", "GET /images/NAME/json")
    shown = [k for k in kinds if k in always or len({median_count(name, k) for name in TREES}) > 1]
    lines += [
        "",
        "Requests by kind until ready, median over the rounds (the image step's kinds, and "
        "every kind whose median differs; readiness polls vary from round to round):",
        "",
        "| request | " + " | ".join(TREES) + " |",
        "|---|" + "---|" * len(TREES),
    ]
    for kind in shown:
        counts = " | ".join(f"{median_count(name, kind):g}" for name in TREES)
        lines.append(f"| `{kind}` | {counts} |")
    ratio = spread(pulls["plugin"])[0] / base
    paired_plugin = statistics.median(
        p / d for p, d in zip(pulls["plugin"], pulls["docker pull"], strict=True)
    )
    lines += [
        "",
        "Reading:",
        "",
        f"- The plugin's pull takes {ratio:.2f}x the time of `docker pull` for the same "
        f"image by the medians, {paired_plugin:.2f}x by the per-round ratios (each round "
        "pulls with every contender back to back, so drifting load cancels out there; "
        "target ≤ 1.1x). Both ask the engine to pull and wait for it; the plugin "
        "adds its credential lookup, the per-image file lock and the parsing of the "
        "progress stream, `docker pull` a process start. The SDK row (its own pull, "
        "the stream consumed) does the same work minus the lock and the credentials: "
        "how far it lands from the plugin's row is this machine's noise band.",
        f"- With the images present, the image step asks the engine what it asked before: "
        f"`GET /images/NAME/json` {median_count('before', 'GET /images/NAME/json'):g} times "
        f"before, {median_count('after', 'GET /images/NAME/json'):g} after (whether each of "
        "the two images is there, and the healthcheck of the service that has no wait); "
        "the `missing` policy needs nothing more, the age policies (`daily`, `weekly`, "
        "`every_`) one more inspect per image. The one new request is `GET /version`, once "
        "per process, from which the API version is chosen (Debian's 20.10 here: 1.41; "
        "Docker 29: the SDK's newest, 1.45) instead of being fixed at 1.41, which Docker 29 "
        "refuses; the same answer tells the backend whether the engine is Docker or "
        "Podman, so it is asked even when `DOCKER_API_VERSION` fixes the version.",
        f"- Time to ready, medians: before {median_ready('before'):.2f} s, after "
        f"{median_ready('after'):.2f} s: on this shared machine the spread of either "
        "is far wider than one request on a unix socket (about a millisecond), and the "
        "two trees also differ by everything else that landed between them; the request "
        "counts are the comparison that holds.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--size-mb", type=int, default=48)
    p.add_argument("--before", default="5b06ff4", help="the tree before the change")
    p.add_argument("--out", type=Path, help="write the section into this markdown file")
    p.add_argument("--skip-ready", action="store_true", help="only the pull comparison")
    args = p.parse_args(argv)
    import docker as _sdk  # noqa: F401 - imported before any timing, as a run has it

    import pytest_ephemeral.backends.docker  # noqa: F401

    log(f"pushing a {args.size_mb} MB image to {REGISTRY} ...")
    prepare_image(args.size_mb)
    pulls = bench_pull(args.repeat)
    ready = (
        {"before": [], "after": []} if args.skip_ready else bench_ready(args.repeat, args.before)
    )
    text = report(args, pulls, ready) if ready["before"] else ""
    if not text:
        base = spread(pulls["docker pull"])[0]
        for name, values in pulls.items():
            print(f"{name}: median {spread(values)[0]:.2f}s ({spread(values)[0] / base:.2f}x)")
        return 0
    print(text)
    if args.out:
        write_section(args.out, "bench_pull", text)
        log(f"wrote the bench_pull section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
