#!/usr/bin/env python
"""pytest-ephemeral against its peers, side by side, with one command.

    python benchmarks/peers/run.py [--repeat N] [--out docs/benchmarks.md]

The peers run from their own venv, ``.cache/peers-venv`` (created with
``python -m venv`` and ``pip install -r benchmarks/peers/requirements.txt
-e .`` the first time, or when either file changed; otherwise reused at
once); this script re-executes itself there.

Contenders, each a real pytest suite under ``benchmarks/peers/suites/``
(a conftest written the way the tool's documentation shows, and the same
20-test file), for the reference topology of ``examples/quickstart``
(PostgreSQL with a pg_isready healthcheck on tmpfs, Redis ready on its log
line, an HTTP ``api`` built from ``examples/quickstart/api`` that depends on
db healthy and cache started and is ready on ``GET /health`` = 200):

- pytest-ephemeral: the ``eph`` fixture, spec named in pytest.ini;
- testcontainers-python the usual way: a ``with`` block per container in
  session fixtures, one after another, its wait strategies;
- pytest-docker: Compose through its command line (Debian's docker-compose
  v1), ``docker_services.wait_until_responsive``;
- pytest-docker-tools: its ``network`` / ``image`` / ``image_or_build`` /
  ``container`` fixture factories (``fetch`` would pull: no registry here);
- docker-compose by hand: ``up -d``, poll /health, pytest, ``down -v``.

Measured, in one run:

1. **One pytest process**: environment up (the first test's setup: every
   fixture until the environment is ready), teardown (the last test's
   teardown: session fixtures finalised), the 20-test suite as pytest reports
   it and as a process (start to exit). Warm-up, then ``--repeat``
   repetitions, the contenders round-robin with the order rotating. What each
   leaves behind after a normal end is counted too.
2. **Under pytest-xdist** (``-n 2``, ``-n 4``): the same suite's wall time,
   and what breaks. Plus one run of pytest-docker with fixed host ports, as
   in its README, to show what that does under xdist.
3. **Interrupted runs**: Ctrl-C (SIGINT to the process group) as soon as
   the run's first container is created, and SIGKILL of the process group
   while a test runs (the test writes a marker file, then holds); what each
   leaves behind 15 s after the signal (containers / networks / volumes,
   found from the engine's event stream and the run's labels), then removed.

Every container, network and volume the peers create is labelled
``eph-peers=1`` / ``eph-peers.run=<token>`` (Compose project names start with
``ephpeers``); pytest-ephemeral labels its own. At the end nothing of this
run may be left on the engine (checked; the script fails otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = ROOT / ".cache" / "peers-venv"
REQUIREMENTS = HERE / "requirements.txt"
SUITES = HERE / "suites"
QUICKSTART = ROOT / "examples" / "quickstart"
PLOT = ROOT / "docs" / "_static" / "peers-timeline.svg"
RESULTS = ROOT / ".cache" / "peers-results.json"
IMAGES = ("postgres:16-alpine", "redis:7-alpine", "python:3.12-slim")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the peers' venv -----------------------------------------------------------------
def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _stamp() -> str:
    h = hashlib.sha256()
    for path in (REQUIREMENTS, ROOT / "pyproject.toml"):
        h.update(path.read_bytes())
    return h.hexdigest()


def ensure_venv() -> Path:
    """Create or update ``.cache/peers-venv``; quick when it is up to date."""
    python = _venv_python()
    stamp_file = VENV / ".eph-peers-stamp"
    stamp = _stamp()
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return python
    if not python.exists():
        log(f"creating {VENV.relative_to(ROOT)} (python -m venv)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    log(f"installing the peers into {VENV.relative_to(ROOT)} (pip, once)")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS), "-e", str(ROOT)],
        check=True,
    )
    stamp_file.write_text(stamp)
    return python


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


# -- contenders ------------------------------------------------------------------------
@dataclass(frozen=True)
class Peer:
    key: str
    title: str
    folder: str
    driver: str | None = None  # a script that runs pytest itself (compose by hand)

    def argv(self, python: str, extra: list[str]) -> list[str]:
        if self.driver:
            return [python, self.driver, "-p", "peers_timing", *extra]
        return [python, "-m", "pytest", "-p", "peers_timing", *extra]

    @property
    def cwd(self) -> Path:
        return SUITES / self.folder


PEERS = {
    p.key: p
    for p in (
        Peer("ephemeral", "pytest-ephemeral", "ephemeral"),
        Peer("testcontainers", "testcontainers-python, usual way", "testcontainers"),
        Peer("pytest-docker", "pytest-docker + docker-compose v1", "pytest_docker"),
        Peer("pytest-docker-tools", "pytest-docker-tools", "pytest_docker_tools"),
        Peer(
            "compose", "docker-compose by hand (up -d, pytest, down -v)", "compose", "run_suite.py"
        ),
    )
}
# pytest-ephemeral's own variants, under xdist only
SHARED = Peer("ephemeral-shared", "pytest-ephemeral --eph-shared", "ephemeral")
WIDE = Peer("ephemeral-wide", "pytest-ephemeral, --eph-max-starts = workers", "ephemeral")
DEFAULT_SLOTS = 2 * (os.cpu_count() or 1)  # pytest-ephemeral's default --eph-max-starts


def peer_of(key: str) -> Peer:
    return {SHARED.key: SHARED, WIDE.key: WIDE}.get(key) or PEERS[key]


# -- one suite run ---------------------------------------------------------------------------
@dataclass
class Result:
    peer: str
    argv: list[str]
    rc: int | None = None
    wall: float = 0.0
    pytest_time: float | None = None
    passed: int = 0
    failed: int = 0
    errors: int = 0
    up: float | None = None
    teardown: float | None = None
    t0: float | None = None  # when the environment began to be made (UNIX time)
    timeline: dict[str, dict[str, float | None]] = field(default_factory=dict)
    left: dict[str, list[str]] = field(default_factory=dict)
    problem: str | None = None
    log_tail: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.passed == 20 and not self.failed and not self.errors


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.token = uuid.uuid4().hex[:6]
        self.count = 0
        self.scratch = Path(tempfile.mkdtemp(prefix=f"eph-peers-{self.token}-"))
        self.python = str(_venv_python())
        self.tokens: list[str] = []
        self.env_ids: set[str] = set()

    def next_token(self) -> str:
        self.count += 1
        token = f"{self.token}{self.count:03d}"
        self.tokens.append(token)
        return token

    def environ(
        self, token: str, timing: Path, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_XDIST_WORKER"):
            env.pop(key, None)
        env.update(
            {
                "PYTHONPATH": str(HERE),
                "EPH_PEERS_RUN": token,
                "EPH_PEERS_TIMING": str(timing),
                # testcontainers: Ryuk cannot be pulled here; /.dockerenv misleads its
                # host detection, so: 127.0.0.1, ports as published on the host
                "TESTCONTAINERS_RYUK_DISABLED": "true",
                "TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1",
                "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
            }
        )
        env.update(extra or {})
        return env

    def run(
        self,
        peer: Peer,
        extra: list[str] | None = None,
        *,
        env_extra: dict[str, str] | None = None,
        interrupt: str | None = None,
        timeout: float = 300.0,
    ) -> Result:
        """Run ``peer``'s suite once; ``interrupt``: None, "sigint-setup" or
        "sigkill-test"."""
        from _engine import Ident, Watch

        extra = list(extra or [])
        if peer.key == SHARED.key:
            extra = ["--eph-shared", *extra]
        if peer.key == WIDE.key:
            extra = ["--eph-max-starts", extra[extra.index("-n") + 1], *extra]
        token = self.next_token()
        timing = self.scratch / token
        timing.mkdir()
        marker = timing / "marker"
        envx = dict(env_extra or {})
        if interrupt == "sigkill-test":
            envx.update({"EPH_PEERS_MARKER": str(marker), "EPH_PEERS_HOLD": "60"})
        argv = peer.argv(self.python, extra)
        res = Result(peer.key, argv)
        logfile = timing / "output.log"
        ident = Ident(token=token)
        watch = Watch(ident)
        try:
            with open(logfile, "wb") as out:
                t0 = time.time()
                proc = subprocess.Popen(
                    argv,
                    cwd=peer.cwd,
                    env=self.environ(token, timing, envx),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                ident.session = proc.pid
                if interrupt:
                    self._interrupt(proc, watch, marker, interrupt, res)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    res.problem = f"did not finish within {timeout:.0f} s (killed)"
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                res.wall = time.time() - t0
                res.rc = proc.returncode
            if interrupt:
                # what is left 15 s after the signal
                signalled = res.extra["signalled_at"]
                time.sleep(max(0.0, signalled + 15.0 - time.time()))
            else:
                time.sleep(0.5)
            watch.stop()
            left = watch.left()
            res.left = {
                "containers": left.containers,
                "networks": left.networks,
                "volumes": left.volumes,
            }
            if interrupt and watch.last_destroy is not None:
                res.extra["last_removal_after"] = watch.last_destroy - res.extra["signalled_at"]
            try:
                self._read_output(res, logfile, timing)
                self._timeline(res, watch, timing)
                res.extra.pop("timing", None)  # raw; everything needed is taken from it
            except Exception as exc:  # a bug here must not lose the other results
                res.problem = f"benchmark could not read this run: {exc!r}"
                log(f"    {res.problem}")
        finally:
            # whatever happened: nothing of this run stays on the engine
            watch.remove_left()
            watch.close()
            self.env_ids |= ident.env_ids
        return res

    def _interrupt(
        self, proc: subprocess.Popen[bytes], watch: Any, marker: Path, how: str, res: Result
    ) -> None:
        deadline = time.monotonic() + 120
        if how == "sigint-setup":
            while not watch.first_container.wait(0.01):
                if proc.poll() is not None or time.monotonic() > deadline:
                    res.problem = "no container appeared"
                    res.extra["signalled_at"] = time.time()
                    return
            sig = signal.SIGINT
        else:
            while not marker.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    res.problem = "no test started"
                    res.extra["signalled_at"] = time.time()
                    return
                time.sleep(0.01)
            sig = signal.SIGKILL
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        now = time.time()
        res.extra["signalled_at"] = now
        if how == "sigint-setup" and watch.first_container_at is not None:
            res.extra["signal_after_first_container"] = now - watch.first_container_at
        if how == "sigint-setup":
            try:
                proc.wait(timeout=60)
                res.extra["exited_after"] = time.time() - now
            except subprocess.TimeoutExpired:
                res.extra["exited_after"] = None
                res.problem = "still running 60 s after Ctrl-C (killed)"
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def _read_output(self, res: Result, logfile: Path, timing: Path) -> None:
        text = logfile.read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines()
        res.log_tail = lines[-40:]
        summary = [
            ln for ln in lines if re.search(r"\b(passed|failed|error|errors)\b.* in [\d.]+s", ln)
        ]
        if summary:
            last = summary[-1]
            for key in ("passed", "failed"):
                m = re.search(rf"(\d+) {key}", last)
                setattr(res, key, int(m.group(1)) if m else 0)
            m = re.search(r"(\d+) errors?", last)
            res.errors = int(m.group(1)) if m else 0
            m = re.search(r" in ([\d.]+)s", last)
            res.pytest_time = float(m.group(1)) if m else None
        summary_lines = [ln for ln in lines if re.match(r"^(ERROR|FAILED) ", ln)]
        e_lines = [ln for ln in lines if re.match(r"^E\s+\S", ln)]
        # the most telling error line first (the engine's own words, when there are some)
        telling = r"already allocated|already in use|[Cc]onflict|No such|not found|[Tt]imeout"
        e_lines.sort(key=lambda ln: 0 if re.search(telling, ln) else 1)
        res.extra["problems"] = e_lines[:6] + summary_lines[:6]
        data = [json.loads(p.read_text()) for p in timing.glob("*.json") if p.name[0].isdigit()]
        res.extra["timing"] = data
        driver = timing / "compose-driver.json"
        if driver.exists():
            d = json.loads(driver.read_text())
            res.extra["driver"] = d
            res.t0 = d["start"]
            if "ready" in d:
                res.up = d["ready"] - d["start"]
            if "end" in d and "down_start" in d:
                res.teardown = d["end"] - d["down_start"]
            return
        mains = [d for d in data if d.get("tests")]
        if len(mains) == 1 and mains[0]["first"] and mains[0]["last"]:
            d = mains[0]
            res.t0 = d["first"]["setup"][0]
            if "call" in d["first"]:
                res.up = d["first"]["setup"][1] - d["first"]["setup"][0]
            td = d["last"].get("teardown")
            if td:
                res.teardown = td[1] - td[0]

    def _timeline(self, res: Result, watch: Any, timing: Path) -> None:
        """Per service, seconds since the environment began: created, started
        (from the engine's events), ready (as the contender knew it)."""
        if res.t0 is None:
            return
        t0 = res.t0
        ready: dict[str, float | None] = {}
        data = res.extra.get("timing") or []
        main = next((d for d in data if d.get("tests")), None)
        fixtures = {f[0]: f for f in (main or {}).get("fixtures", []) if f[1] != "function"}
        if res.peer == "ephemeral" and main and main.get("eph"):
            e = main["eph"]
            # the engine's timeline counts from its own start, after any wait for a start
            # slot; `eph` returned right when the last service was ready (ready_after)
            base = (
                fixtures["eph"][3] - (e["ready_after"] or 0.0)
                if "eph" in fixtures
                else e["started_at"]
            )
            for name, t in e["timeline"].items():
                if t.get("ready") is not None:
                    ready[name] = base + t["ready"] - t0
        elif res.peer == "testcontainers":
            for svc, fx in (("db", "postgres"), ("cache", "redis"), ("api", "api")):
                if fx in fixtures:
                    ready[svc] = fixtures[fx][3] - t0
        elif res.peer == "pytest-docker-tools":
            for svc in ("db", "cache", "api"):
                if svc in fixtures:
                    ready[svc] = fixtures[svc][3] - t0
        elif res.peer == "pytest-docker" and "api_url" in fixtures:
            ready["api"] = fixtures["api_url"][3] - t0
        elif res.peer == "compose" and "ready" in res.extra.get("driver", {}):
            ready["api"] = res.extra["driver"]["ready"] - t0
        for box in sorted(watch.containers.values(), key=lambda b: b.created or 0):
            svc = box.service
            if svc is None or svc in res.timeline:
                continue
            r = ready.get(svc)
            if r is None and box.healthy is not None and res.peer in ("pytest-docker", "compose"):
                r = box.healthy - t0  # Compose waits for Docker's healthcheck
            res.timeline[svc] = {
                "created": None if box.created is None else box.created - t0,
                "started": None if box.started is None else box.started - t0,
                "ready": r,
            }
        if res.peer == "ephemeral" and main and main.get("eph") and "eph" in fixtures:
            e, f = main["eph"], fixtures["eph"]
            # before the engine starts: imports, spec, reaper, sweep of dead runs
            res.extra["before_engine"] = e["started_at"] - f[2]
            # the engine's own time starts once a start slot is free
            res.extra["slot_wait"] = max(0.0, f[3] - e["started_at"] - (e["ready_after"] or 0.0))
        if res.peer == "testcontainers" and "api_image" in fixtures:
            res.extra["build"] = fixtures["api_image"][3] - fixtures["api_image"][2]
        if res.peer == "pytest-docker-tools" and "api_image" in fixtures:
            res.extra["build"] = fixtures["api_image"][3] - fixtures["api_image"][2]
        if res.peer == "pytest-docker" and "docker_services" in fixtures:
            f = fixtures["docker_services"]
            res.extra["compose_up"] = f[3] - f[2]
        if res.peer == "compose" and "compose_up" in res.extra.get("driver", {}):
            d = res.extra["driver"]
            res.extra["compose_up"] = d["compose_up"] - d["start"]

    # -- the final sweep --------------------------------------------------------------
    def final_check(self) -> list[str]:
        """Remove anything of this run still on the engine; return what was found."""
        from _engine import api_client

        api = api_client()
        found: list[str] = []
        filters = [f"eph-peers.run={t}" for t in self.tokens]
        filters += [f"pytest-ephemeral.env={e}" for e in sorted(self.env_ids)]
        try:
            for flt in filters:
                f = {"label": [flt]}
                for c in api.containers(all=True, filters=f):
                    found.append(f"container {c['Names'][0]}")
                    with contextlib.suppress(Exception):
                        api.remove_container(c["Id"], force=True, v=True)
                for n in api.networks(filters=f):
                    found.append(f"network {n['Name']}")
                    with contextlib.suppress(Exception):
                        api.remove_network(n["Id"])
                for v in api.volumes(filters=f).get("Volumes") or []:
                    found.append(f"volume {v['Name']}")
                    with contextlib.suppress(Exception):
                        api.remove_volume(v["Name"], force=True)
            for img in api.images(filters={"reference": "eph-peers/*"}):
                for tag in img.get("RepoTags") or []:
                    if tag.startswith("eph-peers/"):
                        with contextlib.suppress(Exception):
                            api.remove_image(tag)  # by tag: shared layers stay
        finally:
            api.close()
        return found


# -- statistics and the report --------------------------------------------------------------
def med(values: list[float]) -> float:
    return statistics.median(values)


def mmm(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def ok_results(results: list[Result]) -> list[Result]:
    return [r for r in results if r.ok]


def failure_mode(results: list[Result]) -> str:
    bad = [r for r in results if not r.ok]
    if not bad:
        return ""
    r = bad[0]
    what = r.problem or (f"exit {r.rc}: {r.passed} passed, {r.failed} failed, {r.errors} errors")
    problems = list(r.extra.get("problems", []))
    # the engine's own words first, then any error line, then pytest's summary lines
    telling = ("already allocated", "already in use", "onflict", "No such", "not found")

    def rank(line: str) -> tuple[int, int]:
        hits = [i for i, t in enumerate(telling) if t in line]
        return (min(hits) if hits else len(telling), 0 if line.startswith("E ") else 1)

    detail = re.sub(r"\s+", " ", min(problems, key=rank)) if problems else ""
    m = re.search("|".join(telling), detail)
    start = max(0, m.start() - 140) if m else 0
    detail = ("..." if start else "") + detail[start : start + 220]
    return f"{len(bad)} of {len(results)} runs: {what}" + (f" — `{detail}`" if detail else "")


def leaks_text(left: dict[str, list[str]]) -> str:
    if not left:
        return "-"
    return " / ".join(
        str(len(left.get(kind, []))) for kind in ("containers", "networks", "volumes")
    )


def interrupt_cell(results: list[Result]) -> str:
    """One table cell: per run, what was left, when it exited, when it was clean."""
    if not results:
        return "-"
    parts = []
    for r in results:
        total = sum(len(v) for v in r.left.values()) if r.left else 0
        text = f"**{leaks_text(r.left) if r.left else '0 / 0 / 0'}**"
        notes = []
        if r.problem:
            notes.append(r.problem)
        if r.extra.get("exited_after") is not None:
            notes.append(f"exit {r.extra['exited_after']:.1f} s")
        if total == 0 and r.extra.get("last_removal_after") is not None:
            notes.append(f"cleaned {r.extra['last_removal_after']:.1f} s")
        parts.append(text + (f" ({', '.join(notes)})" if notes else ""))
    return "<br>".join(parts)


def plot_timelines(samples: dict[str, list[Result]], path: Path) -> bool:
    """Per contender, per service: created→started and started→ready bars (the
    repetition with the median up); the whole up as a thin bar above them."""
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="eph-peers-mpl-"))
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "pytest-ephemeral"
    import matplotlib.pyplot as plt

    rows: list[tuple[str, str, dict[str, float | None] | None, float | None]] = []
    for key, results in samples.items():
        good = [r for r in ok_results(results) if r.up is not None]
        if not good:
            continue
        ups = sorted(good, key=lambda r: r.up or 0.0)
        rep = ups[len(ups) // 2]
        rows.append((PEERS[key].title, "environment up", None, rep.up))
        for svc in ("db", "cache", "api"):
            rows.append((PEERS[key].title, svc, rep.timeline.get(svc), rep.up))
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.8))  # keep in step with height
    labels = []
    colors = {"create": "#c6dbef", "start": "#6baed6", "ready": "#08519c", "up": "#fd8d3c"}
    for i, (title, svc, t, up) in enumerate(rows):
        y = len(rows) - 1 - i
        if svc == "environment up":
            labels.append(f"{title}: up")
            ax.barh(y, up or 0, left=0, height=0.5, color=colors["up"])
            ax.text((up or 0) + 0.05, y, f"{up:.2f} s", va="center", fontsize=7)
            continue
        labels.append(f"    {svc}")
        if not t:
            continue
        c, s, r = t.get("created"), t.get("started"), t.get("ready")
        if c is not None and s is not None:
            ax.barh(y, s - c, left=c, height=0.6, color=colors["create"])
        if s is not None and r is not None and r > s:
            ax.barh(y, r - s, left=s, height=0.6, color=colors["ready"])
        elif s is not None:
            ax.plot([s], [y], marker="|", color=colors["start"], markersize=10)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(list(reversed(labels)), fontsize=7)
    ax.set_xlabel("seconds since the first test's setup began (docker-compose: since `up`)")
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    height = 0.32 * len(rows) + 1.8
    fig.legend(
        handles=[
            Patch(color=colors["up"], label="environment up (whole)"),
            Patch(color=colors["create"], label="container created → started"),
            Patch(color=colors["ready"], label="started → ready (as the contender knew it)"),
        ],
        fontsize=7,
        loc="lower center",
        ncol=3,
        frameon=False,
    )
    for i, (_, svc, _, _) in enumerate(rows):
        if svc == "environment up" and i:
            ax.axhline(len(rows) - i - 0.5, color="#999999", linewidth=0.5)
    ax.set_title("Startup timelines, reference topology (median repetition)", fontsize=9)
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt_ = path.suffix.lstrip(".").lower() or "svg"
    fig.savefig(path, format=fmt_, **({"metadata": {"Date": None}} if fmt_ == "svg" else {}))
    plt.close(fig)
    return True


def build_report(
    meta: dict[str, Any],
    samples: dict[str, list[Result]],
    xdist: dict[tuple[str, int], list[Result]],
    fixed_ports: Result | None,
    interrupts: dict[tuple[str, str], list[Result]],
    facts: dict[str, str],
    plot_rel: str | None,
) -> str:
    from _common import machine_table

    out: list[str] = []
    w = out.append
    keys = list(samples)
    w("## pytest-ephemeral and its peers (`peers/run.py`)")
    w("")
    w(f"Command: `{meta['command']}`  ")
    w(
        f"{meta['repeat']} measured repetitions after one warm-up, the contenders round-robin "
        f"(order rotating); {meta['xdist_repeat']} runs per contender and worker count under "
        f"xdist; {meta['interrupt_repeat']} per contender and interrupt scenario; total wall "
        f"time {meta['wall'] / 60:.1f} min. The peers run from their own venv "
        "(`.cache/peers-venv`, pinned in `benchmarks/peers/requirements.txt`, plus this "
        "checkout)."
    )
    w("")
    w("Machine:")
    w("")
    out.extend(machine_table(facts))
    w("")
    w(
        "Each contender is a real pytest suite in `benchmarks/peers/suites/<peer>/`: a "
        "`conftest.py` written the way the tool's documentation shows, and the same 20-test "
        "file (each test runs a SQL query on db over TCP, PINGs cache, GETs the api's "
        "`/visits`), run by `pytest` in a subprocess. The topology is the reference one "
        "(`examples/quickstart`: PostgreSQL with a `pg_isready` healthcheck on tmpfs, Redis "
        "ready on its log line, `api` built from `examples/quickstart/api`, depending on db "
        "healthy and cache started, ready when `GET /health` answers 200)."
    )
    w("")
    w("| contender | how it runs the topology |")
    w("|---|---|")
    how = {
        "ephemeral": "`eph` fixture; spec named in pytest.ini (`eph_spec`)",
        "testcontainers": "a session fixture per container (`with PostgresContainer(...)`, "
        "`DockerContainer` + `LogMessageWaitStrategy` / `HttpWaitStrategy`), `DockerImage` for "
        "the api, one after another; default poll interval (1 s); Ryuk disabled (cannot be "
        "pulled here)",
        "pytest-docker": "`docker_services` with `docker_compose_command` = `docker-compose`, "
        "setup `up --build -d` (v1 has no `--wait`), `port_for`, "
        "`wait_until_responsive(pause=0.1)` on /health, teardown `down -v` (its defaults)",
        "pytest-docker-tools": "`network`, `image` (a local image; `fetch` would pull), "
        "`image_or_build`, `container(scope='session')` with its own readiness (published ports "
        "LISTENing, checked once a second) and a `wrapper_class` adding /health for api",
        "compose": "`docker-compose up -d`, poll /health every 0.1 s, `pytest`, "
        "`docker-compose down -v` in a `finally` (`suites/compose/run_suite.py`)",
    }
    for k in keys:
        w(f"| {PEERS[k].title} | {how[k]} |")
    w("")

    # -- one process
    w("### One pytest process: environment up, teardown, the 20-test suite")
    w("")
    w(
        "Seconds, median (min-max). **Up**: the first test's setup, i.e. every fixture until the "
        "environment is ready (docker-compose by hand: `up -d` until /health answers). "
        "**Teardown**: the last test's teardown, where session fixtures are finalised "
        "(by hand: `down -v`). **pytest's time**: the `in N s` of pytest's summary line "
        "(by hand: the tests only — up and down happen outside pytest). **Process**: "
        "from starting the command to its exit, what a developer waits for."
    )
    w("")
    w("| contender | up | teardown | suite, pytest's time | suite, process | runs ok |")
    w("|---|---|---|---|---|---|")
    meds: dict[str, dict[str, float]] = {}
    for k in keys:
        good = ok_results(samples[k])
        ups = [r.up for r in good if r.up is not None]
        downs = [r.teardown for r in good if r.teardown is not None]
        pts = [r.pytest_time for r in good if r.pytest_time is not None]
        walls = [r.wall for r in good]
        meds[k] = {}
        for name, vals in (("up", ups), ("teardown", downs), ("pytest", pts), ("wall", walls)):
            if vals:
                meds[k][name] = med(vals)
        w(
            f"| {PEERS[k].title} | {mmm(ups)} | {mmm(downs)} | {mmm(pts)} | {mmm(walls)} "
            f"| {len(good)} of {len(samples[k])} |"
        )
    w("")
    bad = {k: failure_mode(samples[k]) for k in keys if failure_mode(samples[k])}
    for k, text in bad.items():
        w(f"- {PEERS[k].title}: {text}")
    if bad:
        w("")
    if "ephemeral" in meds:
        e = meds["ephemeral"]
        w(
            "Ratio of each peer's median to pytest-ephemeral's "
            "(above 1: pytest-ephemeral is faster):"
        )
        w("")
        w("| peer | up | teardown | suite, pytest's time | suite, process |")
        w("|---|---|---|---|---|")
        for k in keys:
            if k == "ephemeral":
                continue
            cells = []
            for name in ("up", "teardown", "pytest", "wall"):
                if name in meds[k] and name in e and e[name] > 0:
                    note = " (tests only)" if (k == "compose" and name == "pytest") else ""
                    cells.append(f"{meds[k][name] / e[name]:.2f}{note}")
                else:
                    cells.append("-")
            w(f"| {PEERS[k].title} | " + " | ".join(cells) + " |")
        w("")

    # -- timelines
    w("### Startup timelines")
    w("")
    if plot_rel:
        w(f"![Startup timeline per contender and service]({plot_rel})")
        w("")
    w(
        "Seconds since the environment began (the first test's setup; by hand: `up`), median "
        "over the repetitions: container created / started (the engine's events) / ready (as "
        "the contender knew it: pytest-ephemeral's own timeline; testcontainers and "
        "pytest-docker-tools: when that service's fixture returned; Compose: db when Docker's "
        "healthcheck reported healthy, which is what `up` waits for, api when /health first "
        "answered; Compose has no readiness of its own for cache)."
    )
    w("")
    w(
        "| contender | db created / started / ready | cache created / started / ready "
        "| api created / started / ready | other |"
    )
    w("|---|---|---|---|---|")
    for k in keys:
        good = ok_results(samples[k])
        cells = []
        for svc in ("db", "cache", "api"):
            parts = []
            for key in ("created", "started", "ready"):
                vals = [
                    r.timeline[svc][key]
                    for r in good
                    if svc in r.timeline and r.timeline[svc][key] is not None
                ]
                parts.append(fmt(med(vals)) if vals else "-")
            cells.append(" / ".join(parts))
        other = ""
        builds = [r.extra["build"] for r in good if "build" in r.extra]
        if builds:
            other = f"api image build {med(builds):.2f}"
        cups = [r.extra["compose_up"] for r in good if "compose_up" in r.extra]
        if cups:
            other = f"`docker-compose up` {med(cups):.2f}"
        pre = [r.extra["before_engine"] for r in good if "before_engine" in r.extra]
        slots = [r.extra["slot_wait"] for r in good if "slot_wait" in r.extra]
        if pre:
            other = (
                f"before the engine starts {med(pre):.2f}; "
                f"waiting for a start slot {med(slots):.2f} (max {max(slots):.2f})"
            )
        w(f"| {PEERS[k].title} | " + " | ".join(cells) + f" | {other} |")
    w("")

    # -- xdist
    if xdist:
        w("### Under pytest-xdist")
        w("")
        w(
            "The same 20-test suite with `-n 2` and `-n 4`, process wall time in seconds, "
            "median (min-max), and whether it worked. Per-worker peers start one environment "
            "per worker; docker-compose by hand starts one before pytest and the workers share "
            "it; `pytest-ephemeral --eph-shared` is the plugin's shared mode, for comparison "
            "with that."
        )
        w("")
        ns = sorted({n for _, n in xdist})
        head = " | ".join(f"-n {n}: process / pytest's time" for n in ns)
        w(
            f"| contender | {head} | ratio to pytest-ephemeral (per worker), "
            + ", ".join(f"-n {n}" for n in ns)
            + " | what broke |"
        )
        w("|---|" + "---|" * len(ns) + "---|---|")
        xkeys = [k for k in [*keys, WIDE.key, SHARED.key] if any((k, n) in xdist for n in ns)]
        for k in xkeys:
            cells, ratios, broke = [], [], []
            for n in ns:
                rs = xdist.get((k, n), [])
                good = ok_results(rs)
                walls = [r.wall for r in good]
                pts = [r.pytest_time for r in good if r.pytest_time is not None]
                cells.append(f"{mmm(walls)} / {fmt(med(pts)) if pts else '-'}")
                base = ok_results(xdist.get(("ephemeral", n), []))
                if walls and base:
                    ratios.append(f"{med(walls) / med([r.wall for r in base]):.2f}")
                else:
                    ratios.append("-")
                fm = failure_mode(rs)
                if fm:
                    broke.append(f"-n {n}: {fm}")
                lefts = [r for r in rs if r.left and any(r.left.values())]
                if lefts:
                    broke.append(
                        f"-n {n}: left after a normal end (containers / networks / volumes): "
                        f"{leaks_text(lefts[0].left)}"
                    )
            title = peer_of(k).title
            w(
                f"| {title} | "
                + " | ".join(cells)
                + f" | {', '.join(ratios)} | {'; '.join(broke) or 'nothing'} |"
            )
        w("")
        if fixed_ports is not None:
            r = fixed_ports
            outcome = "worked" if r.ok else failure_mode([r])
            left = (
                f"; left behind (containers / networks / volumes): {leaks_text(r.left)}"
                if r.left and any(r.left.values())
                else ""
            )
            w(
                "pytest-docker with fixed host ports (free ports picked once, e.g. "
                "`127.0.0.1:15432:5432`, as its README's example publishes `8000:80`), `-n 2`: "
                f"{outcome}{left}. Both workers run their own Compose project; the second "
                "one's `up` cannot bind the same host ports, and pytest-docker runs `up` "
                "outside its `try`/`finally`, so what that `up` created stays."
            )
            w("")

    # -- interrupts
    if interrupts:
        w("### Interrupted runs: what is left behind")
        w("")
        w(
            "Each suite run in its own process group, then: **Ctrl-C during setup** — SIGINT "
            "to the process group (what a terminal's Ctrl-C does) as soon as the engine reports "
            "the run's first container created; **SIGKILL during a test** — SIGKILL to the "
            "process group (a CI runner's timeout, the OOM killer) once a test has written its "
            "marker file (the test then holds). 15 s after the signal, containers / networks / "
            "volumes of that run still on the engine (found from the engine's event stream and "
            "the run's labels, anonymous volumes included), then removed by this script."
        )
        w("")
        w("| contender | after a normal end | Ctrl-C during setup | SIGKILL during a test |")
        w("|---|---|---|---|")
        for k in keys:
            normal = [r for r in samples[k] if r.ok]
            worst = max(
                (r.left for r in normal),
                key=lambda d: sum(len(v) for v in d.values()) if d else 0,
                default={},
            )
            nleft = sum(1 for r in normal if r.left and any(r.left.values()))
            cells = [
                f"{leaks_text(worst) if worst else '0 / 0 / 0'}"
                + (f" (in {nleft} of {len(normal)} runs)" if nleft else "")
            ]
            for how in ("sigint-setup", "sigkill-test"):
                cells.append(interrupt_cell(interrupts.get((k, how), [])))
            w(f"| {PEERS[k].title} | " + " | ".join(cells) + " |")
        w("")
        w(
            "Counts are containers / networks / volumes, each run on its own line "
            "(0 / 0 / 0: nothing was left); exit: how long the process took to end after "
            "Ctrl-C; cleaned: when the last of the run's resources was removed, counted from "
            "the signal."
        )
        w("")

    # -- targets and reading
    w("### Targets")
    w("")
    w("| target | result | |")
    w("|---|---|---|")
    if "ephemeral" in meds and "up" in meds["ephemeral"]:
        for name, label in (
            ("up", "fastest environment up"),
            ("wall", "fastest 20-test suite (process)"),
            ("pytest", "fastest 20-test suite (pytest's time, pytest-run peers)"),
        ):
            others = {
                k: m[name]
                for k, m in meds.items()
                if k != "ephemeral" and name in m and not (name == "pytest" and k == "compose")
            }
            if name not in meds["ephemeral"] or not others:
                continue
            best = min(others, key=lambda k: others[k])
            ok = meds["ephemeral"][name] < others[best]
            w(
                f"| pytest-ephemeral {label} | {meds['ephemeral'][name]:.2f} s; next: "
                f"{PEERS[best].title} {others[best]:.2f} s "
                f"({others[best] / meds['ephemeral'][name]:.2f}x) "
                f"| {verdict(ok)} |"
            )
    if interrupts:
        zero = {}
        for k in keys:
            rs = [r for h in ("sigint-setup", "sigkill-test") for r in interrupts.get((k, h), [])]
            rs += [r for r in samples[k] if r.ok]
            zero[k] = all(not r.left or not any(r.left.values()) for r in rs) and all(
                not r.problem for r in rs
            )
        only = zero.get("ephemeral", False) and not any(
            v for k, v in zero.items() if k != "ephemeral"
        )
        clean = ", ".join(PEERS[k].title for k, v in zero.items() if v) or "none"
        w(
            "| the only one with zero leaks in every scenario "
            f"| zero leaks: {clean} | {verdict(only)} |"
        )
    w("")
    w("### Reading")
    w("")
    out.extend(reading(samples, meds, xdist, interrupts))
    return "\n".join(out) + "\n"


def reading(
    samples: dict[str, list[Result]],
    meds: dict[str, dict[str, float]],
    xdist: dict[tuple[str, int], list[Result]],
    interrupts: dict[tuple[str, str], list[Result]],
) -> list[str]:
    """Sentences computed from the numbers above."""
    lines: list[str] = []
    e = meds.get("ephemeral", {})

    def tl(key: str, svc: str, what: str) -> float | None:
        vals = [
            r.timeline[svc][what]
            for r in ok_results(samples.get(key, []))
            if svc in r.timeline and r.timeline[svc][what] is not None
        ]
        return med(vals) if vals else None

    if "up" in e:
        db = tl("ephemeral", "db", "ready")
        api = tl("ephemeral", "api", "ready")
        pre = [
            r.extra["before_engine"]
            for r in ok_results(samples.get("ephemeral", []))
            if "before_engine" in r.extra
        ]
        lines.append(
            f"- pytest-ephemeral's up is {e['up']:.2f} s: db, cache and the api's image check "
            "start at once, the api container is created the moment db is healthy "
            f"(db ready at {fmt(db)} s, api at {fmt(api)} s). PostgreSQL's own start is the "
            "floor (see the `bench_up` section for the bare Docker SDK lower bound)."
            + (
                f" Its up also includes {med(pre):.2f} s before the engine starts: the plugin "
                "imports the Docker SDK, YAML and its spec loader only when a test first asks "
                "for `eph` (so a suite that never does pays nothing), whereas the other "
                "pytest peers import theirs with their conftest, during collection, outside "
                "this column; the process column has both."
                if pre
                else ""
            )
        )
    if "testcontainers" in meds and "up" in meds["testcontainers"] and "up" in e:
        t = meds["testcontainers"]
        builds = [
            r.extra["build"] for r in ok_results(samples["testcontainers"]) if "build" in r.extra
        ]
        lines.append(
            f"- testcontainers-python takes {t['up'] / e['up']:.2f}x as long to come up: one "
            "container after another (cache is created only once db's fixture has returned), "
            "each wait strategy polling once a second, and `DockerImage` removes its image at "
            "the end of every session (with the untagged layers only it used), so the next "
            f"session builds part of it again (median {fmt(med(builds)) if builds else '-'} s "
            "for the api image). Its teardown is quick: `remove(force=True)` kills without a "
            "grace period."
        )
    if "pytest-docker-tools" in meds and "up" in meds["pytest-docker-tools"] and "up" in e:
        p = meds["pytest-docker-tools"]
        lines.append(
            f"- pytest-docker-tools takes {p['up'] / e['up']:.2f}x as long: also one container "
            "after another, and its readiness check (published ports LISTENing, read through "
            "an exec of `cat /proc/net/tcp`) runs once a second, so every container costs at "
            "least a second. Its containers are removed with `remove(force=True)` but without "
            "`v=True`: Redis's image declares `VOLUME /data`, so every run leaves an anonymous "
            "volume behind, even after a clean end."
        )
    for k in ("pytest-docker", "compose"):
        if k in meds and "up" in meds[k] and "up" in e:
            m = meds[k]
            cups = [
                r.extra["compose_up"] for r in ok_results(samples[k]) if "compose_up" in r.extra
            ]
            teardown_ratio = (
                f"{m['teardown'] / e['teardown']:.1f}"
                if "teardown" in m and "teardown" in e
                else "-"
            )
            extra = (
                " `port_for` runs `docker-compose port` once per service, each a Python "
                "program starting, on top of `up`."
                if k == "pytest-docker"
                else ""
            )
            lines.append(
                f"- {PEERS[k].title}: up {m['up'] / e['up']:.2f}x pytest-ephemeral's "
                f"(`docker-compose up` alone {fmt(med(cups)) if cups else '-'} s: Compose learns "
                "that db is healthy from Docker's own healthcheck, run once per `interval`, "
                f"1 s here).{extra} Teardown {teardown_ratio}x: "
                "`down` stops containers gracefully and the api (Python as PID 1, no SIGTERM "
                "handler) ignores SIGTERM, so Docker's 10 s stop timeout runs out first. "
                "`init: true` or `stop_grace_period` in the Compose file, or `down -t 0`, "
                "would remove most of that; they are not Compose's defaults."
            )
    # where a peer wins
    wins = []
    for name, label in (
        ("up", "up"),
        ("teardown", "teardown"),
        ("pytest", "pytest's time"),
        ("wall", "process time"),
    ):
        if name not in e:
            continue
        for k, m in meds.items():
            if k == "ephemeral" or name not in m or (k == "compose" and name == "pytest"):
                continue
            if m[name] < e[name]:
                wins.append(
                    f"{PEERS[k].title} on {label} ({m[name]:.2f} s against {e[name]:.2f} s)"
                )
    if wins:
        lines.append("- Where a peer is faster in one pytest process: " + "; ".join(wins) + ".")
    else:
        lines.append(
            "- In one pytest process, no peer is faster than pytest-ephemeral on any of these "
            "figures in this run."
        )
    if "compose" in meds and "pytest" in meds["compose"] and "pytest" in e:
        c = meds["compose"]
        lines.append(
            f"- The tests themselves (pytest's time minus up and teardown) cost the same "
            f"everywhere; docker-compose by hand shows {c['pytest']:.2f} s for pytest alone, "
            "because its environment is made and removed outside pytest."
        )
    if xdist:
        for n in sorted({n for _, n in xdist}):
            base = ok_results(xdist.get(("ephemeral", n), []))
            if not base:
                continue
            b = med([r.wall for r in base])
            faster = []
            for k in samples:
                good = ok_results(xdist.get((k, n), []))
                if k != "ephemeral" and good and med([r.wall for r in good]) < b:
                    faster.append(f"{PEERS[k].title} {med([r.wall for r in good]):.2f} s")
            wide = ok_results(xdist.get((WIDE.key, n), []))
            if faster:
                text = (
                    f"- Under `-n {n}`, faster than pytest-ephemeral with an environment per "
                    f"worker ({b:.2f} s): " + ", ".join(faster) + ". pytest-ephemeral starts at "
                    f"most `--eph-max-starts` environments at once on a host (default 2 x "
                    f"CPUs = {DEFAULT_SLOTS} here): with {n} workers, "
                    f"{n - DEFAULT_SLOTS} wait for a slot, while the peers start everything at "
                    "once. "
                )
                if wide:
                    text += f"With `--eph-max-starts {n}`: {med([r.wall for r in wide]):.2f} s. "
                text += (
                    "The per-worker start is CPU-bound on 2 CPUs (PostgreSQL's initdb and the "
                    "worker processes themselves); see `bench_workers.py`'s section."
                )
                lines.append(text)
    if xdist:
        for n in sorted({n for _, n in xdist}):
            base = ok_results(xdist.get(("ephemeral", n), []))
            shared = ok_results(xdist.get(("ephemeral-shared", n), []))
            comp = ok_results(xdist.get(("compose", n), []))
            if base and comp:
                lines.append(
                    f"- `-n {n}`: pytest-ephemeral per worker {med([r.wall for r in base]):.2f} s"
                    + (f", shared {med([r.wall for r in shared]):.2f} s" if shared else "")
                    + f"; docker-compose by hand (one environment for all workers) "
                    f"{med([r.wall for r in comp]):.2f} s."
                )
    if interrupts:

        def leaked(k: str, how: str) -> bool:
            return any(r.left and any(r.left.values()) for r in interrupts.get((k, how), []))

        notes = {
            "testcontainers": "the engine had created the container, but the interrupt arrived "
            "inside the create call, before testcontainers held a handle to it, so its `with` "
            "block had nothing to remove",
            "pytest-docker-tools": "the interrupt arrived inside `containers.run`, before the "
            "factory registered the finalizer that removes the container",
            "pytest-docker": "it runs its setup command (`docker-compose up`) before its "
            "`try`/`finally`, so an interrupted `up` is never followed by `down`",
            "compose": "the interrupted `up` left containers that nothing removed",
        }
        sigint = [
            f"{PEERS[k].title}: {notes.get(k, 'see the table')}"
            for k in samples
            if leaked(k, "sigint-setup") and k != "ephemeral"
        ]
        if sigint:
            lines.append(
                "- Ctrl-C landed as each run's first container was created, the hardest moment "
                "for cleanup code: " + "; ".join(sigint) + ". Interrupted later (during a "
                "readiness wait) these tools remove what they hold. pytest-ephemeral registers "
                "an environment before it creates anything and removes by label, so a create "
                "still in flight is found too."
            )
        sigkill_clean = [
            k
            for k in samples
            if interrupts.get((k, "sigkill-test"))
            and not any(any(r.left.values()) for r in interrupts[(k, "sigkill-test")])
        ]
        lines.append(
            "- SIGKILL cannot be caught: whatever cleanup a tool does in-process never runs. "
            "Only a cleaner outside the killed process group can help (Ryuk for "
            "testcontainers, whose image cannot be pulled here; pytest-ephemeral's reaper, "
            "which needs no image). Clean after SIGKILL here: "
            + (", ".join(PEERS[k].title for k in sigkill_clean) or "none")
            + "."
        )
    lines.append(
        "- The machine is shared and has 2 CPUs: other jobs may use the same Docker engine "
        "during the run, which is why the contenders are interleaved and compared by medians; "
        "min-max ranges show the noise."
    )
    return lines


# -- main -------------------------------------------------------------------------------
def preflight() -> None:
    from _engine import api_client

    if shutil.which("docker-compose") is None:
        raise SystemExit(
            "docker-compose (v1) is not on PATH; pytest-docker and the Compose runs need it"
        )
    api = api_client()
    try:
        missing = []
        for image in IMAGES:
            try:
                api.inspect_image(image)
            except Exception:
                missing.append(image)
        if missing:
            raise SystemExit(
                f"images missing on the engine: {', '.join(missing)} (scripts/build-offline-images)"
            )
    finally:
        api.close()


def free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def extra_facts(facts: dict[str, str]) -> dict[str, str]:
    from importlib import metadata

    for dist in ("pytest-xdist", "pytest-docker", "pytest-docker-tools", "psycopg"):
        try:
            facts[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            facts[dist] = "not installed"
    try:
        v = subprocess.run(["docker-compose", "version", "--short"], capture_output=True, text=True)
        facts["docker-compose"] = v.stdout.strip() or "?"
    except OSError:
        facts["docker-compose"] = "not installed"
    return facts


def describe(res: Result) -> str:
    state = (
        "ok"
        if res.ok
        else f"NOT OK ({res.problem or f'rc={res.rc} {res.passed}p {res.failed}f {res.errors}e'})"
    )
    left = sum(len(v) for v in res.left.values()) if res.left else 0
    return (
        f"up {fmt(res.up):>5}  teardown {fmt(res.teardown):>5}  pytest {fmt(res.pytest_time):>5}  "
        f"wall {res.wall:6.2f}  {state}" + (f"  LEFT {leaks_text(res.left)}" if left else "")
    )


def save_results(
    path: Path,
    meta: dict[str, Any],
    facts: dict[str, str],
    samples: dict[str, list[Result]],
    xdist: dict[tuple[str, int], list[Result]],
    fixed: Result | None,
    interrupts: dict[tuple[str, str], list[Result]],
) -> None:
    from dataclasses import asdict

    data = {
        "meta": meta,
        "facts": facts,
        "samples": {k: [asdict(r) for r in v] for k, v in samples.items()},
        "xdist": {f"{k}|{n}": [asdict(r) for r in v] for (k, n), v in xdist.items()},
        "fixed": asdict(fixed) if fixed else None,
        "interrupts": {f"{k}|{h}": [asdict(r) for r in v] for (k, h), v in interrupts.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def load_results(
    path: Path,
) -> tuple[
    dict[str, Any],
    dict[str, str],
    dict[str, list[Result]],
    dict[tuple[str, int], list[Result]],
    Result | None,
    dict[tuple[str, str], list[Result]],
]:
    data = json.loads(path.read_text(encoding="utf-8"))

    def results(items: list[dict[str, Any]]) -> list[Result]:
        return [Result(**d) for d in items]

    xdist = {}
    for key, v in data["xdist"].items():
        k, _, n = key.rpartition("|")
        xdist[(k, int(n))] = results(v)
    interrupts = {}
    for key, v in data["interrupts"].items():
        k, _, h = key.rpartition("|")
        interrupts[(k, h)] = results(v)
    return (
        data["meta"],
        data["facts"],
        {k: results(v) for k, v in data["samples"].items()},
        xdist,
        Result(**data["fixed"]) if data["fixed"] else None,
        interrupts,
    )


def publish(
    args: argparse.Namespace,
    meta: dict[str, Any],
    facts: dict[str, str],
    samples: dict[str, list[Result]],
    xdist: dict[tuple[str, int], list[Result]],
    fixed: Result | None,
    interrupts: dict[tuple[str, str], list[Result]],
) -> None:
    """The plot, the report on stdout, and the page section."""
    from _common import write_section

    plot_rel = None
    plot_path = args.plot or (PLOT if args.out else None)
    if plot_path and plot_timelines(samples, plot_path):
        log(f"wrote {plot_path}")
        if args.out:
            plot_rel = os.path.relpath(plot_path.resolve(), args.out.resolve().parent)
    report = build_report(meta, samples, xdist, fixed, interrupts, facts, plot_rel)
    print(report)
    if args.out:
        write_section(args.out, "peers", report)
        log(f"wrote the peers section of {args.out}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="measured repetitions (default 5)")
    p.add_argument(
        "--xdist-repeat",
        type=int,
        default=None,
        help="repetitions per xdist configuration (default: --repeat, at most 2)",
    )
    p.add_argument("--workers", default="2,4", help="xdist worker counts (default 2,4)")
    p.add_argument("--out", type=Path, help="write the `peers` section into this markdown file")
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        help=f"the timeline plot (default with --out: {PLOT.relative_to(ROOT)})",
    )
    p.add_argument("--peers", default=",".join(PEERS), help=f"subset of {','.join(PEERS)}")
    p.add_argument("--no-xdist", action="store_true", help="skip the xdist runs")
    p.add_argument("--no-interrupts", action="store_true", help="skip the interrupt scenarios")
    p.add_argument(
        "--interrupt-repeat",
        type=int,
        default=2,
        help="runs per contender and interrupt scenario (default 2)",
    )
    p.add_argument("--settle", type=float, default=1.0, help="pause between runs, seconds")
    p.add_argument("--keep-logs", action="store_true", help="keep every run's output folder")
    p.add_argument(
        "--save",
        type=Path,
        default=RESULTS,
        help=f"where the raw results go (default {RESULTS.relative_to(ROOT)})",
    )
    p.add_argument(
        "--report-from",
        type=Path,
        metavar="RESULTS",
        help="run nothing: rebuild the report (and plot) from saved results",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat: at least 1")
    if args.xdist_repeat is None:
        args.xdist_repeat = min(args.repeat, 2)
    keys = [k.strip() for k in args.peers.split(",") if k.strip()]
    for k in keys:
        if k not in PEERS:
            p.error(f"--peers: {k!r} is not one of {', '.join(PEERS)}")
    workers = [int(n) for n in args.workers.split(",") if n.strip()]

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    from _common import command_line, machine_facts

    if args.report_from:
        publish(args, *load_results(args.report_from))
        return 0

    # Ctrl-C is simulated with SIGINT: the suites must not inherit an ignored
    # SIGINT (a shell's background job has one), or Python never raises
    # KeyboardInterrupt in them
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    from _engine import api_client

    preflight()
    api = api_client()
    facts = extra_facts(machine_facts(api.info()))
    api.close()
    runner = Runner(args)
    started = time.monotonic()
    samples: dict[str, list[Result]] = {k: [] for k in keys}
    xdist: dict[tuple[str, int], list[Result]] = {}
    interrupts: dict[tuple[str, str], list[Result]] = {}
    fixed: Result | None = None
    try:
        log(f"== one pytest process: warm-up + {args.repeat} repetitions, round-robin")
        for rep in range(-1, args.repeat):
            order = keys[rep % len(keys) :] + keys[: rep % len(keys)] if rep >= 0 else keys
            for k in order:
                res = runner.run(PEERS[k])
                tag = "warm-up" if rep < 0 else f"rep {rep + 1}/{args.repeat}"
                log(f"{tag:>9} {k:<20} {describe(res)}")
                if not res.ok:
                    log("    " + "\n    ".join(res.log_tail[-15:]))
                if rep >= 0:
                    samples[k].append(res)
                time.sleep(args.settle)
        if not args.no_xdist:
            log(f"== pytest-xdist: -n {args.workers}, {args.xdist_repeat} each")
            for rep in range(args.xdist_repeat):
                for n in workers:
                    xkeys = list(keys)
                    if "ephemeral" in keys:
                        xkeys += [WIDE.key] if n > DEFAULT_SLOTS else []
                        xkeys += [SHARED.key]
                    order = xkeys[rep % len(xkeys) :] + xkeys[: rep % len(xkeys)]
                    for k in order:
                        peer = peer_of(k)
                        res = runner.run(peer, ["-n", str(n)])
                        xdist.setdefault((k, n), []).append(res)
                        log(f"  -n {n} {k:<20} {describe(res)}")
                        if not res.ok:
                            log("    " + "\n    ".join(res.log_tail[-12:]))
                        time.sleep(args.settle)
            if "pytest-docker" in keys:
                ports = free_ports(3)
                env = {
                    "EPH_PEERS_DB_PORT": str(ports[0]),
                    "EPH_PEERS_CACHE_PORT": str(ports[1]),
                    "EPH_PEERS_API_PORT": str(ports[2]),
                }
                fixed = runner.run(PEERS["pytest-docker"], ["-n", "2"], env_extra=env)
                log(f"  fixed host ports, -n 2, pytest-docker: {describe(fixed)}")
        if not args.no_interrupts:
            log("== interrupts: Ctrl-C during setup, SIGKILL during a test")
            for _ in range(args.interrupt_repeat):
                for how in ("sigint-setup", "sigkill-test"):
                    for k in keys:
                        res = runner.run(PEERS[k], interrupt=how)
                        interrupts.setdefault((k, how), []).append(res)
                        log(
                            f"  {how:<13} {k:<20} left {leaks_text(res.left)} {res.problem or ''} "
                            f"{ {x: round(v, 2) for x, v in res.extra.items() if isinstance(v, float)} }"  # noqa: E501
                        )
                        time.sleep(args.settle)
    finally:
        found = runner.final_check()
        if not args.keep_logs:
            shutil.rmtree(runner.scratch, ignore_errors=True)
        else:
            log(f"run outputs kept in {runner.scratch}")
    meta = {
        "command": command_line(),
        "repeat": args.repeat,
        "xdist_repeat": args.xdist_repeat,
        "interrupt_repeat": 0 if args.no_interrupts else args.interrupt_repeat,
        "wall": time.monotonic() - started,
    }
    save_results(args.save, meta, facts, samples, xdist, fixed, interrupts)
    log(f"results saved to {args.save} (rebuild the report: --report-from {args.save})")
    publish(args, meta, facts, samples, xdist, fixed, interrupts)
    if found:
        log(f"note: the final sweep removed {len(found)} leftover(s): {', '.join(found[:10])}")
    from _engine import api_client as _client

    api = _client()
    try:
        still = [
            c["Names"][0]
            for t in runner.tokens
            for c in api.containers(all=True, filters={"label": [f"eph-peers.run={t}"]})
        ]
    finally:
        api.close()
    if still:
        raise SystemExit(f"still on the engine: {', '.join(still)}")
    log("nothing of this run is left on the engine")
    return 0


if __name__ == "__main__":
    python = ensure_venv()
    if not in_venv():
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(main())
