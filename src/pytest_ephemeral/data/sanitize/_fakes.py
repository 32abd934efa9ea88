"""Fake-value generators: realistic values of a kind, from a 32-byte digest.

Each generator is a pure function of the digest (HMAC-SHA256 of the salt and
the original value) and, for ``text``, the original's length. No global
random state is involved, so the same digest always gives the same value.

Choices from a list use two digest bytes (``b0 << 8 | b1``) modulo the list's
length; the slight bias that leaves is irrelevant for test data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import date
from types import MappingProxyType
from typing import Final

from . import _words

__all__ = ["GENERATORS", "LISTS", "UNIQUE_GENERATORS", "VOCABULARY_KINDS", "luhn_digit"]

Generator = Callable[[bytes, str], str]

_FIRST: Final = _words.FIRST_NAMES
_LAST: Final = _words.LAST_NAMES
_FIRST_L: Final = tuple(n.lower() for n in _FIRST)
_LAST_L: Final = tuple(n.lower() for n in _LAST)
_NF: Final = len(_FIRST)
_NL: Final = len(_LAST)
_DOMAINS: Final = _words.EMAIL_DOMAINS
_WORDS: Final = _words.WORDS
_NW: Final = len(_WORDS)
_STREET_NAMES: Final = _words.STREET_WORDS + _words.LAST_NAMES
_NSN: Final = len(_STREET_NAMES)
_STREET_SFX: Final = _words.STREET_SUFFIXES
_NSS: Final = len(_STREET_SFX)
_CITIES: Final = tuple(root + end for root in _words.CITY_ROOTS for end in _words.CITY_SUFFIXES)
_NC: Final = len(_CITIES)
_CITY_PFX: Final = _words.CITY_PREFIXES
_NCP: Final = len(_CITY_PFX)
_COUNTRIES: Final = _words.COUNTRIES
_COMPANY_SFX: Final = _words.COMPANY_SUFFIXES
_DOB_FIRST: Final = 708_205  # date(1940, 1, 1).toordinal()
_DOB_SPAN: Final = 24_837  # days from 1940-01-01 to 2007-12-31, both included

#: The lists above by the names the compiled generators (``_fastcopy.c``,
#: ``set_words``) know them by: the two draw from the same lists.
LISTS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "first": _FIRST,
        "last": _LAST,
        "first_l": _FIRST_L,
        "last_l": _LAST_L,
        "domains": _DOMAINS,
        "words": _WORDS,
        "street_names": _STREET_NAMES,
        "street_sfx": _STREET_SFX,
        "cities": _CITIES,
        "city_pfx": _CITY_PFX,
        "countries": _COUNTRIES,
        "company_sfx": _COMPANY_SFX,
    }
)

#: Kinds whose values all come from the short lists above: an original value
#: can turn up among the fakes by coincidence (a real first name is a real
#: first name), so the leak check does not search their output for originals.
VOCABULARY_KINDS: Final = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "company",
        "phone",
        "address",
        "street",
        "city",
        "postcode",
        "country",
        "text",
        "sentence",
        "date_of_birth",
        "ipv4",
    }
)


def _last(d: bytes, i: int = 2) -> str:
    return _LAST[(d[i] << 8 | d[i + 1]) % _NL]


def first_name(d: bytes, value: str) -> str:
    return _FIRST[(d[0] << 8 | d[1]) % _NF]


def last_name(d: bytes, value: str) -> str:
    return _LAST[(d[2] << 8 | d[3]) % _NL]


def name(d: bytes, value: str) -> str:
    return _FIRST[(d[0] << 8 | d[1]) % _NF] + " " + _LAST[(d[2] << 8 | d[3]) % _NL]


def email(d: bytes, value: str) -> str:
    first = _FIRST_L[(d[0] << 8 | d[1]) % _NF]
    last = _LAST_L[(d[2] << 8 | d[3]) % _NL]
    domain = _DOMAINS[d[4] % 3]
    style = d[5] & 3
    if style == 0:
        return f"{first}.{last}@{domain}"
    if style == 1:
        return f"{first[0]}{last}@{domain}"
    if style == 2:
        return f"{first}{last}{d[6] % 90 + 10}@{domain}"
    return f"{first}_{last}@{domain}"


def email_unique(d: bytes, value: str) -> str:
    # The plain e-mail with 48 bits of the digest, that nothing else uses,
    # appended to the local part.
    first = _FIRST_L[(d[0] << 8 | d[1]) % _NF]
    last = _LAST_L[(d[2] << 8 | d[3]) % _NL]
    domain = _DOMAINS[d[4] % 3]
    tag = d[20:26].hex()
    style = d[5] & 3
    if style == 0:
        return f"{first}.{last}.{tag}@{domain}"
    if style == 1:
        return f"{first[0]}{last}.{tag}@{domain}"
    if style == 2:
        return f"{first}{last}{d[6] % 90 + 10}.{tag}@{domain}"
    return f"{first}_{last}.{tag}@{domain}"


def _username(d: bytes) -> str:
    first = _FIRST_L[(d[0] << 8 | d[1]) % _NF]
    last = _LAST_L[(d[2] << 8 | d[3]) % _NL]
    style = d[5] & 3
    if style == 0:
        return first + last[0] + str(d[6] % 90 + 10)
    if style == 1:
        return first + "." + last
    if style == 2:
        return first[0] + last
    return first + "_" + last[:3] + str(d[6] % 9 + 1)


def username(d: bytes, value: str) -> str:
    return _username(d)


def username_unique(d: bytes, value: str) -> str:
    return _username(d) + "_" + d[20:26].hex()


def _url_base(d: bytes) -> str:
    site = _WORDS[(d[0] << 8 | d[1]) % _NW] + _WORDS[(d[2] << 8 | d[3]) % _NW]
    return "https://www." + site + ".example/" + _WORDS[(d[6] << 8 | d[7]) % _NW]


def url(d: bytes, value: str) -> str:
    return _url_base(d) + "/" + _WORDS[(d[8] << 8 | d[9]) % _NW]


def url_unique(d: bytes, value: str) -> str:
    return _url_base(d) + "/" + d[20:26].hex()


def company(d: bytes, value: str) -> str:
    style = d[4] & 3
    first = _last(d)
    if style == 0:
        return first + " " + _COMPANY_SFX[d[5] % len(_COMPANY_SFX)]
    if style == 1:
        return first + "-" + _last(d, 6)
    if style == 2:
        return first + " & " + _last(d, 6)
    return first + ", " + _last(d, 6) + " and " + _last(d, 8)


def phone(d: bytes, value: str) -> str:
    area = 200 + (d[0] << 8 | d[1]) % 800
    exchange = 200 + (d[2] << 8 | d[3]) % 800
    line = (d[4] << 8 | d[5]) % 10000
    style = d[6] & 3
    if style == 0:
        return f"({area}) {exchange}-{line:04d}"
    if style == 1:
        return f"{area}-{exchange}-{line:04d}"
    if style == 2:
        return f"+1 {area} {exchange} {line:04d}"
    return f"{area}.{exchange}.{line:04d}"


def _street(d: bytes) -> str:
    number = 1 + (d[10] << 8 | d[11]) % 9999
    name = _STREET_NAMES[(d[12] << 8 | d[13]) % _NSN]
    return f"{number} {name} {_STREET_SFX[d[16] % _NSS]}"


def _city(d: bytes) -> str:
    city = _CITIES[(d[17] << 8 | d[18]) % _NC]
    prefix = d[19]
    if prefix & 3 == 0:
        return _CITY_PFX[(prefix >> 2) % _NCP] + " " + city
    return city


def street(d: bytes, value: str) -> str:
    return _street(d)


def city(d: bytes, value: str) -> str:
    return _city(d)


def postcode(d: bytes, value: str) -> str:
    return f"{(d[26] << 16 | d[27] << 8 | d[28]) % 100000:05d}"


def address(d: bytes, value: str) -> str:
    # _street, _city and postcode inlined: this is a hot path.
    city = _CITIES[(d[17] << 8 | d[18]) % _NC]
    prefix = d[19]
    if prefix & 3 == 0:
        city = _CITY_PFX[(prefix >> 2) % _NCP] + " " + city
    return (
        f"{1 + (d[10] << 8 | d[11]) % 9999} {_STREET_NAMES[(d[12] << 8 | d[13]) % _NSN]} "
        f"{_STREET_SFX[d[16] % _NSS]}, {city} {(d[26] << 16 | d[27] << 8 | d[28]) % 100000:05d}"
    )


def country(d: bytes, value: str) -> str:
    return _COUNTRIES[(d[0] << 8 | d[1]) % len(_COUNTRIES)]


def _sentence(stream: bytes, at: int, count: int) -> str:
    words = [_WORDS[(stream[i] << 8 | stream[i + 1]) % _NW] for i in range(at, at + 2 * count, 2)]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def sentence(d: bytes, value: str) -> str:
    return _sentence(d, 1, 6 + d[0] % 7)


def text(d: bytes, value: str) -> str:
    """Sentences about as long as the original (at least 20, at most 4,000 characters)."""
    target = min(max(len(value), 20), 4000)
    stream = hashlib.shake_256(d).digest(2 * target // 3 + 32)
    parts: list[str] = []
    length = -1
    at = 0
    while length < target and at + 26 <= len(stream):
        count = 4 + stream[at] % 9
        part = _sentence(stream, at + 1, count)
        parts.append(part)
        length += len(part) + 1
        at += 1 + 2 * count
    out = " ".join(parts)
    if len(out) > target:
        cut = out.rfind(" ", 0, target)
        out = out[: cut if cut > 0 else target].rstrip(",") + "."
    return out


def date_of_birth(d: bytes, value: str) -> str:
    return date.fromordinal(_DOB_FIRST + (d[0] << 16 | d[1] << 8 | d[2]) % _DOB_SPAN).isoformat()


def ipv4(d: bytes, value: str) -> str:
    # Private ranges only: a fake address never points at someone's machine.
    net = d[0] % 3
    if net == 0:
        return f"10.{d[1]}.{d[2]}.{1 + d[3] % 254}"
    if net == 1:
        return f"172.{16 + d[1] % 16}.{d[2]}.{1 + d[3] % 254}"
    return f"192.168.{d[2]}.{1 + d[3] % 254}"


def iban(d: bytes, value: str) -> str:
    # A German IBAN with valid check digits: DE + 2 check digits + 18 digits.
    bban = f"{int.from_bytes(d[8:16], 'little') % 10**18:018d}"
    check = 98 - int(bban + "131400") % 97
    return f"DE{check:02d}{bban}"


def luhn_digit(body: str) -> str:
    """The Luhn check digit that makes ``body + digit`` pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = ord(ch) - 48
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str(-total % 10)


def credit_card(d: bytes, value: str) -> str:
    # A 16-digit number starting with 4 (Visa-like) that passes the Luhn check.
    body = "4" + f"{int.from_bytes(d[8:16], 'little') % 10**14:014d}"
    return body + luhn_digit(body)


GENERATORS: Final[Mapping[str, Generator]] = MappingProxyType(
    {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "name": name,
        "company": company,
        "phone": phone,
        "address": address,
        "street": street,
        "city": city,
        "postcode": postcode,
        "country": country,
        "text": text,
        "sentence": sentence,
        "date_of_birth": date_of_birth,
        "username": username,
        "url": url,
        "ipv4": ipv4,
        "iban": iban,
        "credit_card": credit_card,
    }
)

#: ``unique: true`` variants; a kind that is unique by itself maps to its plain generator.
UNIQUE_GENERATORS: Final[Mapping[str, Generator]] = MappingProxyType(
    {
        "email": email_unique,
        "username": username_unique,
        "url": url_unique,
        "iban": iban,
    }
)
