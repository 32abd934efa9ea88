"""Free text: originals inside longer values, and values that look like personal data."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_ephemeral.data.sanitize import (
    Leak,
    LeakError,
    OriginalIndex,
    Rules,
    _leaks,
    check_leaks,
    check_leaks_files,
    collect_originals,
    raise_for_leaks,
    sanitize_file,
)
from pytest_ephemeral.data.sanitize._text import detect, digit_runs, original_key
from pytest_ephemeral.data.sanitize._words import LAST_NAMES, WORDS
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
      last_name: {fake: last_name}
      phone: {fake: phone}
      address: {fake: address}
"""

USERS = (
    "COPY public.users (id, email, first_name, last_name, phone, address) FROM stdin;\n"
    "1\tanna.meyer@corp.example\tAnna\tMeyer\t+49 30 1234567\t12 Main Street\\n12345 Springfield\n"
    "2\tbob.stone@corp.example\tRoberta\tStone\t(555) 123-4567\t7 Oak Road\n"
    "\\.\n"
)


def dump(notes: list[str]) -> str:
    rows = "".join(f"{i}\t{note}\n" for i, note in enumerate(notes, 1))
    return USERS + f"COPY public.tickets (id, note) FROM stdin;\n{rows}\\.\n"


def run(make_rules: MakeRules, tmp_path: Path, notes: list[str], rules: str = RULES) -> list[Leak]:
    loaded = make_rules(rules)
    original = tmp_path / "prod.sql"
    original.write_text(dump(notes), encoding="utf-8")
    safe = tmp_path / "safe.sql"
    sanitize_file(original, safe, loaded, salt=SALT)
    return check_leaks_files(original, safe, loaded, SALT)


PLANTED = [
    "Customer Anna called twice about her parcel.",  # a first name in a sentence
    "please write to ANNA.MEYER@corp.example, not the old address",  # e-mail, other case
    "call back on +49-30-1234567 before noon",  # phone, other separators
    "phone 0049 30 1234567 (mobile)",  # phone, 00 instead of +
    "ships to 12 main street, 12345 Springfield",  # address as a token sequence
    "Roberta Stone asked for a refund",  # first and last name
    "Ring 555.123.4567 after 5",  # the other user's phone, dotted
    "parcel for 7 oak road: leave it",  # the other user's address
    "deliver to 12 Main Street (side door)",  # the street line of a two-line address
]


def test_planted_originals_are_found_inside_text(make_rules: MakeRules, tmp_path: Path) -> None:
    leaks = run(make_rules, tmp_path, [*PLANTED, "fragile, handle with care"])
    assert leaks == [
        Leak(
            "public.tickets",
            "note",
            len(PLANTED),
            (
                "public.users.address",
                "public.users.email",
                "public.users.first_name",
                "public.users.last_name",
                "public.users.phone",
            ),
        )
    ]
    with pytest.raises(LeakError) as info:
        raise_for_leaks(leaks, where="safe.sql")
    message = str(info.value)
    assert f"{len(PLANTED)} original values survived" in message
    for secret in ("Anna", "anna.meyer", "1234567", "Main", "Roberta", "Stone"):
        assert secret not in message


def test_each_planted_value_on_its_own(make_rules: MakeRules, tmp_path: Path) -> None:
    for i, note in enumerate(PLANTED):
        place = tmp_path / str(i)
        place.mkdir()
        leaks = run(make_rules, place, [note])
        assert [leak.count for leak in leaks] == [1], note


@pytest.mark.parametrize(
    "note",
    [
        "anna will call",  # lower case: a word, not the name
        "Annabel called",  # a longer word
        "the order 12 ships to Springfield",  # a word of the address only
        "12 Main",  # less than a line of the address
        "reference 301234",  # digits that are only part of a phone number
        "call 1234567",  # the subscriber number without the area code
        "anna.meyer@corp.example.org is someone else",  # a longer address
        "Main street is closed",  # one word of the address
    ],
)
def test_near_misses_are_not_leaks(make_rules: MakeRules, tmp_path: Path, note: str) -> None:
    assert [leak for leak in run(make_rules, tmp_path, [note]) if not leak.detected] == []


_WORDS = [w for w in WORDS if w.islower()]


def plain_sentences(count: int, seed: int = 3) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        words = [rnd.choice(_WORDS) for _ in range(rnd.randint(5, 14))]
        words[0] = words[0].capitalize()
        number = f" {rnd.randint(1, 99)} items" if rnd.random() < 0.3 else ""
        out.append(" ".join(words) + number + ".")
    return out


def test_no_false_alarms_on_plain_sentences(make_rules: MakeRules, tmp_path: Path) -> None:
    assert run(make_rules, tmp_path, plain_sentences(500)) == []


def test_a_name_that_is_a_word_is_found_mid_sentence_only(
    make_rules: MakeRules, tmp_path: Path
) -> None:
    word = next(n for n in LAST_NAMES if n.lower() in WORDS and len(n) >= 4)
    users = USERS.replace("\tStone\t", f"\t{word}\t")
    rules = make_rules(RULES)
    original = tmp_path / "prod.sql"
    original.write_text(users, encoding="utf-8")
    index = collect_originals(original, rules, salt=SALT)
    notes = [
        f"{word} things happen.",  # start of the text
        f"All good. {word} things happen.",  # start of a sentence
        f"the {word.lower()} one",  # a word
        f"Ask {word} about it",  # a name
    ]
    leaks = check_leaks(index, [("public.tickets", "note", n) for n in notes])
    assert [(leak.count, leak.sources) for leak in leaks] == [(1, ("public.users.last_name",))]


def test_in_text_can_be_turned_off(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules(RULES)
    original = tmp_path / "prod.sql"
    original.write_text(dump(PLANTED[:1]), encoding="utf-8")
    index = collect_originals(original, rules, salt=SALT)
    seen = [("public.tickets", "note", PLANTED[0])]
    assert check_leaks(index, seen, in_text=False) == []
    assert [leak.count for leak in check_leaks(index, seen)] == [1]


def test_keys_and_digit_runs() -> None:
    assert original_key("Anna") == "=anna"
    assert original_key("jdoe42") == "-jdoe42"
    assert original_key("Bob") is None, "shorter than 4"
    assert original_key("+49 (30) 123-4567") == "#49301234567"
    assert original_key("1234") is None, "too few digits"
    assert original_key("10:30:00") is None
    assert original_key("12 Main St") == "~12 main st"
    assert list(digit_runs("no digits")) == []
    assert "4930123456" in list(digit_runs("call +49 30 123456 now"))


def test_a_long_text_is_searched_in_pieces(make_rules: MakeRules, tmp_path: Path) -> None:
    filler = " ".join(plain_sentences(4000))
    assert len(filler) > 3 * (1 << 16)
    note = filler + " Finally: write to anna.meyer@corp.example."
    leaks = run(make_rules, tmp_path, [note, filler])
    assert [(leak.count, leak.sources) for leak in leaks] == [(1, ("public.users.email",))]


def test_a_value_too_large_to_tokenise_is_one_line(
    make_rules: MakeRules, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_leaks, "MAX_TEXT_CHARS", 1 << 20)
    with pytest.raises(DataError) as info:
        run(make_rules, tmp_path, ["ok", "word " * 300_000])
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'safe.sql'}:7: table public.tickets, column note:")
    assert "too large to search" in message and "give the column a transformation" in message
    assert "\n" not in message


# ----------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail me: someone@example.org", "e-mail address"),
        ("call +44 20 7946 0958", "phone number"),
        ("(555) 867-5309", "phone number"),
        ("SSN 123-45-6789", "national id"),
        ("NI number AB 12 34 56 C", "national id"),
        ("DNI 12345678Z", "national id"),
        ("card 4111 1111 1111 1111 exp 12/29", "payment card number"),
        ("5500-0000-0000-0004", "payment card number"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN"),
        ("GB82WEST12345698765432", "IBAN"),
        ("login from 203.0.113.7", "IP address"),
        ("from 2001:db8::8a2e:370:7334", "IP address"),
    ],
)
def test_detect_finds_personal_data(text: str, kind: str) -> None:
    assert detect(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # fails Luhn
        "IBAN DE00 3704 0044 0532 0130 00",  # wrong check digits
        "SSN 000-12-3456",  # never issued
        "DNI 12345678A",  # wrong letter
        "2023-05-01 10:00:00+00",
        "paid 45.50 for 3 items",
        "meeting at 10:30",
        "order 1234567",
        "127.0.0.1",
        "999.1.1.1",
    ],
)
def test_detect_ignores_look_alikes(text: str) -> None:
    assert detect(text) is None


def test_no_detection_on_plain_sentences() -> None:
    assert [s for s in plain_sentences(2000) if detect(s)] == []


DETECT_DUMP = (
    "COPY public.tickets (id, note, ip, status) FROM stdin;\n"
    "1\tcustomer wrote from x.y@example.org\t203.0.113.7\topen\n"
    "2\tcall +44 20 7946 0958\t203.0.113.8\tclosed\n"
    "3\tall fine\t\\N\topen\n"
    "\\.\n"
)


def detect_files(tmp_path: Path, rules: Rules) -> list[Leak]:
    original = tmp_path / "prod.sql"
    original.write_text(DETECT_DUMP, encoding="utf-8")
    safe = tmp_path / "safe.sql"
    sanitize_file(original, safe, rules, salt=SALT)
    return check_leaks_files(original, safe, rules, SALT)


def test_kept_columns_that_look_personal_are_reported(
    make_rules: MakeRules, tmp_path: Path
) -> None:
    leaks = detect_files(tmp_path, make_rules("default: keep\n"))
    assert leaks == [
        Leak("public.tickets", "ip", 2, (), ("IP address",)),
        Leak("public.tickets", "note", 2, (), ("e-mail address", "phone number")),
    ]
    with pytest.raises(LeakError) as info:
        raise_for_leaks(leaks, where="safe.sql")
    message = str(info.value)
    assert "4 values of kept columns look like personal data" in message
    assert "2 values in kept column public.tickets.note look like personal data" in message
    assert "leak_check: reviewed" in message
    assert "x.y@" not in message and "203.0" not in message and "7946" not in message


def test_a_reviewed_column_is_accepted(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules(
        """\
        default: keep
        tables:
          public.tickets:
            columns:
              note: {keep: true, leak_check: reviewed, reason: "test addresses only"}
              ip: {fake: ipv4}
        """
    )
    assert rules.tables["public.tickets"].columns["note"].reason == "test addresses only"
    assert detect_files(tmp_path, rules) == []


def test_detection_is_off_for_live_values_unless_asked() -> None:
    index = OriginalIndex(Rules(path=Path("r.yaml"), default="keep"))
    seen = [("t", "c", "x.y@example.org")]
    assert check_leaks(index, seen) == []
    assert check_leaks(index, seen, detect=True) == [Leak("t", "c", 1, (), ("e-mail address",))]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (
            "{keep: true, leak_check: reviewed}",
            ":5: column public.tickets.note says leak_check: reviewed but gives no reason; "
            "add reason:",
        ),
        (
            "{fake: text, leak_check: reviewed, reason: x}",
            ":5: column public.tickets.note: leak_check: reviewed accepts a kept column only",
        ),
        (
            "{keep: true, leak_check: maybe}",
            ":5: leak_check of column public.tickets.note must be true, false or reviewed, "
            "not 'maybe'",
        ),
        ("{keep: true, reason: ''}", ":5: reason of column public.tickets.note is empty"),
    ],
)
def test_bad_reviewed_rules_are_one_line(make_rules: MakeRules, column: str, message: str) -> None:
    with pytest.raises(DataError) as info:
        make_rules(
            f"""\
            default: keep
            tables:
              public.tickets:
                columns:
                  note: {column}
            """
        )
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_text_that_is_not_utf8_names_table_and_column(
    tmp_path: Path, make_rules: MakeRules
) -> None:
    original = tmp_path / "prod.sql"
    original.write_bytes(
        b"COPY public.tickets (id, note, status) FROM stdin;\n1\tok\topen\n2\tna\xefve\topen\n\\.\n"
    )
    with pytest.raises(DataError) as info:
        sanitize_file(original, tmp_path / "safe.sql", make_rules(RULES), salt=SALT)
    assert str(info.value).startswith(
        f"{original}:3: not valid UTF-8 (byte 0xef) in table public.tickets, column note; "
        "convert the file to UTF-8"
    )


def test_csv_text_that_is_not_utf8_names_the_column(tmp_path: Path, make_rules: MakeRules) -> None:
    original = tmp_path / "tickets.csv"
    original.write_bytes(b'id,note,status\n1,ok,open\n2,"na\xefve, really",open\n')
    with pytest.raises(DataError) as info:
        sanitize_file(original, tmp_path / "safe.csv", make_rules(RULES), salt=SALT)
    assert str(info.value).startswith(
        f"{original}:3: not valid UTF-8 (byte 0xef) in table tickets, column note;"
    )


def test_a_live_value_too_large_to_tokenise_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_leaks, "MAX_TEXT_CHARS", 1 << 20)
    index = OriginalIndex(Rules(path=Path("r.yaml"), default="keep"))
    index.add("t.c", "anna.meyer@corp.example")
    with pytest.raises(DataError) as info:
        check_leaks(index, [("public.audit", "payload", "x " * (1 << 20))])
    assert str(info.value).startswith("table public.audit, column payload: a value of 2 MiB")


def test_a_whole_value_that_is_an_original_written_otherwise() -> None:
    index = OriginalIndex(Rules(path=Path("r.yaml"), default="keep"))
    index.add("t.email", "anna.meyer@corp.example")
    index.add("t.phone", "+49 30 1234567")
    assert index.sources_in("ANNA.Meyer@corp.example") == {"t.email"}
    assert index.sources_in("4930 1234567") == {"t.phone"}, "grouped otherwise: same digits"
    assert index.sources_in("930 1234567") == set(), "part of it"
    assert index.sources_in("+49301234567") == {"t.phone"}
    assert index.sources_in("49-30-1234567") == {"t.phone"}
    assert index.sources_in("other@corp.example") == set()


# fmt: off
_TOKEN_PIECES = [
    "a", "Anna", "x.y", "@", "b.com", ".com", ".c", ".x", "x1", "1", "-", "_", "%", "+", ".",
    " ", "\n", ",", "é", "Zoë", "ü@ö.de", "a@b", "@b.co", "..", "0", "co", "ORG", "!",
]
# fmt: on


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_TOKEN_PIECES), max_size=16).map("".join))
def test_the_linear_tokenizer_finds_the_tokens_of_the_regular_expression(text: str) -> None:
    from pytest_ephemeral.data.sanitize import _text

    assert _text.spans(text) == [m.span() for m in _text._TOKEN.finditer(text)], repr(text)
    assert _text.tokens(text) == _text._TOKEN.findall(text)
    assert _text._between_tokens(text) == _text._TOKEN.sub("", text)


def test_a_long_run_of_address_characters_is_tokenised_in_linear_time() -> None:
    # _TOKEN.finditer takes minutes on this (each position rescans the run).
    from pytest_ephemeral.data.sanitize import _text

    text = "é " + "a." * 200_000 + " anna.meyer@corp.example " + "b-" * 200_000
    found = _text.spans(text)
    assert len(found) == 1 + 200_000 + 1 + 200_000
    assert text[slice(*found[200_001])] == "anna.meyer@corp.example"
    index = OriginalIndex(Rules(path=Path("r.yaml"), default="keep"), compiled=False)
    index.add("t.email", "anna.meyer@corp.example")
    assert index.sources_in(text) == {"t.email"}
