"""``eph sanitize``: sanitize a dump or CSV file from the command line.

``main(argv)`` takes the arguments after ``eph sanitize`` and returns the exit
status: 0 done, 1 the leak check found originals or values that look like
personal data (nothing written), 2 bad input, rules, salt or arguments.
Errors are one line on stderr.

``eph sanitize --suggest DUMP [-o RULES]`` writes a draft rules file instead
(to stdout without ``-o``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, get_args

from pytest_ephemeral.errors import DataError

from ._engine import sanitize_file
from ._io import Format, detect_format, table_from_path
from ._leaks import (
    LeakError,
    OriginalIndex,
    check_leaks_files,
    collect_originals,
    index_key,
    raise_for_leaks,
)
from ._rules import Rules, load_rules
from ._salt import resolve_salt

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["main"]

PROG = "eph sanitize"

EXIT_OK = 0
EXIT_LEAKS = 1
EXIT_BAD_INPUT = 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{PROG} --help')")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Turn a production dump (pg_dump plain SQL) or a CSV file into safe, realistic, "
            "referentially consistent test data, following a rules file. The salt comes "
            "from $EPH_SANITIZE_SALT (or the variable the rules name in salt_env:), or from "
            "the file named by $EPH_SANITIZE_SALT_FILE or salt_file:."
        ),
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="dump or CSV file (.gz ok)")
    parser.add_argument(
        "--rules", type=Path, help="the rules file (YAML); required, except with --suggest"
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        help="where to write (same format); required, except with --suggest",
    )
    parser.add_argument(
        "--suggest",
        action="store_true",
        help=(
            "write a draft rules file for INPUT instead (to --output, or to stdout): every "
            "table and column, a rule chosen from its name, type and a sample of its values, "
            "a comment saying why; the draft passes its own leak check on INPUT"
        ),
    )
    parser.add_argument(
        "--format",
        choices=get_args(Format),
        default="auto",
        help="input format (default: from the file name or its first line)",
    )
    parser.add_argument(
        "--table", help="CSV only: the table the rules apply to (default: the file name)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=(
            "after sanitizing, check that no original value of a sanitized column appears "
            "anywhere in the output (also inside longer text), and that no kept column holds "
            "values that look like personal data; if either, write nothing and exit 1"
        ),
    )
    return parser


def _fail(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    """Run ``eph sanitize`` with ``argv`` (the arguments after ``sanitize``)."""
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except _UsageError as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        if args.suggest:
            return _suggest(args)
        for name in ("rules", "output"):
            if getattr(args, name) is None:
                _fail(f"the following argument is required: --{name} (see '{PROG} --help')")
                return EXIT_BAD_INPUT
        return _run(args)
    except LeakError as exc:
        _fail(str(exc))
        return EXIT_LEAKS
    except DataError as exc:
        _fail(str(exc))
        return EXIT_BAD_INPUT
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
        return EXIT_BAD_INPUT


#: Inputs at least this large are sanitized while another process collects the
#: originals for the leak check (when there are two cores or more).
PARALLEL_BYTES = 32 * 1024 * 1024


def _parallel(path: Path) -> bool:
    """Whether to collect the originals in a second process (``EPH_SANITIZE_JOBS=1``: never)."""
    try:
        large = path.stat().st_size >= PARALLEL_BYTES
    except OSError:
        return False
    return large and (os.cpu_count() or 1) >= 2 and os.environ.get("EPH_SANITIZE_JOBS") != "1"


class _Helper:
    """A forked process that collects the originals while this one sanitizes."""

    def __init__(
        self, rules_path: Path, input_path: Path, salt: bytes, fmt: Format, table: str | None
    ) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_collect,
            args=(send, rules_path, input_path, salt, fmt, table),
            name="eph-sanitize-originals",
            daemon=True,
        )
        self._process.start()
        send.close()

    def result(self, rules: Rules) -> OriginalIndex:
        try:
            status, payload = self._receive.recv()
        except EOFError:
            raise DataError("the process collecting the originals ended without a result") from None
        if status != "ok":
            raise DataError(str(payload))
        return OriginalIndex.restore(rules, payload)

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._receive.close()


def _collect(
    send: Connection,
    rules_path: Path,
    input_path: Path,
    salt: bytes,
    fmt: Format,
    table: str | None,
) -> None:
    """In the helper process: send the originals of ``input_path`` (exported state)."""
    try:
        rules = load_rules(rules_path)
        index = collect_originals(input_path, rules, fmt=fmt, table=table, salt=salt)
        send.send(("ok", index.export()))
    except DataError as exc:
        send.send(("error", str(exc)))
    except BaseException as exc:  # reported by the parent as one line
        send.send(("error", f"collecting the originals failed: {type(exc).__name__}: {exc}"))
    finally:
        send.close()


def _suggest(args: argparse.Namespace) -> int:
    from ._io import atomic_output
    from ._suggest import suggest_rules

    if args.rules is not None or args.check:
        _fail(
            "--suggest writes rules, it does not use them; drop --rules and --check "
            f"(see '{PROG} --help')"
        )
        return EXIT_BAD_INPUT
    output: Path | None = args.output
    if output is not None and output.exists():
        _fail(f"{output}: already exists; a draft never replaces rules, choose another name")
        return EXIT_BAD_INPUT
    draft = suggest_rules(args.input, fmt=args.format, table=args.table)
    if output is None:
        sys.stdout.write(draft)
        return EXIT_OK
    with atomic_output(output) as dst:
        dst.write(draft)
    columns = sum(1 for line in draft.splitlines() if line.startswith("      "))
    print(f"{PROG}: draft rules for {columns} columns -> {output}; read every line before use")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    input_path: Path = args.input
    output: Path = args.output
    rules = load_rules(args.rules)
    salt = resolve_salt(rules, os.environ)
    fmt = detect_format(input_path, args.format)
    table: str | None = args.table
    if fmt == "csv" and table is None:
        table = table_from_path(input_path)
    if not args.check:
        report = sanitize_file(input_path, output, rules, salt=salt, fmt=fmt, table=table)
        print(f"{PROG}: {report.summary()} -> {output}")
        return EXIT_OK
    # Sanitize into a hidden draft next to the output, check the draft, and
    # only then give it the output's name: a leaky output is never left behind.
    gz = ".gz" if output.name.lower().endswith(".gz") else ""
    draft = output.with_name(f".{output.name}.{secrets.token_hex(6)}.draft{gz}")
    try:
        helper = (
            _Helper(args.rules, input_path, salt, fmt, table) if _parallel(input_path) else None
        )
        try:
            if helper is not None:
                report = sanitize_file(input_path, draft, rules, salt=salt, fmt=fmt, table=table)
                index = helper.result(rules)
            else:  # the originals collected while sanitizing: one pass over the input
                index = OriginalIndex(rules, key=index_key(salt))
                report = sanitize_file(
                    input_path,
                    draft,
                    rules,
                    salt=salt,
                    fmt=fmt,
                    table=table,
                    observer=index.collector(),
                )
        finally:
            if helper is not None:
                helper.stop()
        leaks = check_leaks_files(
            input_path, draft, rules, salt, fmt=fmt, table=table, originals=index
        )
        raise_for_leaks(leaks, where=f"{output} (not written)")
        draft.replace(output)
    finally:
        draft.unlink(missing_ok=True)
    print(f"{PROG}: {report.summary()}, leak check passed -> {output}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
