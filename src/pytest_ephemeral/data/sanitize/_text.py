"""Free text: the tokens the leak check matches, and values that look like personal data.

Tokens are e-mail addresses (lower-cased) and runs of letters and digits
(lower-cased); everything else separates them. An original value becomes
one *key* that is searched for inside longer texts:

* an e-mail address: the address, lower-cased (``@anna.meyer@corp.example``);
* a phone number or identifier (only digits and ``+ - . / ( )`` or blanks,
  at least :data:`MIN_DIGITS` digits): its digits (``#4930123456``), found
  in a text as any run of digit groups separated by those characters whose
  digits are the same (``+49-30-123456``, ``(49) 30 123 456``);
* one word (``Anna``): the word; when the original starts with a capital,
  found only where the text writes it with a capital too, as names are
  (``"call Anna"``, not ``"anna"``), else in any case (``jdoe42``). A name
  that is also a common English word (``Green``, ``White``) is not found at
  the start of a sentence either, where every word has a capital;
* several words (``12 Main Street``, ``Anna Meyer``): the sequence of their
  tokens (at most :data:`MAX_SEQUENCE`), found as the same tokens in a row
  whatever the separators and case (``12, main street``).

Keys are hashed by the caller (keyed BLAKE2b, or SipHash-2-4 in the compiled
index); this module never keeps them. ``_fastindex.c`` does the same as
:func:`tokens`, :func:`digit_runs` and :func:`original_keys` for ASCII text,
exactly (tests/data/test_fastindex.py compares them).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Final

from ._words import WORDS

__all__ = [
    "COMMON_WORDS",
    "DETECTORS",
    "MAX_SEQUENCE",
    "MAX_TEXT_CHARS",
    "MIN_DIGITS",
    "PLAIN",
    "detect",
    "digit_runs",
    "original_key",
    "original_keys",
    "sentence_start",
    "spans",
    "tokens",
]

#: Lower-cased common English words: as one-word originals, only found mid-sentence.
COMMON_WORDS: Final = frozenset(word.lower() for word in WORDS)
#: Originals longer than this many tokens are searched for by their first ones.
MAX_SEQUENCE: Final = 12
#: A phone number or identifier needs this many digits to be searched for in text.
MIN_DIGITS: Final = 6
#: A value longer than this is not tokenised (the memory bound); an error says so.
MAX_TEXT_CHARS: Final = 16 * 1024 * 1024

_EMAIL: Final = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_TOKEN: Final = re.compile(rf"{_EMAIL}|[^\W_]+")
_EMAIL_RE: Final = re.compile(_EMAIL)
#: Numbers, dates, times and timestamps as PostgreSQL prints them: the values
#: of most kept columns, which only need the cheapest checks.
PLAIN: Final = re.compile(
    r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
    r"|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
    r"|\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
)
_DIGIT_SEPARATORS: Final = frozenset(" +-./()\t")
_DIGIT_RUN: Final = re.compile(r"(?<![\w@.])\+?\(?\d+(?:(?:[ ./-]|\) ?| ?\()\d+)*(?![\w@])")
_DIGITS: Final = re.compile(r"\d+")


_WORD: Final = re.compile(r"[^\W_]+")
#: A whole run of the characters of an address's local part, followed by '@'.
_LOCAL_RUN: Final = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++(?=@)")
_DOMAIN: Final = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def spans(text: str) -> list[tuple[int, int]]:
    """Where the tokens of ``text`` are: the matches of ``_TOKEN``, found in
    linear time. ``_TOKEN.finditer`` itself rescans a run of address
    characters from each of its positions, which takes minutes for a long
    run such as ``a.a.a...`` in a text with an '@'.

    Every position of one run of local-part characters reaches the same '@'
    and domain, so an address starts where the tokenizer first stands in a
    run whose domain matches (its start, or where the address before it
    ended, or the word before it, which may reach into it from a letter such
    as 'é'); words are the runs of letters and digits elsewhere."""
    if "@" not in text:
        return [m.span() for m in _WORD.finditer(text)]
    found: list[tuple[int, int]] = []
    pos = 0
    for run in _LOCAL_RUN.finditer(text):
        start, at = run.span()
        if pos >= at:
            continue  # taken by the address before
        domain = _DOMAIN.match(text, at)
        if domain is None:
            continue
        # The words before the run; the last may run into it (from a letter
        # that is no address character, such as 'é'): the address then
        # starts where it ends, if before the '@'.
        for word in _WORD.finditer(text, pos):
            if word.start() >= start:
                break
            found.append(word.span())
            pos = word.end()
        if pos >= at:
            continue
        start = max(start, pos)
        pos = domain.end()
        found.append((start, pos))
    found += [m.span() for m in _WORD.finditer(text, pos)]
    return found


_SENTENCE_END: Final = frozenset(".!?:;\n\r\t")


def sentence_start(text: str, places: list[tuple[int, int]], i: int) -> bool:
    """Whether token ``i`` (of ``places``) starts a sentence of ``text``."""
    return i == 0 or not _SENTENCE_END.isdisjoint(text[places[i - 1][1] : places[i][0]])


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` as written (not lower-cased)."""
    if "@" not in text:
        found: list[str] = _WORD.findall(text)
        return found
    return [text[a:b] for a, b in spans(text)]


def _between_tokens(text: str) -> str:
    """``text`` without its tokens (``_TOKEN.sub("", text)``, in linear time)."""
    pieces: list[str] = []
    pos = 0
    for a, b in spans(text):
        pieces.append(text[pos:a])
        pos = b
    pieces.append(text[pos:])
    return "".join(pieces)


def original_key(value: str) -> str | None:
    """The key an original is searched for by inside texts, or ``None`` (too
    short or nothing to search for)."""
    if value.isalpha():  # one word: the most common original (names)
        if len(value) < 4:
            return None
        low = value.lower()
        if not value[0].isupper():
            return "-" + low
        return ("^" if low in COMMON_WORDS else "=") + low
    if "@" in value and " " not in value and _EMAIL_RE.fullmatch(value) is not None:
        return "@" + value.lower()
    toks = tokens(value[: MAX_SEQUENCE * 64])
    if not toks:
        return None
    if all(t.isdigit() for t in toks):
        if _DIGIT_SEPARATORS.issuperset(_between_tokens(value)):
            digits = "".join(toks)
            return "#" + digits if len(digits) >= MIN_DIGITS else None
        return None  # numbers among other characters: times, versions, amounts
    if len(toks) == 1:
        token = toks[0]
        if "@" in token:
            return "@" + token.lower()
        if token.isdigit() or len(token) < 4:
            return None
        low = token.lower()
        if not token[0].isupper():
            return "-" + low
        return ("^" if low in COMMON_WORDS else "=") + low
    key = " ".join(t.lower() for t in toks[:MAX_SEQUENCE])
    return "~" + key if len(key) >= 4 else None


_PARTS: Final = re.compile(r"\s*(?:\r?\n|, |; )\s*")


def original_keys(value: str) -> list[str]:
    """:func:`original_key`, plus the keys of the lines (or comma-separated
    parts) of an original made of several, each of two tokens or more: the
    street line of an address is found without its city."""
    key = original_key(value)
    keys = [] if key is None else [key]
    if "\n" in value or ", " in value or "; " in value:
        for part in _PARTS.split(value[:4096], maxsplit=4)[:4]:
            if part and part != value:
                found = original_key(part)
                if found is not None and found not in keys and found[0] in "~#@":
                    keys.append(found)
    return keys


def digit_runs(text: str) -> Iterator[str]:
    """Every run of consecutive digit groups of ``text`` (joined, at least
    :data:`MIN_DIGITS` digits): ``"call +49 30 123456"`` gives ``4930123456``
    and ``30123456`` (``49 30`` is too short). A run that starts with the
    international prefix ``00`` is also given without it."""
    for match in _DIGIT_RUN.finditer(text):
        groups: list[str] = _DIGITS.findall(match.group())
        if groups[0].startswith("00") and len(groups[0]) > 2:
            groups[0:1] = ["00", groups[0][2:]]
        count = len(groups)
        if count == 1:
            if len(groups[0]) >= MIN_DIGITS:
                yield groups[0]
            continue
        for start in range(count):
            joined = ""
            for end in range(start, min(count, start + 8)):
                joined += groups[end]
                if len(joined) >= MIN_DIGITS:
                    yield joined


# -------------------------------------------------------------------- detection

#: The kinds of personal data :func:`detect` recognises, in report order.
DETECTORS: Final[tuple[str, ...]] = (
    "e-mail address",
    "phone number",
    "national id",
    "payment card number",
    "IBAN",
    "IP address",
)

_DETECT: Final = re.compile(
    rf"(?P<email>{_EMAIL})"
    r"|(?P<iban>(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
    r"(?![A-Za-z0-9]))"
    r"|(?P<ssn>(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-]))"
    r"|(?P<nino>(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]"
    r"(?![A-Za-z0-9]))"
    r"|(?P<dni>(?<![A-Za-z0-9])[XYZ]?\d{7,8}-?[A-HJ-NP-TV-Z](?![A-Za-z0-9]))"
    r"|(?P<cf>(?<![A-Za-z0-9])[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z](?![A-Za-z0-9]))"
    r"|(?P<card>(?<![\w.+-])\d{4}(?:[ -]?\d{3,4}){2,3}(?:[ -]?\d{1,3})?(?![\w.-]))"
    r"|(?P<phone>(?<![\w+.-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)|\d{1,4})(?:[ .-]?\d{2,8}){1,4}"
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w.-]))"
    r"|(?P<ipv4>(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]))"
    r"|(?P<ipv6>(?<![\w:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
    r"|(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{0,4}::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{0,4})"
    r"(?![\w:]))"
)
_DNI_LETTERS: Final = "TRWAGMYFPDXBNJZSQVHLCKE"
_CARD_PREFIXES: Final = ("4", "51", "52", "53", "54", "55", "2", "34", "37", "6011", "65", "35")
_KIND: Final = {
    "email": "e-mail address",
    "phone": "phone number",
    "ssn": "national id",
    "nino": "national id",
    "dni": "national id",
    "cf": "national id",
    "card": "payment card number",
    "iban": "IBAN",
    "ipv4": "IP address",
    "ipv6": "IP address",
}


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _valid(kind: str, text: str) -> bool:
    if kind == "email":
        return True
    if kind == "iban":
        compact = text.replace(" ", "")
        if not 15 <= len(compact) <= 34:
            return False
        moved = compact[4:] + compact[:4]
        number = "".join(str(int(ch, 36)) for ch in moved)
        return int(number) % 97 == 1
    if kind == "ssn":
        area, group, serial = text.split("-")
        return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"
    if kind == "nino":
        return text.replace(" ", "")[:2] not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")
    if kind == "dni":
        compact = text.replace("-", "")
        body = compact[:-1].replace("X", "0").replace("Y", "1").replace("Z", "2")
        return _DNI_LETTERS[int(body) % 23] == compact[-1]
    if kind == "cf":
        return True
    if kind == "card":
        digits = text.replace(" ", "").replace("-", "")
        return 13 <= len(digits) <= 19 and digits.startswith(_CARD_PREFIXES) and _luhn(digits)
    if kind == "phone":
        count = sum(ch.isdigit() for ch in text)
        return 8 <= count <= 15
    if kind == "ipv4":
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            return False
        return not (address.is_unspecified or address.is_loopback)
    if kind == "ipv6":
        if text.count(":") < 2 or not any(c.isalnum() for c in text):
            return False
        try:
            address6 = ipaddress.IPv6Address(text)
        except ValueError:
            return False
        return not (address6.is_unspecified or address6.is_loopback)
    return False  # pragma: no cover


_MAY_HOLD: Final = re.compile(r"[@:]|\d.*\d", re.S)


def detect(text: str) -> str | None:
    """The first kind of personal data (one of :data:`DETECTORS`) ``text``
    holds, or ``None``. Candidates are checked: card numbers by Luhn, IBANs
    by their check digits, Spanish ids by their letter, US SSNs by the
    ranges never issued, IP addresses by parsing."""
    if PLAIN.fullmatch(text) is not None:
        # A number, date or time: a card number or a phone number written as digits only.
        digits = text.lstrip("+")
        if 13 <= len(digits) <= 19 and digits.isdigit() and _valid("card", digits):
            return "payment card number"
        if text[0] == "+" and digits.isdigit() and _valid("phone", text):
            return "phone number"
        return None
    if _MAY_HOLD.search(text) is None:
        return None
    for match in _DETECT.finditer(text):
        kind = match.lastgroup
        if kind is not None and _valid(kind, match.group()):
            return _KIND[kind]
    return None
