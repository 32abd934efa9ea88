"""Opening inputs and outputs: formats, gzip, encoding errors, atomic writes."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final, Literal

from pytest_ephemeral.errors import DataError

__all__ = [
    "Format",
    "atomic_output",
    "decode_error",
    "detect_format",
    "open_input",
    "table_from_path",
]

Format = Literal["auto", "pgdump", "csv"]

_SQL_SUFFIXES = (".sql", ".pgsql", ".psql", ".dump")
_SQL_STARTS = (
    "--",
    "/*",
    "\\",
    "SET ",
    "SELECT ",
    "COPY ",
    "INSERT ",
    "CREATE ",
    "ALTER ",
    "BEGIN",
    "START ",
    "DROP ",
)


def _base_name(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def table_from_path(path: Path) -> str:
    """The table a CSV file holds when not told: its name without suffixes."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    return Path(name).stem


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def open_input(path: Path) -> IO[str]:
    """Open an input as UTF-8 text, line endings untouched, gunzipping ``*.gz``."""
    try:
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8", newline="")
        return path.open("r", encoding="utf-8", newline="")
    except FileNotFoundError:
        raise DataError(f"{path}: input file not found; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a dump or CSV file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied reading the input") from None


def detect_format(path: Path, fmt: Format) -> Literal["pgdump", "csv"]:
    """The format of ``path``: as given, by suffix, or by its first line."""
    try:
        with _open_binary(path) as raw:
            head = raw.read(65536)
    except FileNotFoundError:
        raise DataError(f"{path}: input file not found; check the path") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read the input ({exc})") from None
    if head.startswith(b"PGDMP"):
        raise DataError(
            f"{path}: this is a pg_dump custom-format archive, not a plain SQL dump; convert "
            f"it with 'pg_restore -f {path.stem}.sql {path.name}' or dump with --format=plain"
        )
    if fmt != "auto":
        return fmt
    name = _base_name(path)
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(_SQL_SUFFIXES):
        return "pgdump"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.upper().startswith(_SQL_STARTS):
            return "pgdump"
        break
    raise DataError(
        f"{path}: cannot tell whether this is a pg_dump file or CSV from its name or first "
        "line; pass --format pgdump or --format csv (fmt= in Python)"
    )


_COPY_HEAD: Final = re.compile(rb"\s*COPY\s+(\S+)\s*\(([^)]*)\)\s*FROM\s+stdin", re.I)
_INSERT_HEAD: Final = re.compile(rb"\s*INSERT\s+INTO\s+([^\s(]+)", re.I)


def _unquote(name: bytes) -> str:
    return name.decode("utf-8", "replace").strip().replace('"', "")


def _place(
    path: Path,
    line: bytes,
    at: int,
    number: int,
    copy: tuple[str, list[str]] | None,
    header: list[str],
) -> str:
    """``table T, column C`` for the bad byte at ``at`` of ``line``, as far as known."""
    if copy is not None:
        table, columns = copy
        field = line.count(b"\t", 0, at)
        column = columns[field] if field < len(columns) else "?"
        return f" in table {table}, column {column}"
    if header and number > 1:
        text = line[:at].decode("utf-8", "replace")
        field = next(csv.reader([text + "x"]), [""]).__len__() - 1
        column = header[field] if 0 <= field < len(header) else "?"
        return f" in table {table_from_path(path)}, column {column}"
    insert = _INSERT_HEAD.match(line)
    if insert is not None:
        return f" in an INSERT into {_unquote(insert.group(1))}"
    return ""


def decode_error(path: Path, exc: UnicodeDecodeError) -> DataError:
    """A :class:`DataError` naming the first line of ``path`` that is not UTF-8,
    and the table and column the bad byte is in (COPY rows and CSV fields)."""
    line_number = 0
    bad: int | None = None
    place = ""
    copy: tuple[str, list[str]] | None = None
    header: list[str] = []
    try:
        with _open_binary(path) as raw:
            for line_number, line in enumerate(raw, 1):
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as inner:
                    bad = line[inner.start]
                    place = _place(path, line, inner.start, line_number, copy, header)
                    break
                if copy is not None:
                    if line.rstrip(b"\r\n") == b"\\.":
                        copy = None
                    continue
                head = _COPY_HEAD.match(line)
                if head is not None:
                    columns = [_unquote(c) for c in head.group(2).split(b",")]
                    copy = (_unquote(head.group(1)), columns)
                elif line_number == 1 and not line.lstrip().startswith((b"--", b"SET", b"\\")):
                    header = [c.strip() for c in next(csv.reader([text]), [])]
            else:
                line_number = 0
    except OSError:
        line_number = 0
    where = f"{path}:{line_number}" if line_number else str(path)
    byte = f" (byte 0x{bad:02x})" if bad is not None else f" ({exc.reason})"
    return DataError(
        f"{where}: not valid UTF-8{byte}{place}; convert the file to UTF-8 "
        "(for pg_dump: --encoding=UTF8; for CSV: iconv -t UTF-8)"
    )


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` only if the block succeeds.

    It is written as a hidden temporary file next to ``path`` and renamed over
    it at the end; on any error the temporary file is removed and ``path`` is
    untouched. ``*.gz`` outputs are gzipped.
    """
    if not path.parent.is_dir():
        raise DataError(
            f"{path}: the output directory {path.parent} does not exist; create it first"
        )
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        handle: IO[str]
        if path.name.lower().endswith(".gz"):
            handle = gzip.open(temp, "xt", encoding="utf-8", newline="")  # noqa: SIM115
        else:
            handle = temp.open("x", encoding="utf-8", newline="")
    except PermissionError:
        raise DataError(f"{path}: permission denied writing the output next to it") from None
    try:
        with handle:
            yield handle
        temp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
