"""Memory stays flat however long the dump is (streaming)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator

from pytest_ephemeral.data.sanitize import Rules, sanitize_stream

MakeRules = Callable[[str], Rules]
SALT = b"tests-salt-0123456789abcdef"

RULES = """\
default: refuse
tables:
  public.users:
    columns:
      id: keep
      email: {fake: email, unique: true}
      phone: {hash: {keep_format: true}}
      note: {mask: {keep_first: 2}}
"""


def dump(rows: int) -> Iterator[str]:
    yield "SET client_encoding = 'UTF8';\n"
    yield "COPY public.users (id, email, phone, note) FROM stdin;\n"
    for i in range(rows):
        yield f"{i}\tuser{i}@corp.example\t+49 30 {i:07d}\tnote\\t{i}\n"
    yield "\\.\n"
    # INSERT statements are read whole: memory is bounded by the largest one.
    for start in range(0, rows // 50, 50):
        yield "INSERT INTO public.users (id, email, phone, note) VALUES\n"
        for i in range(start, start + 49):
            yield f"  ({i}, 'x{i}@corp.example', '{i}', NULL),\n"
        yield "  (-1, NULL, NULL, 'it''s');\n"


def peak(rules: Rules, rows: int) -> int:
    tracemalloc.start()
    try:
        stream = sanitize_stream(dump(rows), rules, SALT)
        for _line in stream:
            pass
        assert stream.report.total_rows == rows + rows // 50
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_flat_between_10k_and_100k_rows(make_rules: MakeRules) -> None:
    rules = make_rules(RULES)
    small = peak(rules, 10_000)
    large = peak(rules, 100_000)
    # Caches are bounded and full after 10k rows; the rest is per line.
    assert large < small * 1.25 + 256 * 1024, (small, large)
