#!/usr/bin/env python
"""The plugin's cost to a suite that never asks for an environment.

Generates a suite of trivial tests (200 by default) that does not use ``eph``,
and times ``pytest --collect-only -q`` on it in fresh processes, with the
plugin (installed, auto-loaded from its ``pytest11`` entry point) and with
``-p no:ephemeral``. Rounds rotate the arms — plugin, no plugin, and no plugin
again as an A/A control — so the control's ratio shows what "no difference"
looks like on this machine (the noise band).

Two suites: one without any spec in its rootdir, run with ``-q``; and one
with an ``ephemeral.yaml`` next to it, run without ``-q`` so the report
header is printed (the plugin's header asks the Docker engine for its
version: one local HTTP request). That suite has a fourth arm, the plugin with
``--no-header``, which separates the header's share of the cost.

CPU time (user + system) of each pytest process is the primary measure; wall
time is reported too. Other installed pytest plugins are disabled in every
arm (``--keep-other-plugins`` to keep them); bytecode and assertion-rewrite
caches are on, in a temporary ``PYTHONPYCACHEPREFIX`` (``--no-bytecode-cache``
to turn them off).

Also lists what the plugin leaves in ``sys.modules`` after such a session and
times ``import pytest_ephemeral.plugin`` (``python -X importtime``), to show
the heavy imports (Docker SDK, YAML, testcontainers) stay out.

Run:  python benchmarks/bench_import.py [--rounds N] [--tests 200] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_facts, machine_table, other_plugins, write_section

HEAVY = ("docker", "testcontainers", "yaml", "requests", "urllib3", "filelock")
ARMS = ("plugin", "no plugin", "no plugin (A/A)")
# with a spec and the header shown: also the plugin with --no-header, which
# tells the header's share of the cost from the rest
HEADER_ARMS = (*ARMS, "plugin, --no-header")
SPEC = """\
name: unused
services:
  db:
    image: postgres:16-alpine
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_suite(root: Path, tests: int, with_spec: bool) -> None:
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    if with_spec:
        (root / "ephemeral.yaml").write_text(SPEC, encoding="utf-8")
    per_file = 10
    for f in range((tests + per_file - 1) // per_file):
        n = min(per_file, tests - f * per_file)
        body = [f'"""Generated: {n} trivial tests."""', ""]
        for i in range(n):
            body += [f"def test_{f}_{i}():", f"    assert {i} + 1 == {i + 1}", ""]
        (root / f"test_gen_{f:03d}.py").write_text("\n".join(body), encoding="utf-8")


def others() -> list[str]:
    """Every other auto-loaded pytest plugin disabled (xdist too): they load in
    both arms alike and only dilute the difference, so the baseline is pytest
    alone."""
    return other_plugins(keep=("ephemeral",))


def argv(arm: str, isolate: bool = True, quiet: bool = True) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        *(["-q"] if quiet else []),
        "-p",
        "no:cacheprovider",
    ]
    if isolate:
        cmd += others()
    if arm == "plugin":
        return cmd
    if arm == "plugin, --no-header":
        return [*cmd, "--no-header"]
    return [*cmd, "-p", "no:ephemeral"]


_PYCACHE: Path | None = None  # set by main(): bytecode caches for the child processes


def child_env() -> dict[str, str]:
    """The environment of every measured process: no PYTEST_* variables; bytecode
    (and pytest's assertion-rewrite) caches on, kept in a temporary
    PYTHONPYCACHEPREFIX so the source tree is not touched — as in a normal
    checkout. With ``--no-bytecode-cache`` (or ``_PYCACHE`` unset) nothing is
    cached and pytest rewrites the plugin's modules again in every process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("PYTHONPYCACHEPREFIX", None)
    if _PYCACHE is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(_PYCACHE)
    return env


def arms_of(suite: Path) -> tuple[str, ...]:
    return HEADER_ARMS if (suite / "ephemeral.yaml").exists() else ARMS


def run(cwd: Path, arm: str, expected: int, isolate: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one fresh pytest process."""
    env = child_env()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    quiet = not (cwd / "ephemeral.yaml").exists()  # with a spec: show the header (asks the engine)
    proc = subprocess.run(
        argv(arm, isolate, quiet), cwd=cwd, env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0 or f"{expected} tests collected" not in proc.stdout:
        raise RuntimeError(
            f"{arm} in {cwd}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return took, cpu


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[1], q[2]


def loaded_modules(cwd: Path, arm: str, isolate: bool) -> list[str]:
    """The pytest_ephemeral modules and heavy packages in ``sys.modules`` after a
    collect-only session (run in-process by ``pytest.main``)."""
    args = argv(arm, isolate, quiet=False)[3:]
    prefixes = ("pytest_ephemeral", *HEAVY)
    code = (
        "import sys, json, pytest, contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    pytest.main({args!r})\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {prefixes!r})))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


def import_ms(samples: int = 7) -> dict[str, float]:
    """Median cumulative import times (ms) with pytest already imported
    (``python -X importtime``): the plugin module, ``_header`` (imported for the
    report header when a spec is present) and, within it, ``http.client``."""
    wanted = ("pytest_ephemeral.plugin", "pytest_ephemeral._header", "http.client")
    times: dict[str, list[float]] = {w: [] for w in wanted}
    code = "import pytest; import pytest_ephemeral.plugin; import pytest_ephemeral._header"
    for _ in range(samples):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            env=child_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        seen = dict.fromkeys(wanted, 0.0)
        for line in proc.stderr.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] in seen and parts[1].isdigit():
                seen[parts[2]] = int(parts[1]) / 1000
        for name, ms in seen.items():
            times[name].append(ms)
    return {name: statistics.median(v) for name, v in times.items()}


def main(argv_: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=20, help="rounds of all arms (default 20)")
    p.add_argument(
        "--tests", type=int, default=200, help="tests in the generated suite (default 200)"
    )
    p.add_argument(
        "--keep-other-plugins",
        action="store_true",
        help="let the other installed pytest plugins load too (default: disabled in all arms)",
    )
    p.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run every process with PYTHONDONTWRITEBYTECODE=1 (pytest then re-rewrites "
        "the plugin's modules each time); default: caches on, in a temporary folder",
    )
    p.add_argument("--out", type=Path, help="write the results section into this markdown file")
    args = p.parse_args(argv_)
    isolate = not args.keep_other_plugins

    started = time.monotonic()
    facts = machine_facts()
    tmp = Path(tempfile.mkdtemp(prefix="eph-bench-import-"))
    global _PYCACHE
    _PYCACHE = None if args.no_bytecode_cache else tmp / "pycache"
    suites = {
        "-q, no spec in rootdir": tmp / "plain",
        "header shown, ephemeral.yaml in rootdir": tmp / "with-spec",
    }
    make_suite(suites["-q, no spec in rootdir"], args.tests, with_spec=False)
    make_suite(suites["header shown, ephemeral.yaml in rootdir"], args.tests, with_spec=True)
    # suite -> arm -> [(wall, cpu)]
    times: dict[str, dict[str, list[tuple[float, float]]]] = {
        s: {a: [] for a in arms_of(path)} for s, path in suites.items()
    }
    try:
        for cwd in suites.values():
            for arm in arms_of(cwd):  # warm-up: page cache, bytecode of the suite
                run(cwd, arm, args.tests, isolate)
        for r in range(args.rounds):
            for suite, cwd in suites.items():
                arms = arms_of(cwd)
                order = arms[r % len(arms) :] + arms[: r % len(arms)]
                for arm in order:
                    times[suite][arm].append(run(cwd, arm, args.tests, isolate))
            if (r + 1) % 5 == 0:
                log(f"round {r + 1}/{args.rounds}")
        modules = {
            arm: loaded_modules(suites["header shown, ephemeral.yaml in rootdir"], arm, isolate)
            for arm in ARMS[:2]
        }
        imports = import_ms()
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)

    out: list[str] = []
    w = out.append
    w("## Plugin import overhead (`bench_import.py`)")
    w("")
    w(f"Command: `{command_line()}`  ")
    shown = " ".join(argv("plugin", isolate)[1:])
    w(
        f"`python {shown}` (without `-q` for the suite with a spec) on a generated suite of "
        f"{args.tests} trivial tests that never asks "
        "for `eph`, in a fresh process each time, with the plugin (auto-loaded from its entry "
        "point) and with `-p no:ephemeral` added. "
        + (
            "The other installed pytest plugins are disabled in every arm, so the baseline is "
            "pytest alone and any cost of ours is as large a share as it can be. "
            if isolate
            else ""
        )
        + (
            "Bytecode and assertion-rewrite caches are on (in a temporary "
            "`PYTHONPYCACHEPREFIX`) and warm, as in a normal checkout. "
            if _PYCACHE is not None
            else "Bytecode caches are off (`PYTHONDONTWRITEBYTECODE=1`): pytest rewrites "
            "the plugin's modules again in every process. "
        )
        + f"{args.rounds} rounds, the arms rotating within each round; the A/A arm repeats "
        "`-p no:ephemeral` and gives the noise band. CPU time (user + system of the pytest "
        "process) is the primary measure: on a shared machine it is far less disturbed by "
        f"other jobs than wall time. Wall time {time.monotonic() - started:.0f} s."
    )
    w("")
    w("Machine:")
    w("")
    out.extend(machine_table(facts))
    w("")
    verdicts: list[str] = []
    for metric, idx in (("CPU", 1), ("wall", 0)):
        w(f"{metric} seconds per run, and the ratio to no plugin paired per round:")
        w("")
        w("| suite | arm | seconds: median (min-max) | ratio to no plugin: median (quartiles) |")
        w("|---|---|---|---|")
        for suite, arms in times.items():
            vals = {a: [x[idx] for x in arms[a]] for a in arms}
            base = vals["no plugin"]
            for arm in arms:
                v = vals[arm]
                ratios = [a / b for a, b in zip(v, base, strict=True)]
                cell = (
                    "1 (reference)"
                    if arm == "no plugin"
                    else "{1:.3f} ({0:.3f}-{2:.3f})".format(*quartiles(ratios))
                )
                w(
                    f"| {suite} | {arm} | {statistics.median(v):.3f} "
                    f"({min(v):.3f}-{max(v):.3f}) | {cell} |"
                )
            band = [a / b for a, b in zip(vals["no plugin (A/A)"], base, strict=True)]
            plugin = [a / b for a, b in zip(vals["plugin"], base, strict=True)]
            lo, med_band, hi = quartiles(band)
            # the noise band: 1 ± the A/A control's widest quartile distance from 1
            d = max(abs(lo - 1), abs(hi - 1))
            med = statistics.median(plugin)
            diff_ms = (statistics.median(vals["plugin"]) - statistics.median(base)) * 1000
            verdicts.append(
                f"- {suite}, {metric} time: plugin/no-plugin = {med:.3f} (difference of the "
                f"medians {diff_ms:+.0f} ms); noise band from the A/A control "
                f"{1 - d:.3f}-{1 + d:.3f} "
                f"(its quartiles {lo:.3f}-{hi:.3f}, median {med_band:.3f}). "
                + (
                    "No measurable slowdown."
                    if med <= 1 + d
                    else "**A slowdown beyond the noise band.**"
                )
            )
            if "plugin, --no-header" in vals:
                quiet = [a / b for a, b in zip(vals["plugin, --no-header"], base, strict=True)]
                quiet_ms = (
                    statistics.median(vals["plugin, --no-header"]) - statistics.median(base)
                ) * 1000
                verdicts[-1] += (
                    f" With `--no-header` (the plugin loaded, its header line not built): "
                    f"{statistics.median(quiet):.3f} ({quiet_ms:+.0f} ms), so the header line "
                    f"accounts for about {diff_ms - quiet_ms:+.0f} ms."
                )
        w("")
    out.extend(verdicts)
    w("")
    ours = [m for m in modules["plugin"] if m.split(".")[0] == "pytest_ephemeral"]
    heavy = sorted({m.split(".")[0] for m in modules["plugin"]} - {"pytest_ephemeral"})
    heavy_without = sorted({m.split(".")[0] for m in modules["no plugin"]} - {"pytest_ephemeral"})
    w(
        "Loaded after a collect-only session with the plugin (suite with a spec): "
        f"{', '.join(f'`{m}`' for m in ours) or 'none'}. With pytest already imported "
        "(`python -X importtime`, median of 7), importing `pytest_ephemeral.plugin` takes "
        f"{imports['pytest_ephemeral.plugin']:.1f} ms, and `pytest_ephemeral._header` (only "
        "when a spec is present and the header is shown) "
        f"{imports['pytest_ephemeral._header']:.1f} ms, of which "
        f"{imports['http.client']:.1f} ms is `http.client` (it imports `ssl` and `email`). "
        f"Heavy packages ({', '.join(HEAVY)}) in `sys.modules` with the plugin: "
        f"{', '.join(f'`{h}`' for h in heavy) or 'none'}; without it: "
        f"{', '.join(f'`{h}`' for h in heavy_without) or 'none'}."
    )
    added = sorted(set(heavy) - set(heavy_without))
    if added:
        w("")
        w(
            f"**The plugin pulls in {', '.join(added)} at startup**, "
            "which its design says it must not."
        )
    report = "\n".join(out) + "\n"
    print(report)
    if args.out:
        write_section(args.out, "bench_import", report)
        log(f"wrote the bench_import section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
