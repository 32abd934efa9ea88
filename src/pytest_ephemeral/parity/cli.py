"""``eph parity [-f SPEC] [--against PATH]... [--json]``.

Exit status: 0 no unaccepted difference, 1 an unaccepted difference, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import EphemeralError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eph parity",
        description="Compare the spec with production: Kubernetes YAML (files, folders, "
        "`helm template` output) or a Compose file. Differences the spec accepts "
        "(parity.accept, each with a reason) are listed apart.",
        epilog="exit status: 0 no unaccepted difference, 1 an unaccepted difference, 2 bad input",
    )
    p.add_argument("-f", "--file", metavar="SPEC", help="the spec (default: discovered in .)")
    p.add_argument(
        "--against",
        action="append",
        default=[],
        metavar="PATH",
        help="production manifests, a folder of them, or a Compose file (repeatable; "
        "default: the spec's parity.against)",
    )
    p.add_argument("--profile", action="append", default=[], metavar="NAME")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return int(exc.code or 0)
    from ..spec import discover_spec, load_spec
    from . import parity_report, report_json, report_text

    try:
        spec = load_spec(discover_spec(Path.cwd(), args.file), profiles=tuple(args.profile))
        report = parity_report(spec, [Path(p).expanduser() for p in args.against])
    except EphemeralError as exc:
        print(f"eph parity: error: {exc}", file=sys.stderr)
        return 2
    print(report_json(report) if args.json else report_text(report))
    return 0 if report.ok else 1
