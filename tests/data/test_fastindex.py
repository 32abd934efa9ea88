"""The compiled index of originals (``_fastindex.c``) against the Python one.

The two must give the same findings for every text: the Python index is the
reference (its behaviour is what test_sanitize_text.py pins down), the
compiled one is checked against it on generated originals and texts built
to hit the corners of the tokenizer and of the digit runs (e-mail addresses
next to words, brackets and separators around digit groups, sentence starts,
capitals, the international prefix 00, texts that are not ASCII).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ephemeral.data.sanitize import _leaks
from pytest_ephemeral.data.sanitize._leaks import OriginalIndex
from pytest_ephemeral.data.sanitize._rules import Rules

pytestmark = pytest.mark.skipif(
    not _leaks.COMPILED and os.environ.get("EPH_REQUIRE_COMPILED") != "1",
    reason="the compiled index is not built (no C compiler at install)",
)


def rules() -> Rules:
    return Rules(path=Path("r.yaml"), default="keep")


def write_rules(tmp_path: Path, table: str, columns: dict[str, str]) -> Path:
    """A rules file keeping everything but these columns of one table."""
    path = tmp_path / "rules.yaml"
    lines = ["default: keep", "tables:", f"  {table}:", "    columns:"]
    lines += [f"      {column}: {rule}" for column, rule in columns.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_compiled_index_is_built_where_the_tests_run() -> None:
    # scripts/run-tests sets EPH_REQUIRE_COMPILED=1: there, a build that
    # silently fell back to Python fails here instead of being skipped.
    assert _leaks.COMPILED, "the compiled index is not built: pip install -e . with gcc at hand"


@pytest.mark.parametrize(
    ("length", "expected"),
    [(0, 0x726FDB47DD0E0E31), (8, 0x93F5F5799A932462), (15, 0xA129CA6149BE45E5)],
)
def test_siphash_gives_the_vectors_of_its_paper(length: int, expected: int) -> None:
    from pytest_ephemeral.data.sanitize import _fastindex

    assert _fastindex.siphash(bytes(range(16)), bytes(range(length))) == expected


ORIGINALS = {
    "t.first": ["Anna", "Green", "jdoe42", "Müller", "Zoë"],
    "t.email": ["anna.meyer@corp.example", "x.y@b.com", "Bob_O+tag@sub.mail.example.org"],
    "t.phone": ["+49 30 1234567", "(555) 123-4567", "0049-30-7654321", "123-45-6789"],
    "t.address": ["12 Main Street\nSpringfield", "Rue de la Paix 7, Paris", "Anna Meyer"],
    "t.id": ["AB-7788991", "CUST 00412 993"],
}

# Pieces texts are made of: the originals and ways of writing them, words,
# separators and the characters the tokenizer and digit runs turn on.
# fmt: off
PIECES = [
    *(value for values in ORIGINALS.values() for value in values),
    "anna", "ANNA", "green", "Green", "main street", "MAIN  STREET", "meyer",
    "ANNA.MEYER@CORP.EXAMPLE", "x.y@b.com1", "x.y@b.c", "@b.com", "a@b", "mail.example.org",
    "+49-30-1234567", "49 30 1234567", "4930 1234567", "+(49) 30 1234567", "00 49 30 1234567",
    "0049301234567", "555.123.4567", "5551234567x", "_5551234567", "1234567@", ".1234567",
    "30/1234567", "(30)1234567", "30(1234567", "30) 1234567", "30 (1234567)",
    "CUST-00412-993", "0041299 3",
    "müller", "MÜLLER", "Zoë", "straße", "\u00a0", "\u2013", "rue de la paix 7",
    "the", "a", "and", "items", "42", "7", "2024-01-02", "12:30",
    " ", " ", " ", ", ", ". ", "! ", "? ", "; ", ": ", "\n", "\t", "-", "+", "(", ")", "/",
    ".", "@", "_", "%", "'", '"',
]
# fmt: on

texts = st.lists(st.sampled_from(PIECES), min_size=1, max_size=14).map("".join)


def build(compiled: bool) -> OriginalIndex:
    index = OriginalIndex(rules(), key=b"k" * 32, compiled=compiled)
    for source, values in ORIGINALS.items():
        for value in values:
            index.add(source, value)
    return index


PYTHON = build(False)
COMPILED = build(True) if _leaks.COMPILED else None


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_the_compiled_index_finds_what_the_python_one_finds(text: str) -> None:
    assert COMPILED is not None
    assert COMPILED.sources_in(text) == PYTHON.sources_in(text), repr(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("call Anna today", {"t.first"}),
        ("Anna called", {"t.first"}),  # a name, not a common word: found at a sentence start too
        ("Green is ok. green is not", set()),
        ("says Green twice", {"t.first"}),
        ("mail ANNA.MEYER@CORP.EXAMPLE now", {"t.email"}),
        ("mail x.y@b.com1 now", {"t.email"}),  # the address ends where its domain's letters do
        ("ring 0049 30 1234567!", {"t.phone"}),
        ("ring +49-30-1234567x", set()),  # glued to a word: not a run
        ("ring 49 30(1234567", {"t.phone"}),  # a bracket without a blank before it
        ("ring 49 30) 1234567", {"t.phone"}),
        ("at 12, MAIN street", {"t.address"}),
        ("see CUST-00412-993", {"t.id"}),
        ("Grüße an Müller", {"t.first"}),  # not ASCII: the Python search, the compiled hashes
        ("nothing here 2024-01-02", set()),
    ],
)
def test_both_indexes_on_known_texts(text: str, found: set[str]) -> None:
    assert PYTHON.sources_in(text) == found
    assert COMPILED is not None
    assert COMPILED.sources_in(text) == found


def test_the_compiled_state_crosses_to_another_process_and_back() -> None:
    assert COMPILED is not None
    again = OriginalIndex.restore(rules(), COMPILED.export())
    assert len(again) == len(COMPILED)
    for text in ("call Anna today", "ring 0049 30 1234567!", "x.y@b.com", "12 main street"):
        assert again.sources_in(text) == COMPILED.sources_in(text) != set()
    assert "anna.meyer@corp.example" in again


def test_the_environment_can_ask_for_the_python_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPH_LEAK_INDEX", "python")
    assert OriginalIndex(rules())._core is None
    monkeypatch.delenv("EPH_LEAK_INDEX")
    assert OriginalIndex(rules())._core is not None


def test_a_long_run_of_address_characters_is_read_in_linear_time() -> None:
    # No quadratic rescans of a run of e-mail characters without an '@'
    # (would take minutes at this size).
    assert COMPILED is not None
    text = "a." * 400_000 + " Anna"
    assert COMPILED.sources_in("x " + text) == {"t.first"}
    digits = "1-" * 400_000 + "x"
    assert COMPILED.sources_in(digits) == set()


# fmt: off
VALUE_PIECES = [
    "Anna", "anna", "Green", "The", "green", "jdoe42", "Zoë", "x.y@b.com", "X.Y@B.COM", "a@b",
    "@", "b.co", ".x", "12", "00", "0049", "1234567", "Main", "Street", "Rue", "de", "la",
    " ", "  ", "+", "-", ".", "/", "(", ")", "\t", "\n", "\r\n", "\r", ", ", "; ", ",", ";",
    "\x0b", "\x1c", "\x00", "_", "%", "'", "a", "ab",
]
# fmt: on
values = st.lists(st.sampled_from(VALUE_PIECES), min_size=1, max_size=12).map("".join)


@settings(max_examples=3000, deadline=None)
@given(values)
def test_the_compiled_keys_of_an_original_are_those_of_text(value: str) -> None:
    from pytest_ephemeral.data.sanitize import _fastindex
    from pytest_ephemeral.data.sanitize._text import original_keys

    keys = _fastindex.keys_of(value)
    if value.isascii():
        assert keys == original_keys(value), repr(value)
    else:
        assert keys is None, "left to the Python code"


def test_a_long_original_is_left_to_the_python_code() -> None:
    from pytest_ephemeral.data.sanitize import _fastindex

    assert _fastindex.keys_of("word " * 200) is None
    assert _fastindex.keys_of("word " * 100) == ["~" + " ".join(["word"] * 12)]


def test_originals_collected_a_block_at_a_time_are_those_of_python(tmp_path: Path) -> None:
    from pytest_ephemeral.data.sanitize import collect_originals, load_rules

    rules_file = write_rules(
        tmp_path,
        "public.people",
        {
            "name": "{fake: first_name}",
            "note": "{fake: text}",
            "flag": "{fixed: 'REDACTED'}",
            "city": "{fixed: 'Springfield'}",
        },
    )
    rows = [
        ("Anna", "call +49 30 1234567\\nor write", "REDACTED", "Springfield"),
        ("Zoë", "12 Main Street\\tSpringfield", "x", "Springfield"),
        ("  Bob ", "a\\\\b", "\\N", "Paris"),
        ("\\N", "Grüße, Müller; 55 Rue de la Paix", "ok", "Springfield"),
        ("Green", "word " * 200, "flag", "Springfield"),
        ("Anna", "x.y@b.com", "\\101BC", "Springfield"),
    ]
    dump = tmp_path / "prod.sql"
    dump.write_text(
        "COPY public.people (name, note, flag, city) FROM stdin;\n"
        + "".join("\t".join(row) + "\n" for row in rows * 3000)
        + "\\.\n",
        encoding="utf-8",
    )
    rules = load_rules(rules_file)
    python = collect_originals(dump, rules, salt=b"s" * 16)
    os.environ["EPH_LEAK_INDEX"] = "python"
    try:
        python = collect_originals(dump, rules, salt=b"s" * 16)
    finally:
        del os.environ["EPH_LEAK_INDEX"]
    compiled = collect_originals(dump, rules, salt=b"s" * 16)
    assert python._core is None and compiled._core is not None
    assert len(compiled) == len(python), (len(compiled), len(python))
    for text in [
        "ring 0049 30 1234567 now",
        "Hi Anna!",
        "said Green",
        "12 main street",
        "or write",
        "55 rue de la paix",
        "Müller",
        "x.y@B.COM",
        "a\\b",
        "ABC",
        "ab",
        "REDACTED",
        "Springfield",
        "flag",
        "word " * 12,
    ]:
        assert compiled.sources_in(text) == python.sources_in(text), text
    assert compiled.sources_in("please CALL +49 30 1234567") == {"public.people.note"}
    assert compiled.sources_in("Grüße Müller, 55 RUE de la Paix!") == {"public.people.note"}, (
        "not ASCII"
    )
    assert compiled.sources_in("REDACTED") == set(), "a fixed: value is no original"


def test_the_leak_check_of_a_dump_finds_the_same_compiled_and_in_python(tmp_path: Path) -> None:
    # Searched a block of COPY fields at a time by the compiled index, or
    # value by value in Python: the same leaks, counted the same.
    from pytest_ephemeral.data.sanitize import check_leaks_files, load_rules

    rules_file = write_rules(
        tmp_path,
        "public.users",
        {
            "email": "{fake: email}",
            "name": "{fake: first_name}",
            "phone": "{fake: phone}",
            "code": "{fixed: 'N/A'}",
        },
    )
    users = [
        ("anna.meyer@corp.example", "Anna", "+49 30 1234567", "AB-7788991"),
        ("zoe@corp.example", "Zoë", "(555) 123-4567", "N/A"),
        ("bob@corp.example", "Green", "0049-30-7654321", "\\N"),
    ]
    notes = [
        "\\N",
        "call Anna at 0049 30 1234567",  # two originals inside
        "ANNA.MEYER@CORP.EXAMPLE",  # one whole address, otherwise written
        "anna.meyer@corp.example",  # whole
        "mail zoe@corp.example\\tor Zoë",  # an escape, not ASCII
        "Green is fine. green too",  # a common word at a sentence start only
        "said Green",
        "5551234567",  # plain digits
        "2024-01-02",
        "N/A",
        "ticket AB-7788991 closed",
        "x" * 70_000 + " Anna",  # longer than a chunk: the Python code
        "reach me at 203.0.113.9",  # no original; the detection
        "nothing at all",
    ]
    original = tmp_path / "prod.sql"
    sanitized = tmp_path / "safe.sql"
    lines = ["COPY public.users (email, name, phone, code) FROM stdin;\n"]
    lines += ["\t".join(user) + "\n" for user in users]
    lines += ["\\.\n", "COPY public.notes (id, body) FROM stdin;\n"]
    # distinct clean values beyond the clean cache, then the notes repeated
    lines += [f"{i}\tplain words {i}\n" for i in range(9000)]
    lines += [f"{i}\t{note}\n" for i, note in enumerate(notes * 300)]
    lines += ["\\.\n"]
    original.write_text("".join(lines), encoding="utf-8")
    sanitized.write_text("".join(lines[len(users) + 2 :]), encoding="utf-8")
    rules = load_rules(rules_file)

    def check() -> list[object]:
        return list(check_leaks_files(original, sanitized, rules, b"s" * 16, fmt="pgdump"))

    compiled = check()
    os.environ["EPH_LEAK_INDEX"] = "python"
    try:
        python = check()
    finally:
        del os.environ["EPH_LEAK_INDEX"]
    assert compiled == python
    assert [str(leak) for leak in compiled] == [
        "2400 original values of public.users.code, public.users.email, public.users.name, "
        "public.users.phone found in public.notes.body",
        "300 values in kept column public.notes.body look like personal data (IP address)",
    ]


# fmt: off
DETECT_PIECES = [
    "DE44", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "ABCD", "EFGH", "1234",
    "123-45-6789", "AB 12 34 56 C", "X1234567L", "12345678Z", "RSSMRA85T10A562S",
    "4111 1111 1111 1111", "4111-1111-1111-1111", "+49 30 1234567", "(555) 123-4567",
    "555.123.4567", "203.0.113.9", "10.0.0", "2001:db8::1", "::", "x@y.org", "@",
    "1", "12", "123", ".", "-", " ", "+", "(", ")", "A", "Z", "ab", "the", "items",
    "4111111111111111", "+491701234567", "5555555555554444", "1234567890123", "e5", "00",
]
# fmt: on
detect_texts = st.lists(st.sampled_from(DETECT_PIECES), min_size=1, max_size=8).map("".join)


@settings(max_examples=3000, deadline=None)
@given(detect_texts)
def test_a_text_the_prefilter_passes_over_holds_nothing_the_detection_finds(text: str) -> None:
    from pytest_ephemeral.data.sanitize import _fastindex
    from pytest_ephemeral.data.sanitize._text import detect

    if not _fastindex.may_detect(text):
        assert detect(text) is None, repr(text)


@pytest.mark.parametrize(
    "text",
    [
        *("DE44ABCDEFGHIJKLMN", "a@b", "::", "1.2.3.4", "id 123456", "see DE44 now"),
        *("4111111111111111", "+491701234567"),  # a card, a phone number: plain, but may be
    ],
)
def test_the_prefilter_passes_what_may_be_personal(text: str) -> None:
    from pytest_ephemeral.data.sanitize import _fastindex

    assert _fastindex.may_detect(text)


@pytest.mark.parametrize(
    "text",
    [
        *("12 items", "1.2.3", "1234 and 5", "De44", "version 1.2"),
        *("123456", "2024-01-31 10:00:00+00", "12345678.5"),  # ids, timestamps, amounts
    ],
)
def test_the_prefilter_dismisses_plain_text(text: str) -> None:
    from pytest_ephemeral.data.sanitize import _fastindex

    assert not _fastindex.may_detect(text)


INSERT_DUMP = """\
INSERT INTO public.users (email, name) VALUES ('anna.meyer@corp.example', 'Anna');
INSERT INTO public.users (email, name) VALUES ('a\\\\b@x.org', NULL);
INSERT INTO public.notes (id, body) VALUES (1, 'mail ANNA.MEYER@CORP.EXAMPLE');
SET search_path = public;
INSERT INTO public.notes (id, body) VALUES (2, 'back\\\\slash a\\\\b@x.org');
INSERT INTO public.notes (id, body) VALUES (3, NULL);
INSERT INTO public.notes (id, body) VALUES (4, 'said Anna'), (5, 'x');
INSERT INTO public.notes (id, body) VALUES (6, 'it''s Anna');
INSERT INTO public.users (email, name) VALUES ('zoe@corp.example', 'Zoey');
INSERT INTO public.notes (id, body) VALUES (7, 'Zoey wrote');
"""
COPY_DUMP = """\
COPY public.users (email, name) FROM stdin;
anna.meyer@corp.example\tAnna
a\\\\b@x.org\t\\\\N
zoe@corp.example\tZoey
\\\\.
COPY public.notes (id, body) FROM stdin;
1\tmail ANNA.MEYER@CORP.EXAMPLE
2\tback\\\\\\\\slash a\\\\\\\\b@x.org
3\t\\\\N
4\tsaid Anna
5\tx
6\tit's Anna
7\tZoey wrote
\\\\.
"""


def test_one_line_inserts_are_checked_a_block_at_a_time_as_copy_is(tmp_path: Path) -> None:
    from pytest_ephemeral.data.sanitize import check_leaks_files, load_rules

    rules_file = write_rules(
        tmp_path, "public.users", {"email": "{fake: email}", "name": "{fake: first_name}"}
    )
    rules = load_rules(rules_file)
    found = {}
    for name, text in (("insert", INSERT_DUMP), ("copy", COPY_DUMP)):
        dump = tmp_path / f"{name}.sql"
        dump.write_text(text.replace("\\\\\\\\", "\\\\").replace("\\\\", "\\"), encoding="utf-8")
        for mode in ("compiled", "python"):
            os.environ["EPH_LEAK_INDEX"] = mode
            try:
                found[(name, mode)] = check_leaks_files(dump, dump, rules, b"s" * 16)
            finally:
                del os.environ["EPH_LEAK_INDEX"]
    assert len(set(map(tuple, found.values()))) == 1, found
    assert [str(leak) for leak in found[("insert", "compiled")]] == [
        "5 original values of public.users.email, public.users.name found in public.notes.body",
        "3 original values of public.users.email found in public.users.email",
    ]


def test_a_value_too_large_in_a_block_of_inserts_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_ephemeral.data.sanitize import check_leaks_files, load_rules
    from pytest_ephemeral.errors import DataError

    monkeypatch.setattr(_leaks, "MAX_TEXT_CHARS", 1 << 17)
    rules_file = write_rules(tmp_path, "public.users", {"name": "{fake: first_name}"})
    dump = tmp_path / "insert.sql"
    lines = ["INSERT INTO public.users (name) VALUES ('Anna');\n"]
    lines += [f"INSERT INTO public.notes (id, body) VALUES ({i}, 'note {i}');\n" for i in range(50)]
    lines += ["INSERT INTO public.notes (id, body) VALUES (50, '" + "x " * 100_000 + "');\n"]
    lines += [f"INSERT INTO public.notes (id, body) VALUES ({i}, 'note');\n" for i in range(51, 60)]
    dump.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as info:
        check_leaks_files(dump, dump, load_rules(rules_file), b"s" * 16)
    assert str(info.value).startswith(
        f"{dump}:52: table public.notes, column body: a value of 0 MiB is too large"
    )


def test_one_line_inserts_reach_a_looking_sink_in_blocks(tmp_path: Path) -> None:
    from pytest_ephemeral.data.sanitize._leaks import _scan_file, _ValueSink

    dump = tmp_path / "insert.sql"
    rows = [
        f"INSERT INTO public.notes (id, body) VALUES ({i}, 'note\\{i}');\n" for i in range(3000)
    ]
    dump.write_text("".join(rows) + "SET x = 1;\n" + rows[0] + rows[1], encoding="utf-8")
    blocks: list[list[str]] = []
    values: list[str | None] = []
    sink = _ValueSink(
        lambda table, column: column == "body",
        lambda table, column: lambda value, times=1: values.append(value),
        lambda table, column: blocks.append,
    )
    _scan_file(dump, sink, "pgdump", None)
    sizes = [len(block) for block in blocks]
    assert sum(sizes) == 3002 and max(sizes) == 2048, sizes  # blocks of rows, not rows
    assert sizes[-1] == 2 or sizes[-2:] == [1, 1], "after SET: the block of the two rows"
    fields = [field for block in blocks for field in block]
    assert "note\\\\0" in fields and "note\\\\1" in fields, "as COPY fields: the backslash escaped"
    assert values == []


# fmt: off
LITERALS = [
    "'a'", "'it''s'", "''", "'x,y)'", "'\n'", "'\u00e9'", "NULL", "null", "true", "false", "1",
    "-2", "+3.5", ".5", "1.", "1e5", "1E-3", "\u0663", "-.5e+2",
    "Null", "TRUE", "1e", "1e+", "x", "now()", "'", "'''", "1.2.3", "+", ".",  # not literals
]
BLANKS = ["", "", " ", "\t", "\n", "\r", "\u00a0", "\u2003", "  "]
ENDS = ["", "\n", "\r\n", " \n", "\t", "\r", " x", "\n\n", "-- c\n"]
# fmt: on
blank = st.sampled_from(BLANKS)
literal = st.tuples(blank, st.sampled_from(LITERALS), blank).map("".join)
rows = st.tuples(
    st.lists(literal, min_size=1, max_size=6).map(",".join),
    blank,
    st.sampled_from(ENDS),
    st.sampled_from(["(", "( ", ""]),
    st.sampled_from([")", ") ", "", ")\n"]),
).map(lambda t: f"{t[3]}{t[0]}{t[4]}{t[1]};{t[2]}")


@settings(max_examples=4000, deadline=None)
@given(rows)
def test_the_compiled_insert_row_reader_agrees_with_the_regular_expressions(row: str) -> None:
    from pytest_ephemeral.data.sanitize import _fastindex, _pgdump

    line = "INSERT INTO t (a) VALUES " + row
    pos = len("INSERT INTO t (a) VALUES ")
    expected = _pgdump._row_literals_re(line, pos)
    assert _fastindex.insert_literals(line, pos) == expected, repr(row)


def test_the_compiled_insert_row_reader_on_known_rows() -> None:
    from pytest_ephemeral.data.sanitize import _fastindex

    row = "(1, 'it''s', NULL,\t-2.5e3 , '\u00e9\n' ) ;  \r\n"
    assert _fastindex.insert_literals(row, 0) == [(1, 2), (4, 11), (13, 17), (19, 25), (28, 32)]
    assert _fastindex.insert_literals("(now());\n", 0) is None
    assert _fastindex.insert_literals("(1);\nmore", 0) is None
    assert _fastindex.insert_literals("(1e);", 0) is None


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789+-.eE:TZ ", max_size=30),
        st.from_regex(
            r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?",
            fullmatch=True,
        ),
        st.from_regex(r"[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]*)?", fullmatch=True),
        st.from_regex(r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]*)?)?", fullmatch=True),
    )
)
def test_the_compiled_plain_is_the_python_plain(text: str) -> None:
    from pytest_ephemeral.data.sanitize import _fastindex
    from pytest_ephemeral.data.sanitize._text import PLAIN

    assert _fastindex.plain(text) == (PLAIN.fullmatch(text) is not None)


def _copy_field(value: str) -> str:
    from pytest_ephemeral.data.sanitize._pgdump import copy_encode

    return copy_encode(value)


FIELDS = st.one_of(
    texts.map(_copy_field),
    st.just("\\N"),
    st.sampled_from(["\\101nna", "a\\x41", "x\\\\y", "tab\\there", "é\\n", "1234567", "anna"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(FIELDS, min_size=3, max_size=3), min_size=1, max_size=30),
    st.integers(0, 2),
    st.booleans(),
    st.booleans(),
)
def test_a_column_read_in_place_gives_what_its_fields_give(
    rows: list[list[str]], at: int, in_text: bool, detecting: bool
) -> None:
    """look_rows() on the lines of a block is look() on the column's fields:
    the same hits, the same values back to Python, the same counts."""
    from collections import Counter

    from pytest_ephemeral.data.sanitize._pgdump import copy_decode

    assert COMPILED is not None and COMPILED._core is not None
    core = COMPILED._core
    lines = ["\t".join(row) + "\n" for row in rows]
    fields = [row[at] for row in rows]
    skip: frozenset[str] = frozenset({"anna"})

    Result = tuple[list[tuple[set[int], int]], list[tuple[str, int]], list[tuple[str, int]], int]

    def normal(result: Result) -> tuple[object, ...]:
        found, rest, left, hits = result
        return (
            Counter((frozenset(tags), times) for tags, times in found),
            Counter(rest),
            Counter(left),
            hits,
        )

    by_fields = core.look(fields, skip, copy_decode, in_text, detecting, None, 40)
    in_place = core.look_rows(lines, 3, at, skip, copy_decode, in_text, detecting, None, 40)
    assert normal(in_place) == normal(by_fields)
    # The cache of values the detection found nothing in (as the caller keeps it).
    clean = {value for value, _times in by_fields[1]}
    by_fields = core.look(fields, skip, copy_decode, in_text, detecting, clean, 40)
    in_place = core.look_rows(lines, 3, at, skip, copy_decode, in_text, detecting, clean, 40)
    assert normal(in_place) == normal(by_fields)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(FIELDS, min_size=2, max_size=2), min_size=1, max_size=30), st.booleans())
def test_a_column_collected_in_place_is_the_column_collected_from_its_fields(
    rows: list[list[str]], in_text: bool
) -> None:
    from pytest_ephemeral.data.sanitize._pgdump import copy_decode

    lines = ["\t".join(row) + "\n" for row in rows]
    skip: frozenset[str] = frozenset({"anna"})
    by_fields = OriginalIndex(rules(), key=b"k" * 32, in_text=in_text)
    in_place = OriginalIndex(rules(), key=b"k" * 32, in_text=in_text)
    assert by_fields._core is not None and in_place._core is not None
    later_fields: list[str] = []
    later_rows: list[str] = []
    added = by_fields._core.collect(
        0, [row[1] for row in rows], skip, in_text, copy_decode, later_fields
    )
    assert (
        in_place._core.collect_rows(0, lines, 2, 1, skip, in_text, copy_decode, later_rows) == added
    )
    assert later_rows == later_fields
    assert in_place._core.export() == by_fields._core.export()
