"""Every transformation: shape of the output, determinism, NULLs, uniqueness."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_ephemeral.data.sanitize import (
    FAKE_KINDS,
    Fake,
    Fixed,
    Hash,
    Mask,
    Noise,
    Null,
    Rules,
    Transform,
)
from pytest_ephemeral.data.sanitize._fakes import luhn_digit
from pytest_ephemeral.data.sanitize._transforms import compile_transform, keyed_digest
from pytest_ephemeral.errors import DataError

SALT = b"tests-salt-0123456789abcdef"
OTHER_SALT = b"another-salt-0123456789abcdef"
MakeRules = Callable[[str], Rules]


def apply(transform: Transform, value: str | None, salt: bytes = SALT) -> str | None:
    compiled = compile_transform(transform, salt)
    assert compiled is not None
    return compiled.on_null if value is None else compiled.fn(value)


def text(transform: Transform, value: str, salt: bytes = SALT) -> str:
    out = apply(transform, value, salt)
    assert isinstance(out, str)
    return out


def test_the_digest_is_hmac_sha256_of_kind_and_value() -> None:
    digest = keyed_digest(SALT, "fake:email")
    value = "anna@corp.example"
    expected = hmac.new(SALT, b"fake:email\x00" + value.encode(), hashlib.sha256).digest()
    assert digest(value) == expected
    long_salt = b"s" * 100
    assert (
        keyed_digest(long_salt, "hash")("x") == hmac.new(long_salt, b"hash\x00x", "sha256").digest()
    )


# ------------------------------------------------------------------------- fakes

ORIGINALS = [
    "anna.meyer@corp.example",
    "Bob",
    "+49 30 1234567",
    "DE89370400440532013000",
    "12 Baker Street",
    "1984-02-29",
    "Lorem ipsum dolor sit amet, a rather long original text of some length.",
]


@pytest.mark.parametrize("kind", FAKE_KINDS)
def test_every_fake_kind_is_deterministic_and_salted(kind: str) -> None:
    for original in ORIGINALS:
        first = text(Fake(kind), original)
        assert first
        assert first == text(Fake(kind), original)
        assert "\t" not in first and "\n" not in first and "\\" not in first
    outputs = {text(Fake(kind), original) for original in ORIGINALS}
    other = {text(Fake(kind), original, OTHER_SALT) for original in ORIGINALS}
    assert outputs != other


def test_fake_shapes() -> None:
    values = [f"original-{i}@corp.example" for i in range(300)]
    for value in values:
        email = text(Fake("email"), value)
        assert re.fullmatch(r"[a-z0-9._-]+@example\.(com|net|org)", email), email
        assert re.fullmatch(r"[A-Z][A-Za-z-]+", text(Fake("first_name"), value))
        assert re.fullmatch(r"[A-Z][A-Za-z-]+", text(Fake("last_name"), value))
        assert re.fullmatch(r"[A-Z][A-Za-z-]+ [A-Z][A-Za-z-]+", text(Fake("name"), value))
        assert re.fullmatch(r"[\d()+ .-]{12,16}", text(Fake("phone"), value))
        assert re.fullmatch(r"\d{5}", text(Fake("postcode"), value))
        assert re.fullmatch(r"\d+ [A-Za-z-]+ [A-Za-z]+", text(Fake("street"), value))
        assert re.fullmatch(r"\d+ [A-Za-z -]+, [A-Za-z ]+ \d{5}", text(Fake("address"), value))
        assert re.fullmatch(r"[a-z0-9._]+", text(Fake("username"), value))
        assert text(Fake("url"), value).startswith("https://www.")
        assert text(Fake("sentence"), value).endswith(".")
        born = date.fromisoformat(text(Fake("date_of_birth"), value))
        assert date(1940, 1, 1) <= born <= date(2007, 12, 31)
        octets = [int(part) for part in text(Fake("ipv4"), value).split(".")]
        assert octets[0] in (10, 172, 192) and 1 <= octets[3] <= 254
        iban = text(Fake("iban"), value)
        assert re.fullmatch(r"DE\d{20}", iban)
        assert int(iban[4:] + "1314" + iban[2:4]) % 97 == 1, "IBAN check digits are valid"
        card = text(Fake("credit_card"), value)
        assert re.fullmatch(r"4\d{15}", card)
        assert luhn_digit(card[:-1]) == card[-1]


def test_text_is_about_as_long_as_the_original() -> None:
    for length in (1, 20, 60, 300, 2000):
        out = text(Fake("text"), "x" * length)
        assert len(out) <= max(length, 20)
        assert len(out) >= min(length, 20) * 0.5
        assert out.endswith(".")


@pytest.mark.parametrize("kind", ["email", "username", "url", "iban"])
def test_unique_fakes_stay_unique_on_10k_distinct_inputs(kind: str) -> None:
    compiled = compile_transform(Fake(kind, unique=True), SALT)
    assert compiled is not None
    outputs = {compiled.fn(f"customer-{i}@shop.example") for i in range(10_000)}
    assert len(outputs) == 10_000


def test_unique_email_adds_a_suffix_from_the_digest() -> None:
    plain = text(Fake("email"), "anna@corp.example")
    unique = text(Fake("email", unique=True), "anna@corp.example")
    local, domain = plain.split("@")
    assert unique.startswith(local + ".")
    assert unique.endswith("@" + domain)
    assert re.fullmatch(r"[0-9a-f]{12}", unique[len(local) + 1 : -len(domain) - 1])


# -------------------------------------------------------------------------- hash


def test_hash_is_hex_of_the_requested_length() -> None:
    short = text(Hash(), "secret-token")
    assert re.fullmatch(r"[0-9a-f]{16}", short)
    long = text(Hash(length=40), "secret-token")
    assert long.startswith(short) and len(long) == 40
    assert short != text(Hash(), "secret-token", OTHER_SALT)


def test_hash_keep_format_keeps_classes_punctuation_and_length() -> None:
    for value in ["+49 (30) 123-4567", "DE89 3704 0044 0532 0130 00", "AbC-12_x", "ü-9ß", "---"]:
        out = text(Hash(keep_format=True), value)
        assert len(out) == len(value)
        for before, after in zip(value, out, strict=True):
            if before.isascii() and before.isdigit():
                assert after.isdigit()
            elif before.isascii() and before.islower():
                assert after.islower() and after.isascii()
            elif before.isascii() and before.isupper():
                assert after.isupper() and after.isascii()
            else:
                assert after == before
    long_value = "x" * 100 + "-" + "7" * 50
    long_out = text(Hash(keep_format=True), long_value)
    assert len(long_out) == len(long_value) and long_out[100] == "-"


@settings(deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ9 -\t\n\\ü"), min_size=1, max_size=60))
def test_hash_keep_format_property(value: str) -> None:
    out = text(Hash(keep_format=True), value)
    assert value.translate(_CLASSES) == out.translate(_CLASSES)


_CLASSES = str.maketrans(
    {
        **{chr(c): "9" for c in range(48, 58)},
        **{chr(c): "a" for c in range(97, 123)},
        **{chr(c): "A" for c in range(65, 91)},
    }
)


def test_unique_keep_format_hash_is_one_to_one() -> None:
    compiled = compile_transform(Hash(keep_format=True, unique=True), SALT)
    assert compiled is not None
    phones = [f"+49 30 {i:07d}" for i in range(10_000)]
    outputs = {compiled.fn(phone) or "" for phone in phones}
    assert len(outputs) == len(phones)
    assert all(re.fullmatch(r"\+\d\d \d\d \d{7}", out) for out in outputs)
    # On a tiny domain it is a permutation: every 2-digit string maps to a distinct one.
    two_digits = [f"{i:02d}" for i in range(100)]
    assert sorted(compiled.fn(v) or "" for v in two_digits) == two_digits
    assert compiled.fn("A-7") != compiled.fn("B-7")


# -------------------------------------------------------------------------- mask


def test_mask() -> None:
    assert text(Mask(keep_first=2, keep_last=4), "4111111111111111") == "41**********1111"
    assert text(Mask(keep_last=4, char="#"), "DE8937040044") == "########0044"
    assert text(Mask(), "secret") == "******"
    # Too short to keep anything without showing it whole: all masked.
    assert text(Mask(keep_first=3, keep_last=3), "abc") == "***"
    assert text(Mask(keep_first=1, keep_separators=True), "jo.doe@mail.example") == (
        "j*.***@****.*******"
    )


# ----------------------------------------------------------------- null, fixed


def test_null_and_fixed() -> None:
    assert apply(Null(), "anything") is None
    assert apply(Fixed("n/a"), "anything") == "n/a"
    assert apply(Fixed("n/a"), None) == "n/a", "fixed replaces NULL too"
    assert apply(Fixed(None), "anything") is None


@pytest.mark.parametrize(
    "transform",
    [Fake("email"), Hash(), Hash(keep_format=True), Mask(), Noise("relative", 0.1), Null()],
)
def test_null_stays_null(transform: Transform) -> None:
    assert apply(transform, None) is None


# ------------------------------------------------------------------------- noise


def test_relative_noise_is_bounded_and_keeps_the_format() -> None:
    for i in range(1, 500):
        value = f"{i * 7.31:.2f}"
        out = text(Noise("relative", 0.1), value)
        assert re.fullmatch(r"-?\d+\.\d\d", out)
        assert abs(float(out) - float(value)) <= 0.1 * float(value) + 0.005
        whole = text(Noise("relative", 0.1), str(i * 100))
        assert re.fullmatch(r"\d+", whole)
        assert abs(int(whole) - i * 100) <= 0.1 * i * 100 + 0.5
    assert text(Noise("relative", 0.1), "NaN") == "NaN"
    moved = {text(Noise("relative", 0.5), str(v)) for v in range(1000, 1100)}
    assert len(moved) > 50, "values actually move"


def test_absolute_noise() -> None:
    for i in range(300):
        out = text(Noise("absolute", 5), str(i))
        assert abs(int(out) - i) <= 5
    assert abs(float(text(Noise("absolute", 5), "1.5e3")) - 1500) <= 5


def test_date_noise_shifts_dates_and_timestamps_within_bounds() -> None:
    for day in range(1, 29):
        value = f"2021-02-{day:02d}"
        shifted = date.fromisoformat(text(Noise("days", 30), value))
        assert abs((shifted - date.fromisoformat(value)).days) <= 30
    stamp = "2021-03-04 10:11:12.345+01"
    out = text(Noise("days", 2), stamp)
    assert out.endswith(".345+01")
    moved = datetime.fromisoformat(out[:19])
    assert abs(moved - datetime(2021, 3, 4, 10, 11, 12)) <= timedelta(days=2)
    assert text(Noise("days", 2), "2021-03-04T10:11:12")[10] == "T"
    assert text(Noise("days", 2), "infinity") == "infinity"


def test_noise_is_deterministic_per_value() -> None:
    assert text(Noise("relative", 0.2), "123.45") == text(Noise("relative", 0.2), "123.45")
    assert text(Noise("days", 9), "2020-01-01") == text(Noise("days", 9), "2020-01-01")


def test_noise_on_a_non_number_names_table_column_and_line_not_the_value(
    make_rules: MakeRules, sanitize: Callable[..., str]
) -> None:
    rules = make_rules(
        "default: keep\ntables:\n  t:\n    columns:\n      n: {noise: {absolute: 1}}\n"
    )
    dump = "COPY public.t (id, n) FROM stdin;\n1\t5\n2\tsecret-abc\n\\.\n"
    with pytest.raises(DataError) as info:
        sanitize(dump, rules)
    message = str(info.value)
    assert message.startswith("<stream>:3: table public.t, column n: value is not a number")
    assert "secret-abc" not in message
    dated = make_rules("default: keep\ntables:\n  t:\n    columns:\n      n: {noise: {days: 1}}\n")
    with pytest.raises(DataError, match="not a date"):
        sanitize("COPY t (n) FROM stdin;\nsoon\n\\.\n", dated)


# ---------------------------------------------------------- determinism, joins


def test_same_value_same_output_across_tables_formats_and_runs(
    make_rules: MakeRules, sanitize: Callable[..., str]
) -> None:
    rules = make_rules(
        """\
        default: keep
        tables:
          users:
            columns:
              email: {fake: email, unique: true}
          orders:
            columns:
              customer_email: {fake: email, unique: true}
        """
    )
    dump = """\
        COPY public.users (id, email) FROM stdin;
        1\tanna@corp.example
        2\tbob@corp.example
        \\.
        COPY public.orders (id, customer_email) FROM stdin;
        10\tbob@corp.example
        11\tanna@corp.example
        12\tbob@corp.example
        \\.
        INSERT INTO public.orders (id, customer_email) VALUES (13, 'anna@corp.example');
        """
    out = sanitize(dump, rules)
    assert out == sanitize(dump, rules), "same output every run"
    rows = [line.split("\t") for line in out.splitlines() if "\t" in line]
    users = {row[0]: row[1] for row in rows[:2]}
    orders = {row[0]: row[1] for row in rows[2:]}
    assert orders["10"] == orders["12"] == users["2"]
    assert orders["11"] == users["1"]
    assert f"'{users['1']}'" in out, "INSERT and COPY give the same fake"
    assert users["1"] != users["2"]
    csv_out = sanitize("customer_email\nanna@corp.example\n", rules, fmt="csv", table="orders")
    assert csv_out.splitlines()[1] == users["1"], "CSV too"
    assert "anna@corp.example" not in out


# ------------------------------------------------------------ no fake equals its original


def _first_draw_equal(kind: str, values: tuple[str, ...]) -> tuple[bytes, str]:
    """A salt and a value whose first drawn fake of ``kind`` is the value itself."""
    from pytest_ephemeral.data.sanitize._fakes import GENERATORS

    for i in range(2000):
        salt = f"redraw-salt-{i:04d}-0123456789".encode()
        digest = keyed_digest(salt, "fake:" + kind)
        for value in values:
            if GENERATORS[kind](digest(value), value) == value:
                return salt, value
    raise AssertionError("no coincidence found")  # pragma: no cover


def test_a_fake_equal_to_its_original_is_drawn_again(
    make_rules: MakeRules, sanitize: Callable[..., str]
) -> None:
    from pytest_ephemeral.data.sanitize._words import COUNTRIES

    salt, value = _first_draw_equal("country", COUNTRIES)
    again = apply(Fake("country"), value, salt)
    assert again != value and again in COUNTRIES
    assert apply(Fake("country"), value, salt) == again, "deterministic"
    # The COPY fast path (inlined HMAC) agrees with the plain function.
    rules = make_rules("default: keep\ntables:\n  t:\n    columns:\n      c: {fake: country}\n")
    out = sanitize(f"COPY t (c) FROM stdin;\n{value}\n\\.\n", rules, salt=salt)
    assert out.splitlines()[1] == again


def test_a_format_hash_never_returns_its_input() -> None:
    for i in range(30):
        salt = f"digits-salt-{i:03d}-0123456789".encode()
        for digit in "0123456789":
            assert apply(Hash(keep_format=True), digit, salt) != digit
        assert apply(Hash(keep_format=True), "-", salt) == "-", "nothing to change"
