"""The leak check: originals must not survive; hits never show the value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral.data.sanitize import (
    Leak,
    LeakError,
    OriginalIndex,
    Rules,
    check_leaks,
    check_leaks_files,
    collect_originals,
    raise_for_leaks,
    sanitize_file,
)
from pytest_ephemeral.errors import DataError

MakeRules = Callable[[str], Rules]
SALT = b"tests-salt-0123456789abcdef"

RULES = """\
default: keep
tables:
  public.users:
    columns:
      email: {fake: email, unique: true}
      first_name: {fake: first_name}
      phone: {hash: {keep_format: true}}
      pin: {hash: {}}
      role: {fixed: staff}
  public.orders:
    columns:
      customer_email: {fake: email, unique: true}
"""

DUMP = """\
COPY public.users (id, email, first_name, phone, pin, role) FROM stdin;
1\tanna.meyer@corp.example\tAnna\t+49 30 1234567\t123\tadmin
2\tbob.stone@corp.example\tBob\t+49 30 7654321\t9876\tstaff
\\.
COPY public.orders (id, customer_email, note) FROM stdin;
10\tanna.meyer@corp.example\tcall me
11\tbob.stone@corp.example\tfragile
\\.
"""


def files(tmp_path: Path, dump: str = DUMP) -> tuple[Path, Path]:
    original = tmp_path / "prod.sql"
    original.write_text(dump)
    return original, tmp_path / "safe.sql"


def test_a_clean_sanitization_has_no_leaks(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules(RULES)
    original, safe = files(tmp_path)
    sanitize_file(original, safe, rules, salt=SALT)
    assert check_leaks_files(original, safe, rules, SALT) == []


def test_a_planted_original_is_found_and_not_shown(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules(RULES)
    planted = DUMP.replace("\tcall me\n", "\tanna.meyer@corp.example\n").replace(
        "\tfragile\n", "\t+49 30 7654321\n"
    )
    original, safe = files(tmp_path, planted)
    sanitize_file(original, safe, rules, salt=SALT)
    leaks = check_leaks_files(original, safe, rules, SALT)
    assert leaks == [Leak("public.orders", "note", 2, ("public.users.email", "public.users.phone"))]
    with pytest.raises(LeakError) as info:
        raise_for_leaks(leaks, where=str(safe))
    message = str(info.value)
    assert isinstance(info.value, DataError)
    assert info.value.leaks == tuple(leaks)
    assert message.startswith(f"{safe}: leak check failed, 2 original values survived")
    assert "found in public.orders.note" in message
    assert "anna.meyer" not in message and "7654321" not in message
    assert "\n" not in message


def test_a_column_left_unsanitized_by_a_bad_rule_is_found(
    make_rules: MakeRules, tmp_path: Path
) -> None:
    # A column sanitized in one table and forgotten in another leaks.
    forgotten = RULES.replace(
        "      customer_email: {fake: email, unique: true}\n", "      note: keep\n"
    )
    rules = make_rules(forgotten)
    original, safe = files(tmp_path)
    sanitize_file(original, safe, rules, salt=SALT)
    leaks = check_leaks_files(original, safe, rules, SALT)
    assert [(leak.table, leak.column, leak.count) for leak in leaks] == [
        ("public.orders", "customer_email", 2)
    ]


def test_what_is_not_collected_or_searched(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules(RULES)
    original, _ = files(tmp_path)
    index = collect_originals(original, rules)
    assert "anna.meyer@corp.example" in index
    assert "+49 30 1234567" in index
    assert "9876" in index
    assert "123" not in index, "shorter than 4 characters"
    assert "Anna" in index and "Bob" not in index
    assert "admin" in index and "staff" not in index, "fixed values are not originals"
    assert "call me" not in index, "kept columns are not collected"
    assert index.searches("public.orders", "note")
    assert index.searches("public.users", "pin")
    assert not index.searches("public.users", "first_name"), "a real name is a real name"
    assert not index.searches("public.users", "phone"), "same shape as the originals"
    assert not index.searches("public.users", "role")
    assert index.searches("public.anything", "else"), "unknown tables count as kept"


def test_check_leaks_on_values_from_a_database(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules(RULES)
    original, _ = files(tmp_path)
    index = collect_originals(original, rules)
    seen: list[tuple[str, str, object]] = [
        ("public.users", "email", "x.y.0123456789ab@example.com"),
        ("public.users", "first_name", "Anna"),  # a coincidence, not searched
        ("public.audit", "payload", "anna.meyer@corp.example"),
        ("public.audit", "payload", "anna.meyer@corp.example"),
        ("public.audit", "payload", None),
        ("public.audit", "amount", 9876),
        ("public.orders", "customer_email", "bob.stone@corp.example"),
    ]
    leaks = check_leaks(index, seen)
    assert [str(leak) for leak in leaks] == [
        "1 original value of public.users.pin found in public.audit.amount",
        "2 original values of public.users.email found in public.audit.payload",
        "1 original value of public.users.email found in public.orders.customer_email",
    ]


def test_the_index_holds_many_values_as_hashes() -> None:
    rules = Rules(path=Path("r.yaml"))
    index = OriginalIndex(rules, key=b"k" * 32)
    for i in range(20_000):
        index.add("t.c", f"value-{i}")
    assert len(index) == 20_000
    assert all(f"value-{i}" in index for i in range(0, 20_000, 7))
    assert not any(f"other-{i}" in index for i in range(2_000))
    assert index.source_of("value-5") == "t.c"
    # Same key, same hashes: an index can be rebuilt elsewhere to compare.
    again = OriginalIndex(rules, key=b"k" * 32)
    again.add("t.c", "value-5")
    assert again.source_of("value-5") == "t.c"


def test_no_leaks_means_no_error() -> None:
    raise_for_leaks([], where="x")


def test_many_rows_are_checked_a_block_at_a_time_with_exact_counts_and_lines(
    make_rules: MakeRules, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check reads a large COPY a block of rows at a time; the rows a block
    splits badly (escapes, a continued row, CRLF, the end marker and the lines
    after it) are read one by one, and every count stays exact."""
    from pytest_ephemeral.data.sanitize import _leaks

    users = [
        f"{i}\tuser{i}@corp.example\tName\t+49 30 {1000000 + i}\tpin{i}\tstaff\n"
        for i in range(5000)
    ]
    planted = {1, 2047, 2048, 2049, 4095, 4096, 4999}
    notes = []
    for i in range(5000):
        note = f"parcel {i} left at the door"
        if i in planted:
            note = f"write to USER{i}@corp.example please"
        elif i == 100:
            note = "a\\ttab and a\\nnewline"  # escaped: found a block that reads line by line
        elif i == 3000:
            note = "\\N"
        end = "\r\n" if i == 3500 else "\n"
        notes.append(f"{10_000 + i}\tuser{i}@corp.example\t{note}{end}")
    dump = (
        "COPY public.users (id, email, first_name, phone, pin, role) FROM stdin;\n"
        + "".join(users)
        + "\\.\nCOPY public.orders (id, customer_email, note) FROM stdin;\n"
        + "".join(notes)
        + "\\.\nCOPY public.orders (id, customer_email, note) FROM stdin;\n"
        + "1\tuser7@corp.example\tcall user8@corp.example\n\\.\n"
    )
    original, sanitized = files(tmp_path, dump)
    rules = make_rules(RULES)
    sanitize_file(original, sanitized, rules, salt=SALT)
    leaks = check_leaks_files(original, sanitized, rules, SALT)
    assert [(leak.table, leak.column, leak.count, leak.sources) for leak in leaks] == [
        ("public.orders", "note", len(planted) + 1, ("public.users.email",))
    ]
    # a value too large to search, deep in a block: its own line is named
    lines = sanitized.read_text().splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if line.startswith("13000\t"))
    lines[at] = "13000\tx@y.example\t" + "word " * 300_000 + "\n"
    sanitized.write_text("".join(lines))
    monkeypatch.setattr(_leaks, "MAX_TEXT_CHARS", 1 << 20)
    with pytest.raises(DataError) as info:
        check_leaks_files(original, sanitized, rules, SALT)
    assert str(info.value).startswith(
        f"{sanitized}:{at + 1}: table public.orders, column note: a value of"
    )


@pytest.mark.parametrize("engine", ["compiled", "python"])
@pytest.mark.parametrize("form", ["copy", "insert"])
def test_originals_collected_while_sanitizing_are_those_collected_after(
    make_rules: MakeRules, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, form: str
) -> None:
    """``eph sanitize --check`` collects the originals in the sanitizing pass
    (``observer``): the index must find exactly what a separate pass finds,
    through every way a row is read (blocks, escapes, a continued row, CRLF,
    an end marker mid-block, INSERTs of one and of several lines)."""
    if engine == "python":
        monkeypatch.setenv("EPH_SANITIZER", "python")
        monkeypatch.setenv("EPH_LEAK_INDEX", "python")
    rows = []  # blocks of 2,048 rows: the first two read line by line, the third in one go
    for i in range(7000):
        email = f"user{i}@corp.example" if i != 5 else "tab\\tin@corp.example"
        phone = f"+49 30 {1000000 + i}" if i % 7 else f"+49 30\\n{1000000 + i}"
        end = "\r\n" if i == 2500 else "\n"
        rows.append(f"{i}\t{email}\tName{i % 13}\t{phone}\tpin{i}\tstaff{end}")
    if form == "copy":
        dump = (
            "COPY public.users (id, email, first_name, phone, pin, role) FROM stdin;\n"
            + "".join(rows[:1000])
            + rows[1000][:-1]
            + "\\\nsecond line\n"
            + "".join(rows[1001:])
            + "\\.\n"
        )
    else:
        inserts = []
        for i in range(7000):
            phone = f"+49 30 {1000000 + i}" if i % 7 else f"+49 30\n{1000000 + i}"
            inserts.append(
                "INSERT INTO public.users (id, email, first_name, phone, pin, role) VALUES "
                f"({i}, 'user{i}@corp.example', 'Name{i % 13}', '{phone}', 'pin{i}', 'staff');\n"
            )
        dump = "".join(inserts[:1500]) + "SET x = 1;\n" + "".join(inserts[1500:])
    assert len(rows) == 7000
    dump += (
        "COPY public.orders (id, customer_email, note) FROM stdin;\n1\tuser7@corp.example\tx\n\\.\n"
    )
    original, sanitized = files(tmp_path, dump)
    rules = make_rules(RULES)
    during = OriginalIndex(rules, key=b"k" * 32)
    sanitize_file(original, sanitized, rules, salt=SALT, observer=during.collector())
    after = collect_originals(original, rules)
    assert len(during) == len(after) > 7000
    # Checked against the original itself: every collected original is a leak there.
    found_during = check_leaks_files(original, original, rules, originals=during)
    found_after = check_leaks_files(original, original, rules, originals=after)
    assert found_during == found_after
    assert {leak.column for leak in found_during} >= {"email", "pin"}
    # and the sanitized output holds none of them
    assert check_leaks_files(original, sanitized, rules, originals=during) == []
