"""Open-loop replay (``eph replay``) against ``hey`` and ``wrk``, side by side.

Usage::

    python benchmarks/bench_replay.py [--rates 100,250,500,1000,1500] [--step 3]
        [--requests 100000] [--har-mb 200] [--out docs/benchmarks.md]

Needs ``wrk`` and ``hey`` (Debian packages) and the ``replay`` extra.
The service is ``benchmarks/replay_service.py`` (aiohttp, one process) on
CPU 1; every load generator runs on CPU 0 alone (``taskset``), one at a time:

1. a rate ladder: at each rate, ``--step`` seconds of ``eph replay --rate R``
   (send-time error p99 = actual send minus scheduled time; latencies from
   the scheduled time), ``hey -c 50 -q R/50`` and ``wrk -t1 -c 50`` paced
   to R by a Lua ``delay()`` (both closed loop: they cannot send more than
   their connections allow, and measure from the actual send);
2. the highest rate the replayer holds with send-time error p99 < 5 ms and
   nothing lost;
3. a generated HAR of ``--har-mb`` MB holding ``--requests`` entries
   replayed whole at that rate: requests lost, and the replayer's peak RSS
   (``wait4``), against its peak RSS on the ladder's small HAR.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, command_line, machine_facts, machine_table, write_section

SERVICE = Path(__file__).with_name("replay_service.py")
EPH = [sys.executable, "-c", "import sys; from pytest_ephemeral.cli import main; sys.exit(main())"]
CONNECTIONS = 50
WRK_LUA = """
local d = tonumber(os.getenv("EPH_DELAY_MS") or "0")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/items/" .. (n % 1000))
end
function delay() return d end
"""


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if (os.cpu_count() or 1) >= 2 else []


@contextlib.contextmanager
def service() -> Iterator[str]:
    proc = subprocess.Popen(
        [*pin(1), sys.executable, str(SERVICE), "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on"):
        proc.kill()
        raise SystemExit(f"the service did not start: {line!r}")
    try:
        yield f"http://127.0.0.1:{line.split()[-1]}"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def entry_json(i: int, second: float, pad: int) -> str:
    whole = int(second)
    ms = int((second - whole) * 1000)
    stamp = f"2024-05-01T{12 + whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{ms:03d}Z"
    body = json.dumps({"id": i % 1000, "name": f"item {i % 1000}", "pad": "x" * pad})
    return json.dumps(
        {
            "startedDateTime": stamp,
            "time": 3.1,
            "request": {
                "method": "GET",
                "url": f"https://shop.example.com/items/{i % 1000}?ref=bench",
                "httpVersion": "HTTP/1.1",
                "headers": [
                    {"name": "Accept", "value": "application/json"},
                    {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64) bench"},
                    {"name": "Accept-Language", "value": "en-GB,en;q=0.9"},
                ],
                "queryString": [{"name": "ref", "value": "bench"}],
                "cookies": [],
                "headersSize": -1,
                "bodySize": 0,
            },
            "response": {
                "status": 200,
                "statusText": "OK",
                "httpVersion": "HTTP/1.1",
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "cookies": [],
                "content": {"size": len(body), "mimeType": "application/json", "text": body},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": len(body),
            },
            "cache": {},
            "timings": {"send": 0, "wait": 3, "receive": 0.1},
        }
    )


def write_har(path: Path, entries: int, rate: float, pad: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{"log":{"version":"1.2","creator":{"name":"bench","version":"1"},"entries":[\n')
        for i in range(entries):
            fh.write(("," if i else "") + entry_json(i, i / rate, pad) + "\n")
        fh.write("]}}\n")


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[str, str, float, float]:
    """Run ``cmd``; its stdout, stderr, CPU seconds (user + system) and peak RSS
    in MB, from ``wait4`` of that child alone."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode not in (0, 1):  # eph replay: 1 = a goal failed; fine here
        raise SystemExit(f"{cmd[len(pin(0))]} failed ({proc.returncode}): {stderr.strip()}")
    return stdout, stderr, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_replay(har: Path, url: str, *args: str) -> tuple[dict[str, Any], float, float]:
    """The replay's --json document, its peak RSS in MB and its CPU seconds."""
    out, err, cpu, rss = measured(
        [
            *pin(0),
            *EPH,
            "replay",
            str(har),
            "--target",
            url,
            "--json",
            "--timeout",
            "5",
            "--include-unsafe",
            *args,
        ]
    )
    if not out.strip():
        raise SystemExit(f"eph replay printed nothing: {err.strip()}")
    return json.loads(out), rss, cpu


def _seconds(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_hey(url: str, rate: float, seconds: float) -> dict[str, float]:
    q = max(rate / CONNECTIONS, 0.01)
    out, _err, cpu, _rss = measured(
        [*pin(0), "hey", "-z", f"{seconds:g}s", "-c", str(CONNECTIONS), "-q", f"{q:.3f}", url]
    )
    res: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}  # type: ignore[index]
    for pct in ("50", "99"):
        m = re.search(rf"{pct}% in ([\d.]+) secs", out)
        res[f"p{pct}_ms"] = float(m[1]) * 1000 if m else float("nan")
    answered = sum(int(n) for n in re.findall(r"\[\d{3}\]\s+(\d+) responses", out))
    errors = re.search(r"Error distribution:(.*)", out, re.S)
    res["errors"] = (
        float(sum(int(n) for n in re.findall(r"\[(\d+)\]", errors[1]))) if errors else 0.0
    )
    res["cpu_us"] = cpu / max(answered, 1) * 1e6
    return res


def run_wrk(url: str, rate: float, seconds: float, lua: Path) -> dict[str, float]:
    delay = CONNECTIONS * 1000.0 / rate
    out, _err, cpu, _rss = measured(
        [
            *pin(0),
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(lua),
            url,
        ],
        env={**os.environ, "EPH_DELAY_MS": f"{delay:.0f}"},
    )
    res: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}  # type: ignore[index]
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s|m)\b", out)
        res[f"p{pct}_ms"] = _seconds(m[1], m[2]) if m else float("nan")
    done = re.search(r"(\d+) requests in", out)
    res["cpu_us"] = cpu / max(int(done[1]) if done else 0, 1) * 1e6
    return res


def fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None or v != v else f"{v:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="100,250,500,1000,1500")
    ap.add_argument("--step", type=float, default=3.0, help="seconds per rate and tool")
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--har-mb", type=float, default=200.0)
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--section", default="replay", help="the section of --out to write (default replay)"
    )
    ap.add_argument("--title", default="Traffic replay: open loop against hey and wrk")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    facts = machine_facts()  # now: its load average is the one at the start
    for tool in ("wrk", "hey"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            raise SystemExit(f"{tool} is not installed: apt-get install -y wrk hey")

    with tempfile.TemporaryDirectory(prefix="eph-bench-replay-") as tmp, service() as url:
        tmpdir = Path(tmp)
        lua = tmpdir / "pace.lua"
        lua.write_text(WRK_LUA)
        small = tmpdir / "ladder.har"
        write_har(small, int(max(rates) * args.step) + 10, max(rates), 0)
        small_mb = small.stat().st_size / 1e6
        # warm up the service and the page cache
        run_replay(small, url, "--rate", "200", "--limit", "200")
        # what eph replay costs before it sends anything (interpreter, imports,
        # the pre-flight connect): subtracted from its CPU per request
        empty = tmpdir / "empty.har"
        write_har(empty, 0, 1.0, 0)
        startup_cpu = min(run_replay(empty, url)[2] for _ in range(3))
        ladder: list[dict[str, Any]] = []
        for rate in rates:
            n = int(rate * args.step)
            doc, rss, cpu = run_replay(small, url, "--rate", f"{rate}", "--limit", str(n))
            doc["cpu_us"] = max(cpu - startup_cpu, 0.0) / max(doc["answered"], 1) * 1e6
            hey = run_hey(f"{url}/items/7", rate, args.step)
            wrk = run_wrk(url, rate, args.step, lua)
            row = {"rate": rate, "replay": doc, "rss": rss, "hey": hey, "wrk": wrk}
            ladder.append(row)
            o = doc["overall"]
            print(
                f"rate {rate:6.0f}: replay {doc['rps']:7.0f}/s lag p99 "
                f"{fmt(doc['send_lag_p99_ms'])} ms lost {doc['lost']} p50 {fmt(o['p50_ms'])} "
                f"p99 {fmt(o['p99_ms'])} | hey {hey['rps']:7.0f}/s p50 {fmt(hey['p50_ms'])} "
                f"p99 {fmt(hey['p99_ms'])} | wrk {wrk['rps']:7.0f}/s p50 {fmt(wrk['p50_ms'])} "
                f"p99 {fmt(wrk['p99_ms'])}",
                flush=True,
            )
        held = [
            r["rate"]
            for r in ladder
            if (r["replay"]["send_lag_p99_ms"] or 0) < 5.0
            and r["replay"]["lost"] == 0
            and r["replay"]["answered"] == r["replay"]["sent"]
        ]
        best = max(held) if held else min(rates)
        # the big replay runs at the highest rate held, or else the highest the
        # replayer kept up with (95 % of it answered per second, nothing lost)
        kept_up = [
            r["rate"]
            for r in ladder
            if r["replay"]["lost"] == 0 and r["replay"]["rps"] >= 0.95 * r["rate"]
        ]
        big_rate = best if held else max(kept_up, default=min(rates))

        big = tmpdir / "big.har"
        if args.requests <= 0:  # the ladder only
            big_mb, big_rss, doc = 0.0, 0.0, {}
        t0 = time.monotonic()
        if args.requests > 0:
            base = len(entry_json(args.requests, 0.0, 0)) + 2
            pad = max(int(args.har_mb * 1e6 / args.requests) - base, 0)
            write_har(big, args.requests, big_rate, pad)
            big_mb = big.stat().st_size / 1e6
            took = time.monotonic() - t0
            print(f"wrote {big_mb:.0f} MB HAR ({args.requests} entries) in {took:.0f}s")
            doc, big_rss, _cpu = run_replay(big, url, "--rate", f"{big_rate}")
            print(
                f"big: sent {doc['sent']} answered {doc['answered']} lost {doc['lost']} errors "
                f"{doc['errors']} lag p99 {fmt(doc['send_lag_p99_ms'])} ms rss {big_rss:.0f} MB",
                flush=True,
            )

    small_rss = max(r["rss"] for r in ladder)
    lines = [
        f"## {args.title}",
        "",
        *machine_table(facts),
        "",
        f"Command: `{command_line()}`",
        "",
        "The service: `benchmarks/replay_service.py` (aiohttp, one process, on CPU 1). Each load "
        "generator runs alone on CPU 0 (`taskset -c 0`), one after another, "
        f"{args.step:g} s per rate and tool. `eph replay --rate R` is open loop (latency from "
        "the scheduled send time); `hey -c 50 -q R/50` and `wrk -t1 -c 50` paced by a Lua "
        "`delay()` are closed loop (latency from the actual send; a connection waits for its "
        "answer before the next request).",
        "",
        "| rate /s | replay /s | send lag p99 ms | lost | replay p50 / p99 ms | hey /s | "
        "hey p50 / p99 ms | wrk /s | wrk p50 / p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ladder:
        d, h, w = r["replay"], r["hey"], r["wrk"]
        lines.append(
            f"| {r['rate']:.0f} | {d['rps']:.0f} | {fmt(d['send_lag_p99_ms'])} | {d['lost']} | "
            f"{fmt(d['overall']['p50_ms'])} / {fmt(d['overall']['p99_ms'])} | {h['rps']:.0f} | "
            f"{fmt(h['p50_ms'])} / {fmt(h['p99_ms'])} | {w['rps']:.0f} | "
            f"{fmt(w['p50_ms'])} / {fmt(w['p99_ms'])} |"
        )
    lines += [
        "",
        "CPU per answered request (µs), from each process's own user + system time (`wait4`; for "
        f"`eph replay` less its {startup_cpu:.2f} s start-up, measured on an empty HAR), and "
        "the rate one core to itself would give at that cost:",
        "",
        "| rate /s | replay µs | hey µs | wrk µs | one core: replay /s | hey /s | wrk /s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ladder:
        cpus = [r["replay"]["cpu_us"], r["hey"]["cpu_us"], r["wrk"]["cpu_us"]]
        lines.append(
            f"| {r['rate']:.0f} | "
            + " | ".join(f"{c:.0f}" for c in cpus)
            + " | "
            + " | ".join(f"{1e6 / c:.0f}" if c > 0 else "-" for c in cpus)
            + " |"
        )
    load_end = " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines += ["", f"Load average at the end: {load_end}."]
    if not doc:
        text = "\n".join(lines) + "\n"
        print(text)
        if args.out:
            write_section(args.out, args.section, text)
        return
    lines += [
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| highest rate held on one core, send-time error p99 < 5 ms | "
        f"{best:.0f}/s (of {', '.join(f'{r:.0f}' for r in rates)} tried) | "
        f"{'met' if held else '**missed** at every rate'} |",
        f"| requests lost, {doc['sent']:,} sent at {big_rate:.0f}/s | {doc['lost']} lost, "
        f"errors {doc['errors'] or 0}, {doc['answered']:,} answered | "
        f"{'met' if doc['lost'] == 0 and doc['sent'] == args.requests else '**missed**'} |",
        f"| peak memory replaying a {big_mb:.0f} MB HAR, ≤ 300 MB | {big_rss:.0f} MB "
        f"(a {small_mb:.1f} MB HAR: {small_rss:.0f} MB) | "
        f"{'met' if big_rss <= 300 else '**missed**'} |",
        "",
        f"Big HAR replay: send-time error p99 {fmt(doc['send_lag_p99_ms'])} ms, "
        f"latency p50 {fmt(doc['overall']['p50_ms'])} ms, p99 {fmt(doc['overall']['p99_ms'])} ms, "
        f"{doc['rps']:.0f} answers/s over {doc['duration_s']:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_section(args.out, args.section, text)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
