"""``eph record`` and ``eph replay`` (called by :mod:`pytest_ephemeral.cli`).

Exit status: 0 ok; 1 a goal failed, an unexplained difference was found, or
the target stopped answering; 2 bad input (capture, goal, option, unknown
environment or service, unreachable target); 3 the Docker engine is
unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import DataError, EngineUnavailableError, EphemeralError
from ._errors import ReplayInputError

__all__ = ["record_main", "replay_main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENGINE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _err(prog: str, text: str) -> None:
    print(f"{prog}: error: {text}", file=sys.stderr)


def _positive(kind: type[float] | type[int], what: str):  # type: ignore[no-untyped-def]
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, not {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{what} must be positive, not {text!r}")
        return value

    return parse


# --------------------------------------------------------------------------- record


def record_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="eph record",
        description="Put a recording reverse proxy in front of a service of a running "
        "environment and write the traffic through it as HAR.",
        epilog="exit status: 0 ok, 1 the recorder failed, 2 bad input, 3 Docker unreachable",
    )
    p.add_argument("id", metavar="ID", help="the environment (id or unique prefix; see eph ls)")
    p.add_argument("target", metavar="SERVICE:PORT", help="the service and its container port")
    p.add_argument("-o", "--output", required=True, metavar="FILE.har", help=".har or .har.gz")
    p.add_argument(
        "--sanitize",
        metavar="RULES",
        help="rules file (http.headers, http.query, http.json tables); Authorization and "
        "cookies are always hashed",
    )
    p.add_argument("--port", type=int, default=None, help="host port of the proxy (default: any)")
    p.add_argument("--count", type=_positive(int, "--count"), help="stop after N entries")
    p.add_argument(
        "--duration", type=_positive(float, "--duration"), help="stop after SECONDS seconds"
    )
    return p


def record_main(argv: Sequence[str]) -> int:
    args = record_parser().parse_args(list(argv))
    from .record import record

    try:
        n = record(
            args.id,
            args.target,
            Path(args.output),
            sanitize=Path(args.sanitize) if args.sanitize else None,
            count=args.count,
            duration=args.duration,
            listen_port=args.port,
            announce=lambda text: print(text, flush=True),
        )
    except EngineUnavailableError as exc:
        _err("eph record", str(exc))
        return EXIT_ENGINE
    except (ReplayInputError, DataError) as exc:
        _err("eph record", str(exc))
        return EXIT_USAGE
    except EphemeralError as exc:
        _err("eph record", str(exc))
        return EXIT_FAILED
    print(f"{n} entries written to {args.output}", flush=True)
    return EXIT_OK


# --------------------------------------------------------------------------- replay


def replay_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="eph replay",
        description="Replay a capture (HAR, .har.gz, GoReplay .gor) open-loop against a "
        "target, compare with baselines, and decide by goals.",
        epilog="goals: METRIC[@ENDPOINT] OP VALUE, metrics p50 p90 p95 p99 max error_rate "
        "diff_rate rps, e.g. 'p95 < 250ms', 'p99@GET /items/{id} <= +20%'. "
        "exit status: 0 ok, 1 a goal failed or a difference was found, 2 bad input",
    )
    p.add_argument("capture", metavar="CAPTURE")
    p.add_argument("--target", required=True, metavar="URL", help="e.g. http://127.0.0.1:8000")
    p.add_argument("--baseline", action="append", default=[], metavar="URL")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=_positive(float, "--speed"),
        default=1.0,
        metavar="X",
        help="the capture's schedule, X times faster (default 1)",
    )
    pace.add_argument(
        "--rate",
        type=_positive(float, "--rate"),
        default=None,
        metavar="N",
        help="a fixed rate: N requests per second, ignoring the recorded times",
    )
    p.add_argument(
        "--concurrency",
        type=_positive(int, "--concurrency"),
        default=256,
        metavar="N",
        help="captured requests in flight at most (default 256)",
    )
    p.add_argument(
        "--timeout",
        type=_positive(float, "--timeout"),
        default=10.0,
        metavar="SECONDS",
        help="a request unanswered this long after its scheduled time is lost (default 10)",
    )
    p.add_argument("--include-unsafe", action="store_true", help="also send POST PUT PATCH DELETE")
    p.add_argument(
        "--goal",
        action="append",
        default=[],
        metavar="EXPR",
        help="a goal, repeatable: 'p95 < 250ms', 'error_rate < 1%%' (below)",
    )
    p.add_argument(
        "--limit",
        type=_positive(int, "--limit"),
        default=None,
        metavar="N",
        help="replay the first N requests only",
    )
    p.add_argument("--report", metavar="FILE.html", help="write an HTML report")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def is_ephemeral(url: str) -> bool:
    """Whether ``url`` is a port published by a pytest-ephemeral container on the
    local engine (then unsafe methods may go to it). False when it cannot be told."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1") or parts.port is None:
        return False
    try:
        from ..lifecycle import labels as L
        from .record import docker_backend

        backend = docker_backend()
        try:
            for res in backend.list_resources({L.ENV: None}):
                if res.kind != "container":
                    continue
                if parts.port in dict(backend.state(res.id).ports).values():
                    return True
        finally:
            backend.close()
    except Exception:  # no engine, no answer: not known to be ephemeral
        return False
    return False


def replay_main(argv: Sequence[str]) -> int:
    args = replay_parser().parse_args(list(argv))
    from .capture import capture_format, iter_capture
    from .engine import ReplayOptions, replay
    from .goals import parse_goal

    try:
        path = Path(args.capture)
        capture_format(path)
        goals = tuple(parse_goal(g) for g in args.goal)
        urls = [args.target, *args.baseline]
        ephemeral = not args.include_unsafe and all(is_ephemeral(u) for u in urls)
        options = ReplayOptions(
            target=args.target,
            baselines=tuple(args.baseline),
            speed=args.speed,
            rate=args.rate,
            concurrency=args.concurrency,
            timeout=args.timeout,
            include_unsafe=args.include_unsafe,
            target_ephemeral=ephemeral,
            goals=goals,
            limit=args.limit,
        )
        result = replay(iter_capture(path), options)
    except ReplayInputError as exc:
        _err("eph replay", str(exc))
        return EXIT_USAGE
    except EphemeralError as exc:
        _err("eph replay", str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("eph replay", "interrupted")
        return 130
    doc = result.as_dict()
    if args.report:
        from .report import write_html

        try:
            write_html(doc, Path(args.report))
        except OSError as exc:
            _err(
                "eph replay",
                f"{args.report}: cannot write the report ({exc.strerror}); fix --report",
            )
            return EXIT_USAGE
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(result.summary())
        if args.report:
            print(f"report: {args.report}")
    return EXIT_OK if result.ok else EXIT_FAILED
