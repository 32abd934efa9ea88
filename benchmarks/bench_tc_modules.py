#!/usr/bin/env python
"""Time to ready of a topology whose services come from testcontainers modules.

The topology: Redis and PostgreSQL, each from its testcontainers-python module
(``testcontainers.community.redis:RedisContainer`` on ``redis:7-alpine``,
``testcontainers.community.postgres:PostgresContainer`` on
``postgres:16-alpine``), on one network, each waiting as its module waits
(Redis: a PING through its client; PostgreSQL: ``psql -c 'select version()'``
by exec until it answers).

Contenders, interleaved in every repetition (the order alternates so none
always goes first), after one untimed warm-up round:

ephemeral
    the plugin's engine through ``Manager`` (the ``eph`` fixture's path): spec
    load, guards, the environment's network, both modules started in
    parallel, each with its own configuration and waits, labelled and
    published on 127.0.0.1.
testcontainers
    testcontainers-python the usual way: a ``Network``, then
    ``RedisContainer(...).start()``, then ``PostgresContainer(...).start()``,
    one after another. Ports are published on 127.0.0.1 (this machine's rule;
    the library's default is every interface), which changes nothing of its
    waits.

Time to ready: from the first call until both modules are started (their own
waits passed); that both answer is then checked, untimed (a PING, a query by
exec). Teardown is untimed; nothing of either contender may be left.

Ryuk is off (it cannot be pulled here) and testcontainers' host is 127.0.0.1.

Run:  python benchmarks/bench_tc_modules.py [--repeat N] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import os

# testcontainers reads its configuration from the environment at import time.
os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"  # Ryuk cannot be pulled here
os.environ["TESTCONTAINERS_HOST_OVERRIDE"] = "127.0.0.1"  # /.dockerenv misleads it
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_facts, machine_table, spread, write_section

REDIS_CLASS = "testcontainers.community.redis:RedisContainer"
POSTGRES_CLASS = "testcontainers.community.postgres:PostgresContainer"
REDIS_IMAGE = "redis:7-alpine"
POSTGRES_IMAGE = "postgres:16-alpine"
TOKEN = uuid.uuid4().hex[:8]
BENCH = "eph-bench-tc"  # every resource of the testcontainers contender: eph-bench-tc=<token>
SPEC_NAME = f"benchtc-{TOKEN}"  # the plugin contender's environments: pytest-ephemeral.name=
EPH_NAME = "pytest-ephemeral.name"
CONTENDERS = ("ephemeral", "testcontainers")
TITLES = {
    "ephemeral": "pytest-ephemeral (modules in parallel)",
    "testcontainers": "testcontainers-python, one after another",
}

SPEC = f"""\
name: {SPEC_NAME}
services:
  cache:
    testcontainers:
      class: {REDIS_CLASS}
      image: {REDIS_IMAGE}
  db:
    testcontainers:
      class: {POSTGRES_CLASS}
      image: {POSTGRES_IMAGE}
      args: {{username: shop, password: secret, dbname: shop}}
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def check(redis: Any, postgres: Any) -> None:
    """Both answer (untimed): a PING through the module's client, a query by exec."""
    if not redis.get_client().ping():
        raise SystemExit("redis did not answer PING")
    code, out = postgres.exec(["psql", "-U", "shop", "-d", "shop", "-tAc", "select 41 + 1"])
    if code != 0 or out.decode().strip() != "42":
        raise SystemExit(f"postgres did not answer: {code} {out!r}")


def run_ephemeral(folder: Path) -> float:
    from pytest_ephemeral.config import Settings
    from pytest_ephemeral.lifecycle.manager import Manager

    manager = Manager(Settings(rootdir=folder, timeout=120), worker="bench")
    try:
        t0 = time.perf_counter()
        env = manager.environment()
        took = time.perf_counter() - t0
        check(env["cache"].container, env["db"].container)
    finally:
        manager.close(failed=False)
    return took


def run_testcontainers() -> float:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer
    from testcontainers.core.network import Network

    labels = {BENCH: TOKEN}
    started: list[Any] = []
    network = None
    try:
        t0 = time.perf_counter()
        network = Network(docker_network_kw={"labels": labels})
        network.create()
        for container, alias in (
            (RedisContainer(REDIS_IMAGE), "cache"),
            (
                PostgresContainer(
                    POSTGRES_IMAGE, username="shop", password="secret", dbname="shop"
                ),
                "db",
            ),
        ):
            container.with_network(network).with_network_aliases(alias)
            container.with_kwargs(labels=labels)
            # published on 127.0.0.1 only (this machine's rule), as the plugin does
            local: dict[Any, Any] = dict.fromkeys(container.ports, ("127.0.0.1",))
            container.ports = local
            container.start()
            started.append(container)
        took = time.perf_counter() - t0
        check(started[0], started[1])
    finally:
        for container in reversed(started):
            with contextlib.suppress(Exception):
                container.stop()
        if network is not None:
            with contextlib.suppress(Exception):
                network.remove()
    return took


def leftovers(api: Any, label: str) -> list[str]:
    flt = {"label": [label]}
    names = [f"container {c['Names'][0]}" for c in api.containers(all=True, filters=flt)]
    names += [f"network {n['Name']}" for n in api.networks(filters=flt)]
    names += [f"volume {v['Name']}" for v in api.volumes(filters=flt).get("Volumes") or []]
    return names


def force_remove(api: Any, label: str) -> None:
    flt = {"label": [label]}
    for c in api.containers(all=True, filters=flt):
        with contextlib.suppress(Exception):
            api.remove_container(c["Id"], force=True, v=True)
    for n in api.networks(filters=flt):
        with contextlib.suppress(Exception):
            api.remove_network(n["Id"])


def report(
    args: argparse.Namespace,
    samples: dict[str, list[float]],
    facts: dict[str, str],
    load_end: str,
) -> str:
    base = statistics.median(samples["testcontainers"])
    lines = [
        "## testcontainers modules as services: time to ready (`bench_tc_modules.py`)",
        "",
        f"Command: `{command_line()}` (Redis and PostgreSQL from their testcontainers modules, "
        f"`{REDIS_CLASS}` on `{REDIS_IMAGE}` and `{POSTGRES_CLASS}` on `{POSTGRES_IMAGE}`; "
        "the two ways interleaved in one run, the order alternating, after an untimed "
        "warm-up round; time to ready from the first call until both modules' own waits "
        "passed; Ryuk off, testcontainers' host 127.0.0.1).",
        "",
        "| way | median | min | max | vs testcontainers |",
        "|---|---|---|---|---|",
    ]
    for kind in CONTENDERS:
        med, lo, hi = spread(samples[kind])
        lines.append(
            f"| {TITLES[kind]} | {med:.2f} s | {lo:.2f} s | {hi:.2f} s | {med / base:.2f}x |"
        )
    ratios = [e / t for e, t in zip(samples["ephemeral"], samples["testcontainers"], strict=True)]
    faster = sum(1 for r in ratios if r < 1)
    lines += [
        "",
        f"- Paired (the two ways back to back in each repetition): the plugin took "
        f"{statistics.median(ratios):.2f}x the time of testcontainers started one after "
        f"another (median of {len(ratios)} ratios; faster in {faster} of {len(ratios)}).",
        "- What differs: the plugin starts the two modules at once (a thread per service "
        "along the dependency graph; here none depends on the other), so the topology can be "
        "ready when the slower module is (PostgreSQL); one after another, Redis's start and "
        "wait come first. Both sides wait exactly as the modules do (the plugin calls the "
        "module's own `start()`); the plugin adds its spec load, guards (a reaper process, "
        "the sweep of dead runs, labels) and the environment's network"
        + (
            "."
            if statistics.median(ratios) < 1
            else ": on this loaded machine (2 shared CPUs) the paired runs came out even or "
            "slower, the parallel start's saving lost in that overhead and in two starts "
            "competing for the CPUs (not measured apart)."
        ),
        f"- The machine was shared (load average {facts.get('load average at start', '?')} at "
        f"the start, {load_end} at the end), hence the spread between min and max.",
        "- Both modules answered after every start (a PING, `select 41 + 1` by exec), and "
        "nothing of either way was left on the engine after the run.",
        "",
        *machine_table(facts),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="measured repetitions (default 5)")
    p.add_argument("--out", type=Path, help="write the results section into this markdown file")
    p.add_argument("--settle", type=float, default=1.0, help="pause between runs, seconds")
    args = p.parse_args(argv)
    api = docker.APIClient(version="auto")
    for image in (REDIS_IMAGE, POSTGRES_IMAGE):
        api.inspect_image(image)  # offline images: they must be here
    facts = machine_facts(api.info())
    folder = Path(tempfile.mkdtemp(prefix="eph-bench-tc-"))
    (folder / "ephemeral.yaml").write_text(SPEC, encoding="utf-8")
    runs: dict[str, Callable[[], float]] = {
        "ephemeral": lambda: run_ephemeral(folder),
        "testcontainers": run_testcontainers,
    }
    samples: dict[str, list[float]] = {k: [] for k in CONTENDERS}
    try:
        for rep in range(-1, args.repeat):
            order = CONTENDERS if rep % 2 == 0 else CONTENDERS[::-1]
            for kind in order:
                took = runs[kind]()
                tag = "warm-up" if rep < 0 else f"rep {rep + 1}/{args.repeat}"
                log(f"{tag:>9} {kind:<15} ready {took:6.2f} s")
                if rep >= 0:
                    samples[kind].append(took)
                time.sleep(args.settle)
    finally:
        for label in (f"{BENCH}={TOKEN}", f"{EPH_NAME}={SPEC_NAME}"):
            with contextlib.suppress(Exception):
                force_remove(api, label)
        shutil.rmtree(folder, ignore_errors=True)
    left = leftovers(api, f"{BENCH}={TOKEN}") + leftovers(api, f"{EPH_NAME}={SPEC_NAME}")
    api.close()
    if left:
        raise SystemExit(f"resources left behind: {', '.join(left)}")
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(args, samples, facts, load_end)
    print(text)
    if args.out:
        write_section(args.out, "bench_tc_modules", text)
        log(f"wrote the bench_tc_modules section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
