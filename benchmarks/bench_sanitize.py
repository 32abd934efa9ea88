"""Sanitization throughput and memory on a generated pg_dump file.

Usage::

    PYTHONPATH=src python benchmarks/bench_sanitize.py [--rows 1000000] [--keep DIR]

Generates a plain-format dump (``users``: id, email, first/last name, phone,
address, created_at; ``orders``: id, the customer's e-mail, amount, status,
created_at; 40 % users, 60 % orders) in a temporary directory, then runs, each
in a fresh child process so that its peak RSS is its own:

1. the realistic rules (7 transformed columns) with ``sanitize_file`` -> rows/s
   and peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``);
2. the same with ``tracemalloc`` on -> peak of Python allocations;
3. a keep-everything rules file (parsing and writing only, the lower bound)
   -> rows/s, printed side by side as a ratio.

Targets: at least 100,000 rows/s on one core for (1), peak memory under
150 MB whatever ``--rows`` is.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULES = """\
default: refuse
tables:
  public.users:
    columns:
      id: keep
      email: {fake: email, unique: true}
      first_name: {fake: first_name}
      last_name: {fake: last_name}
      phone: {hash: {keep_format: true}}
      address: {fake: address}
      created_at: keep
  public.orders:
    columns:
      id: keep
      customer_email: {fake: email, unique: true}
      amount: {noise: {relative: 0.05}}
      status: keep
      created_at: keep
"""

KEEP_RULES = "default: keep\n"

SALT = b"benchmark-salt-0123456789abcdef"

_FIRST = [
    "Anna",
    "Ben",
    "Carla",
    "Dieter",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Klara",
    "Lukas",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
]
_LAST = [
    "Meyer",
    "Schmidt",
    "Novak",
    "Rossi",
    "Garcia",
    "Smith",
    "Jones",
    "Brown",
    "Dubois",
    "Martin",
    "Kowalski",
    "Silva",
]
_STREETS = [
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Lake",
    "Hill",
    "Park",
    "Church",
    "Mill",
    "River",
]
_STATUS = ("paid", "shipped", "cancelled", "refunded", "pending")


def generate(path: Path, rows: int, seed: int = 7) -> tuple[int, int]:
    """Write a pg_dump-like file with ``rows`` data rows; return (users, orders)."""
    rnd = random.Random(seed)
    users = max(1, rows * 2 // 5)
    orders = rows - users
    emails: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(
            "--\n-- PostgreSQL database dump\n--\n\n"
            "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n"
            "SET standard_conforming_strings = on;\n\n"
            "CREATE TABLE public.users (\n    id integer NOT NULL,\n    email text NOT NULL,\n"
            "    first_name text,\n    last_name text,\n    phone text,\n    address text,\n"
            "    created_at timestamp with time zone\n);\n\n"
            "CREATE TABLE public.orders (\n    id integer NOT NULL,\n"
            "    customer_email text NOT NULL,\n    amount numeric(10,2),\n    status text,\n"
            "    created_at timestamp with time zone\n);\n\n"
            "COPY public.users (id, email, first_name, last_name, phone, address, created_at)"
            " FROM stdin;\n"
        )
        batch: list[str] = []
        for i in range(1, users + 1):
            first = rnd.choice(_FIRST)
            last = rnd.choice(_LAST)
            email = f"{first.lower()}.{last.lower()}{i}@mail{i % 97}.com"
            if len(emails) < 200_000:
                emails.append(email)
            phone = f"+49 {rnd.randint(30, 899)} {rnd.randint(1000000, 9999999)}"
            street = f"{rnd.randint(1, 300)} {rnd.choice(_STREETS)} Street"
            address = f"{street}\\n{rnd.randint(10000, 99999)} Springfield"  # COPY-escaped newline
            created = (
                f"2023-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} 10:{i % 60:02d}:00+00"
            )
            phone_field = phone if i % 10 else "\\N"
            batch.append(f"{i}\t{email}\t{first}\t{last}\t{phone_field}\t{address}\t{created}\n")
            if len(batch) >= 10_000:
                out.writelines(batch)
                batch.clear()
        out.writelines(batch)
        batch.clear()
        out.write("\\.\n\n")
        out.write(
            "COPY public.orders (id, customer_email, amount, status, created_at) FROM stdin;\n"
        )
        for i in range(1, orders + 1):
            email = emails[rnd.randrange(len(emails))]
            amount = f"{rnd.randint(1, 99999) / 100:.2f}"
            created = f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} 12:00:00+00"
            batch.append(f"{i}\t{email}\t{amount}\t{rnd.choice(_STATUS)}\t{created}\n")
            if len(batch) >= 10_000:
                out.writelines(batch)
                batch.clear()
        out.writelines(batch)
        out.write("\\.\n\n--\n-- PostgreSQL database dump complete\n--\n")
    return users, orders


def child(dump: Path, rules_path: Path, output: Path, trace: bool) -> None:
    """Run one sanitization and print its numbers as JSON."""
    if trace:
        import tracemalloc

        tracemalloc.start()
    from pytest_ephemeral.data.sanitize import load_rules, sanitize_file

    rules = load_rules(rules_path)
    started = time.perf_counter()
    cpu_started = time.process_time()
    report = sanitize_file(dump, output, rules, salt=SALT, fmt="pgdump")
    cpu = time.process_time() - cpu_started
    elapsed = time.perf_counter() - started
    result = {"rows": report.total_rows, "elapsed": elapsed, "cpu": cpu}
    if trace:
        import tracemalloc

        result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(result))


def run_child(dump: Path, rules: Path, output: Path, *, trace: bool) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", str(dump), str(rules), str(output)]
    if trace:
        argv.append("--trace")
    done = subprocess.run(argv, check=True, capture_output=True, text=True, env=os.environ)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    parser.add_argument("--child", nargs=3, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-trace", action="store_true", help="skip the (slow) tracemalloc run")
    parser.add_argument(
        "--repeat", type=int, default=1, help="time the sanitization N times, keep the best"
    )
    parser.add_argument("--out", type=Path, help="also write the results into this Markdown file")
    args = parser.parse_args(argv)
    lines: list[str] = []

    def say(text: str) -> None:  # every result line is also kept for --out
        lines.append(text)
        sys.stdout.write(text + "\n")

    if args.child:
        dump, rules, output = args.child
        child(dump, rules, output, trace=args.trace)
        return 0

    with tempfile.TemporaryDirectory(prefix="eph-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        dump = work / "prod.sql"
        started = time.perf_counter()
        users, orders = generate(dump, args.rows)
        size = dump.stat().st_size
        say(
            f"generated {users + orders:,} rows ({users:,} users, {orders:,} orders), "
            f"{size / 1e6:.0f} MB, in {time.perf_counter() - started:.1f} s"
        )
        rules = work / "sanitize.yaml"
        rules.write_text(RULES, encoding="utf-8")
        keep = work / "keep.yaml"
        keep.write_text(KEEP_RULES, encoding="utf-8")

        runs = [run_child(dump, rules, work / "safe.sql", trace=False)]
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        runs += [
            run_child(dump, rules, work / "safe.sql", trace=False) for _ in range(args.repeat - 1)
        ]
        bound = run_child(dump, keep, work / "copy.sql", trace=False)
        traced = None if args.no_trace else run_child(dump, rules, work / "t.sql", trace=True)

        rows = runs[0]["rows"]
        wall = min(run["elapsed"] for run in runs)
        cpu = min(run["cpu"] for run in runs)
        say(f"command: python benchmarks/bench_sanitize.py --rows {args.rows}")
        say(
            f"sanitize, 7 transformed columns:  {rows / wall:10,.0f} rows/s wall "
            f"({wall:.2f} s), {rows / cpu:10,.0f} rows per CPU-second ({cpu:.2f} s)"
        )
        say(
            f"keep-only pass (parse + write):   {rows / bound['elapsed']:10,.0f} rows/s wall, "
            f"{rows / bound['cpu']:10,.0f} rows per CPU-second -> sanitizing costs "
            f"{cpu / bound['cpu']:.1f}x the bare pass"
        )
        say(f"peak RSS of the sanitizing process: {rss_mb:.1f} MB")
        if traced is not None:
            say(f"tracemalloc peak while sanitizing:  {traced['tracemalloc_peak'] / 1e6:.1f} MB")
        load = os.getloadavg()[0]
        say(
            f"load average {load:.1f} on {os.cpu_count()} CPUs (wall-clock rates drop when "
            "other processes share the cores; CPU-seconds do much less)"
        )
        ok = rows / cpu >= 100_000 and rss_mb < 150
        say("targets (>= 100,000 rows/s on one core, < 150 MB): " + ("met" if ok else "NOT met"))
    if args.out:
        sys.path.insert(0, str(Path(__file__).parent))
        from _common import write_section

        body = "\n".join(
            [
                "## Sanitization throughput and memory (`bench_sanitize.py`)",
                "",
                f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}:",
                "",
                "```",
                *lines,
                "```",
            ]
        )
        write_section(args.out, "bench-sanitize", body)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
