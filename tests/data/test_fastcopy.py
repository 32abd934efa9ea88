"""The compiled sanitizer (``_fastcopy.c``) against the Python one.

Every replacement must be the same, byte for byte: a sanitized dump may not
depend on whether the machine that made it had a C compiler. The Python
functions of ``_fakes.py`` and ``_transforms.py`` are the reference; the
compiled ones are checked against them on generated values (every kind, the
hashes, the noise with numbers written every way Python reads them), on
values whose first draw equals them (the redraws), and on whole generated
dumps sanitized both ways.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ephemeral.data.sanitize import _native, load_rules, sanitize_file, sanitize_stream
from pytest_ephemeral.data.sanitize._engine import _copy_function
from pytest_ephemeral.data.sanitize._fakes import GENERATORS, UNIQUE_GENERATORS, postcode
from pytest_ephemeral.data.sanitize._plan import CopyFn
from pytest_ephemeral.data.sanitize._rules import Fake, Hash, Noise, Transform
from pytest_ephemeral.data.sanitize._transforms import ValueProblem, compile_transform
from pytest_ephemeral.errors import DataError

try:
    from pytest_ephemeral.data.sanitize import _fastcopy
except ImportError:  # pragma: no cover - skipped below, or failed under run-tests
    _fastcopy = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from pytest_ephemeral.data.sanitize._fastcopy import Keyed

pytestmark = pytest.mark.skipif(
    not _native.COMPILED and os.environ.get("EPH_REQUIRE_COMPILED") != "1",
    reason="the compiled sanitizer is not built (no C compiler at install)",
)

SALT = b"tests-salt-0123456789abcdef"

TRANSFORMS: list[Transform] = [
    *(Fake(kind) for kind in GENERATORS if kind != "text"),
    *(Fake(kind, unique=True) for kind in UNIQUE_GENERATORS),
    *(Hash(length=n) for n in (8, 16, 31, 64)),
    Hash(keep_format=True),
    Noise("relative", 0.05),
    Noise("relative", 3.0),
    Noise("absolute", 10.0),
    Noise("absolute", 0.5),
]


def pair(transform: Transform, salt: bytes = SALT) -> tuple[Keyed, CopyFn, Callable[..., object]]:
    """(compiled Keyed, Python COPY function, Python value function)."""
    compiled = compile_transform(transform, salt)
    assert compiled is not None and compiled.native is not None
    key, label, kind, param = compiled.native
    assert kind in _fastcopy.KINDS, kind
    python_copy = _copy_function(compiled)
    keyed = _fastcopy.Keyed(
        key, label, kind, param, compiled.redraws, compiled.safe, python_copy, compiled.fn
    )
    return keyed, python_copy, compiled.fn


def outcome(fn: Callable[..., object], value: object) -> tuple[str, object]:
    try:
        return ("ok", fn(value))
    except ValueProblem as exc:
        return ("problem", str(exc))


def test_the_compiled_sanitizer_is_built_where_the_tests_run() -> None:
    # scripts/run-tests sets EPH_REQUIRE_COMPILED=1 (see test_fastindex.py).
    assert _native.COMPILED, "the compiled sanitizer is not built: pip install -e . with gcc"


def test_every_keyed_transformation_but_text_and_days_is_compiled() -> None:
    for transform in TRANSFORMS:
        compiled = compile_transform(transform, SALT)
        assert compiled is not None and compiled.native is not None
        assert compiled.native[2] in _fastcopy.KINDS
    for left in (Fake("text"), Noise("days", 3.0)):
        compiled = compile_transform(left, SALT)
        assert compiled is not None
        assert compiled.native is None or compiled.native[2] not in _fastcopy.KINDS


@pytest.mark.parametrize("portable", ["0", "1"])
def test_sha256_both_ways_equals_hashlib(portable: str) -> None:
    # In a child: the implementation is chosen at import.
    code = (
        "import hashlib, random\n"
        "from pytest_ephemeral.data.sanitize import _fastcopy as f\n"
        "rnd = random.Random(5)\n"
        "for n in [*range(200), 1000, 4096, 65537]:\n"
        "    data = bytes(rnd.randrange(256) for _ in range(n))\n"
        "    assert f.sha256(data) == hashlib.sha256(data).digest(), n\n"
        "print(f.SHA)\n"
    )
    env = dict(os.environ, EPH_SHA_PORTABLE=portable)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    if portable == "1":
        assert done.stdout.strip() == "portable"


def test_the_keyed_digest_is_hmac_sha256_of_label_and_value() -> None:
    import hmac

    keyed, _copy, _value = pair(Fake("email"))
    for value in ["", "a", "Müller", "x" * 200]:
        expected = hmac.digest(SALT, b"fake:email\0" + value.encode(), "sha256")
        assert keyed.digest(value) == expected


VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="aZ09 -.,@+()\\\t\n\r\bé€", max_size=40),
    st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{0,12})?", fullmatch=True),
    st.sampled_from(
        [
            "+5",
            " 7",
            "1_000",
            "1e5",
            "2E-3",
            "nan",
            "NaN",
            "Infinity",
            "-infinity",
            "-0",
            "-0.0",
            "5.",
            ".5",
            ".",
            "-",
            "1.2.3",
            "0.5",
            "-0.5",
            "12345678901234567890",
            "999999999999999999",
            "1.00000000000000000000001",
            "٣٤",
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TRANSFORMS), VALUES)
def test_a_decoded_value_gets_the_python_replacement(transform: Transform, value: str) -> None:
    keyed, _copy, python_value = pair(transform)
    assert outcome(keyed.value, value) == outcome(python_value, value)


RAW = st.one_of(
    VALUES.map(lambda v: v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")),
    st.text(alphabet="ab1\\ntNx07é", max_size=20),  # any escape, numeric ones included
    st.just("\\N"),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TRANSFORMS), RAW)
def test_a_copy_field_gets_the_python_replacement(transform: Transform, raw: str) -> None:
    keyed, python_copy, _value = pair(transform)
    assert outcome(keyed, raw) == outcome(python_copy, raw)


def test_a_replacement_equal_to_its_original_is_drawn_again_as_in_python() -> None:
    # Five-digit strings whose first postcode is themselves: found by search.
    keyed, python_copy, python_value = pair(Fake("postcode"))
    equal = [
        value
        for value in (f"{i:05d}" for i in range(100_000))
        if postcode(keyed.digest(value), value) == value
    ]
    assert equal, "no five-digit value is its own first postcode under this salt"
    for value in equal:
        assert keyed(value) == python_copy(value) != value
        assert keyed.value(value) == python_value(value)
    # A value no draw can change (only kept characters): sixteen redraws, then itself.
    fmt, fmt_copy, _ = pair(Hash(keep_format=True))
    assert fmt("-- ./") == fmt_copy("-- ./") == "-- ./"


def test_the_lists_must_be_given_whole() -> None:
    with pytest.raises(ValueError, match="first"):
        _fastcopy.set_words({})


# ------------------------------------------------------------ whole dumps

RULES = """\
default: keep
tables:
  public.people:
    columns:
      email: {fake: email, unique: true}
      name: {fake: name}
      phone: {hash: {keep_format: true}}
      amount: {noise: {relative: 0.1}}
      note: {fake: text}
      code: {hash: {length: 12}}
      born: {noise: {days: 30}}
"""

COLUMNS = ("id", "email", "name", "phone", "amount", "note", "code", "born", "kept")

FIELD = st.one_of(
    st.just("\\N"),
    st.text(alphabet="ab Z9-.@é\\", min_size=0, max_size=12).map(lambda v: v.replace("\\", "\\\\")),
    st.sampled_from(["a\\tb", "x\\ny", "\\101\\x41", "q\\\\"]),
)


def _row(draw: st.DrawFn, i: int) -> str:
    fields = [str(i)] + [draw(FIELD) for _ in COLUMNS[1:4]]
    fields.append(draw(st.sampled_from(["12.50", "7", "-3", "\\N", "1e3", "0.001"])))
    fields += [draw(FIELD), draw(FIELD), draw(st.sampled_from(["2020-01-31", "\\N"]))]
    fields.append(draw(FIELD))
    return "\t".join(fields)


@st.composite
def dumps(draw: st.DrawFn) -> str:
    rows = [_row(draw, i) for i in range(draw(st.integers(0, 30)))]
    odd = draw(st.sampled_from(["", "crlf", "continued", "short"]))
    lines = [row + "\n" for row in rows]
    if lines and odd == "crlf":
        lines[-1] = lines[-1][:-1] + "\r\n"
    elif lines and odd == "continued":
        lines[0] = lines[0][:-1] + "\\\nmore\n"
    header = f"COPY public.people ({', '.join(COLUMNS)}) FROM stdin;\n"
    return header + "".join(lines) + "\\.\n\nSELECT 1;\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(dumps())
def test_a_dump_sanitized_in_c_is_the_dump_sanitized_in_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    compiled, python = _both(tmp_path, text, RULES, monkeypatch)
    assert compiled == python


def test_blocks_of_many_rows_and_a_bad_value_far_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Several blocks of 2,048 rows; then a number noise cannot read, on its line.
    rows = [
        f"{i}\tu{i}@example.com\tAnn {i}\t+1 555 {i:04d}\t{i}.25\tnote {i}\tc{i}\t2020-02-0{i % 9 + 1}\tk"
        for i in range(5000)
    ]
    rows[4321] = rows[4321].replace("4321.25", "lots")
    header = f"COPY public.people ({', '.join(COLUMNS)}) FROM stdin;\n"
    text = header + "".join(r + "\n" for r in rows) + "\\.\n"
    compiled, python = _both(tmp_path, text, RULES, monkeypatch)
    assert compiled == python
    assert compiled[0] == "error" and ":4323: table public.people, column amount" in str(
        compiled[1]
    )
    del rows[4321]
    text = header + "".join(r + "\n" for r in rows) + "\\.\n"
    compiled, python = _both(tmp_path, text, RULES, monkeypatch)
    output = compiled[0]
    assert isinstance(output, bytes) and compiled == python
    assert output.count(b"\n") == len(rows) + 2


def test_the_stream_still_yields_one_line_at_a_time(tmp_path: Path) -> None:
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES, encoding="utf-8")
    header = f"COPY public.people ({', '.join(COLUMNS)}) FROM stdin;\n"
    rows = [f"{i}\ta{i}@b.example\tN\t555\t1.5\tx\ty\t\\N\tk\n" for i in range(3000)]
    lines = [header, *rows, "\\.\n"]
    out = list(sanitize_stream(lines, load_rules(rules_path), SALT))
    assert len(out) == len(lines)
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in out)


def test_a_non_ascii_dump_and_its_hash() -> None:
    # the compiled digest hashes the UTF-8 bytes, as Python's value.encode()
    keyed, python_copy, _ = pair(Hash(length=64))
    for value in ["Zoë", "東京", "🙂 x"]:
        assert keyed(value) == python_copy(value) == keyed.digest(value).hex()
        assert keyed.digest(value) != hashlib.sha256(value.encode()).digest()


# ------------------------------------------------ blocks split for the check

BLOCK_LINE = st.lists(st.text(alphabet="ab é\\\r\t.N", max_size=6), min_size=1, max_size=4).map(
    lambda fields: "\t".join(fields) + "\n"
)


@settings(max_examples=300, deadline=None)
@given(st.lists(BLOCK_LINE, max_size=8), st.integers(2, 4), st.data())
def test_the_compiled_block_split_gives_the_fields_python_gives(
    block: list[str], width: int, data: st.DataObject
) -> None:
    from pytest_ephemeral.data.sanitize._pgdump import _block_columns

    wanted = tuple(data.draw(st.lists(st.integers(0, width - 1), max_size=3)))
    compiled, taken = _fastcopy.columns(block, width, wanted)
    python, whole = _block_columns(block, width, wanted)
    assert 0 <= taken <= len(block)
    if whole:  # Python takes a block whole or not at all
        assert taken == len(block) and compiled == python
    head, head_rows = _block_columns(block[:taken], width, wanted)
    if head_rows:
        assert compiled == head
    elif taken:  # only a raw carriage return inside a field differs
        assert any("\r" in line[:-1] for line in block[:taken])
    if taken < len(block):  # the first line not taken is not a plain row
        assert _block_columns(block[taken : taken + 1], width, wanted)[1] == 0


# -------------------------------------------------------- INSERT statements

INSERT_RULES = """\
default: keep
tables:
  public.people:
    optional: true
    columns:
      email: {hash: {keep_format: true}}
      name: {mask: {keep_last: 2}}
      amount: {noise: {relative: 0.1}}
      note: {fake: text}
  public.gone:
    optional: true
    drop: true
"""

NUMBER = st.sampled_from(["12.5", "7", "-3", "+4", ".5", "1e3", "NULL", "null", "'8'"])
LITERAL = st.one_of(
    st.just("NULL"),
    st.sampled_from(["12.5", "7", "-3", "+4", ".5", "1e3", "true", "null"]),
    st.text(alphabet="ab Z9.@é'", max_size=12).map(lambda v: "'" + v.replace("'", "''") + "'"),
    st.text(alphabet="ab Z9.@é'", max_size=12).map(lambda v: "'" + v.replace("'", "''") + "'"),
    st.text(alphabet="a'-\n$/*", max_size=6).map(lambda v: "'" + v.replace("'", "''") + "'"),
)


@st.composite
def insert_dumps(draw: st.DrawFn) -> str:
    out = []
    for i in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["people"] * 6 + ["cols", "gone", "set", "lead", "two"]))
        values = [str(i), draw(LITERAL), draw(LITERAL), draw(NUMBER), draw(LITERAL)]
        if kind == "set":
            out.append("SET x = 1;\n")
        elif kind == "gone":
            out.append(f"INSERT INTO public.gone (id, x) VALUES ({i}, 'x');\n")
        elif kind == "two":  # two rows in one statement: Python's slow path
            out.append(
                f"INSERT INTO public.people (id, email, name, amount, note) VALUES "
                f"({', '.join(values)}), ({i + 1000}, NULL, 'n', 1, 'x');\n"
            )
        else:
            cols = "(id, email, name, amount, note) "
            if kind == "cols":
                cols = "(id, note, email, name, amount) "
                values = [values[0], values[4], values[1], values[2], values[3]]
            lead = "  " if kind == "lead" else ""
            out.append(f"{lead}INSERT INTO public.people {cols}VALUES ({', '.join(values)});\n")
    return "".join(out)


def _both(
    tmp_path: Path, text: str, rules_text: str, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[object, object]]:
    from pytest_ephemeral.data.sanitize import check_leaks_files

    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(rules_text, encoding="utf-8")
    rules = load_rules(rules_path)
    dump = tmp_path / "in.sql"
    dump.write_text(text, encoding="utf-8")
    results: list[tuple[object, object]] = []
    for mode in ("compiled", "python"):
        if mode == "python":
            monkeypatch.setenv("EPH_SANITIZER", "python")
        out = tmp_path / f"{mode}.sql"
        try:
            sanitize_file(dump, out, rules, salt=SALT, fmt="pgdump")
            leaks = check_leaks_files(dump, dump, rules, SALT, fmt="pgdump")
            results.append((out.read_bytes(), leaks))
        except DataError as exc:
            results.append(("error", str(exc)))
        monkeypatch.delenv("EPH_SANITIZER", raising=False)
    return results


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(insert_dumps())
def test_inserts_sanitized_in_c_are_inserts_sanitized_in_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    compiled, python = _both(tmp_path, text, INSERT_RULES, monkeypatch)
    assert compiled == python
    assert compiled[0] != "error", compiled  # nothing bad in these dumps


def test_a_long_run_of_inserts_goes_in_batches_with_lines_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        f"INSERT INTO public.people (id, email, name, amount, note) VALUES "
        f"({i}, 'u{i}@example.com', 'Ann', {i}.5, 'line one\nline two');\n"
        for i in range(5000)
    ]
    bad = rows[4321].replace("4321.5", "'lots'")
    text = "".join(rows[:4321]) + bad + "".join(rows[4322:])
    compiled, python = _both(tmp_path, text, INSERT_RULES, monkeypatch)
    assert compiled == python
    # each row is two lines: the bad row starts on line 2 * 4321 + 1
    assert compiled[0] == "error" and ":8643: table public.people, column amount" in str(compiled)
    compiled, python = _both(tmp_path, "".join(rows), INSERT_RULES, monkeypatch)
    assert compiled == python
    output = compiled[0]
    assert isinstance(output, bytes), compiled
    assert output.count(b"INSERT INTO") == 5000


@pytest.mark.parametrize(
    ("odd", "plain"),
    [("\\.\n", 2), ("a\tb\r\n", 2), ("a\\\tb\n", 2), ("a\tb\\\n", 2), ("ab\n", 2), ("a\tb", 2)],
)
def test_the_plain_rows_before_an_odd_line_are_taken(odd: str, plain: int) -> None:
    lines = ["1\tx\n", "2\ty\n", odd, "3\tz\n"]
    assert _fastcopy.copy_rows(lines, 2, (None, None)) == ("1\tx\n2\ty\n", plain)
    assert _fastcopy.columns(lines, 2, (1,)) == ((["x", "y"],), plain)
    assert _fastcopy.copy_rows([], 2, (None, None)) == ("", 0)
    assert _fastcopy.copy_rows(lines[2:], 2, (None, None)) == ("", 0)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(TRANSFORMS), st.lists(VALUES, min_size=1, max_size=40), st.randoms())
def test_values_that_come_again_get_the_same_replacement(
    transform: Transform, values: list[str], rnd: random.Random
) -> None:
    # One transformation for many values, each several times in any order:
    # what the compiled cache of recent replacements gives back is Python's.
    keyed, _copy, python_value = pair(transform)
    again = values * 3
    rnd.shuffle(again)
    for value in again:
        assert outcome(keyed.value, value) == outcome(python_value, value)
    # and past the point where a cache that misses too often turns itself off
    for i in range(5000):
        value = f"{i % 7}-{i}"
        assert outcome(keyed.value, value) == outcome(python_value, value)
