"""The leak check: no original value of a sanitized column may survive.

Originals are collected from the input as keyed 64-bit hashes (never as
text) in a compact open-addressing table; then every value of the output, or
of a live database, is hashed the same way and looked up. A hit is reported
as the table and column it was found in, the columns it came from and how
many values — never the value.

Which originals are collected:
  every value of a column whose rule is not ``keep`` or ``noise`` and does not
  say ``leak_check: false``, except NULL, values shorter than 4 characters
  (ignoring surrounding blanks) and values equal to a ``fixed:`` constant of
  the rules. Rows of ``drop: true`` tables are not collected.

Where they are searched for:
  every column of every table, except columns whose rule produces values that
  can equal an original by coincidence: ``fake`` of a kind drawn from short
  word lists (names, cities, phone numbers... see ``VOCABULARY_KINDS``),
  ``hash: {keep_format: true}`` (same shape as the original), ``noise``,
  ``fixed`` and ``null``. Kept columns (explicitly or by ``default: keep``)
  are always searched: they are where copies of sensitive data hide.

How they are matched:
  as the whole value, and inside longer values as a token or a sequence of
  tokens (word boundaries; e-mail addresses and words compared without case,
  phone numbers and identifiers by their digits whatever the separators; see
  ``_text``), again from keyed hashes only.

What else is reported (the *detection*):
  values of kept columns that look like personal data (e-mail addresses,
  phone numbers, national ids, card numbers, IBANs, IP addresses), by column
  and count, unless the column's rule says ``leak_check: reviewed``.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
import re
import secrets
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

from pytest_ephemeral.errors import DataError

from ._engine import _process
from ._fakes import VOCABULARY_KINDS
from ._io import Format, decode_error, detect_format, open_input, table_from_path
from ._pgdump import copy_decode
from ._plan import BlockFn, CopyFn, PlanItem, RowsFn, Sink, TablePlan, ValueFn
from ._rules import ColumnRule, Fake, Fixed, Hash, Keep, Noise, Null, Rules, Transform
from ._text import (
    COMMON_WORDS,
    DETECTORS,
    MAX_SEQUENCE,
    MAX_TEXT_CHARS,
    MIN_DIGITS,
    PLAIN,
    detect,
    digit_runs,
    original_keys,
    sentence_start,
    spans,
    tokens,
)
from ._transforms import ValueProblem

try:  # the compiled index (setup.py builds it when a C compiler is at hand)
    from . import _fastindex
except ImportError:  # pragma: no cover - the same in Python, slower
    _fastindex = None  # type: ignore[assignment]

#: Whether the compiled index is there (``OriginalIndex`` then uses it).
COMPILED: Final = _fastindex is not None
if _fastindex is not None:
    _fastindex.set_common_words(COMMON_WORDS)

__all__ = [
    "COMPILED",
    "MIN_LEAK_LENGTH",
    "Leak",
    "LeakError",
    "OriginalIndex",
    "check_leaks",
    "check_leaks_files",
    "collect_originals",
    "raise_for_leaks",
]

#: Originals shorter than this (after stripping blanks) are not searched for:
#: "NY", "42" or "yes" turn up everywhere by coincidence.
MIN_LEAK_LENGTH: Final = 4


@dataclass(frozen=True, slots=True)
class Leak:
    """``count`` values found in ``table.column`` that are originals of ``sources``
    (whole or inside); or, when ``kinds`` is set, values of a kept column that
    look like personal data of those kinds (e-mail address, phone number...)."""

    table: str
    column: str
    count: int
    sources: tuple[str, ...]
    kinds: tuple[str, ...] = ()

    @property
    def detected(self) -> bool:
        """Whether this is a detection (values that look personal) rather than originals."""
        return bool(self.kinds)

    def __str__(self) -> str:
        plural = "s" if self.count != 1 else ""
        if self.kinds:
            verb = "looks" if self.count == 1 else "look"
            return (
                f"{self.count} value{plural} in kept column {self.table}.{self.column} "
                f"{verb} like personal data ({', '.join(self.kinds)})"
            )
        return (
            f"{self.count} original value{plural} of {', '.join(self.sources)} "
            f"found in {self.table}.{self.column}"
        )


class LeakError(DataError):
    """The leak check found original values in sanitized data."""

    def __init__(self, message: str, leaks: Iterable[Leak]) -> None:
        super().__init__(message)
        self.leaks = tuple(leaks)


def _collected(transform: Transform) -> bool:
    return not isinstance(transform, Keep | Noise)


def _searched(transform: Transform) -> bool:
    if isinstance(transform, Null | Fixed | Noise):
        return False
    if isinstance(transform, Fake):
        return transform.kind not in VOCABULARY_KINDS
    if isinstance(transform, Hash):
        return not transform.keep_format
    return True


class _HashSet:
    """An open-addressing set of non-zero 64-bit hashes, each with a 16-bit tag."""

    __slots__ = ("count", "keys", "mask", "tags")

    def __init__(self) -> None:
        capacity = 1 << 14
        self.mask = capacity - 1
        self.keys = array("Q", bytes(8 * capacity))
        self.tags = array("H", bytes(2 * capacity))
        self.count = 0

    def add(self, digest: int, tag: int) -> None:
        keys = self.keys
        mask = self.mask
        slot = digest & mask
        while True:
            found = keys[slot]
            if found == 0:
                keys[slot] = digest
                self.tags[slot] = tag
                self.count += 1
                if self.count * 3 > (mask + 1) * 2:
                    self._grow()
                return
            if found == digest:
                # Seen before, maybe from another column: the first column of
                # the input keeps it, whatever order the values came in.
                if tag < self.tags[slot]:
                    self.tags[slot] = tag
                return
            slot = (slot + 1) & mask

    def get(self, digest: int) -> int:
        """The tag of ``digest``, or -1."""
        keys = self.keys
        mask = self.mask
        slot = digest & mask
        while True:
            found = keys[slot]
            if found == 0:
                return -1
            if found == digest:
                return self.tags[slot]
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old_keys, old_tags = self.keys, self.tags
        # Four times as large while small (fewer rehashes), then twice (memory).
        capacity = (4 if len(old_keys) < 1 << 20 else 2) * len(old_keys)
        mask = capacity - 1
        keys = array("Q", bytes(8 * capacity))
        tags = array("H", bytes(2 * capacity))
        for digest, tag in zip(old_keys, old_tags, strict=True):
            if digest:
                slot = digest & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = digest
                tags[slot] = tag
        self.keys, self.tags, self.mask = keys, tags, mask


#: Bits of the filter that says which values, keys and first tokens may be
#: originals (8 MiB): most lookups end there, without a keyed hash.
_FILTER_BITS: Final = 1 << 26
_FILTER_MASK: Final = _FILTER_BITS - 1


class OriginalIndex:
    """A set of original values, kept as keyed 64-bit hashes (15-30 bytes each).

    The hash key is random per index unless one is given, so the hashes mean
    nothing outside this process. ``rules`` decides which columns are
    collected (:meth:`collects`) and searched (:meth:`searches`).

    Besides the whole value, each original is remembered by its key for the
    search inside texts (see ``_text``) in a second table of keyed hashes. In
    front of both, a one-bit-per-entry filter (indexed by Python's
    per-process randomised string hash, 8 MiB) says "maybe": most lookups
    stop there, the keyed tables decide the rest.

    With ``compiled`` (the default when the compiled index ``_fastindex`` is
    built, unless the environment says ``EPH_LEAK_INDEX=python``), the
    hashes, their table and the search inside texts that are all ASCII are C
    code (keyed SipHash-2-4 instead of BLAKE2b); the findings
    are the same (a test compares the two on generated texts).
    """

    __slots__ = (
        "_base",
        "_core",
        "_digits",
        "_emails",
        "_filter",
        "_firsts",
        "_flags",
        "_ids",
        "_key",
        "_lengths",
        "_recent",
        "_skip",
        "_texts",
        "_values",
        "_whole",
        "_words",
        "in_text",
        "rules",
        "sources",
    )

    def __init__(
        self,
        rules: Rules,
        *,
        key: bytes | None = None,
        in_text: bool = True,
        compiled: bool | None = None,
    ) -> None:
        if compiled and _fastindex is None:
            raise RuntimeError("the compiled index (_fastindex) is not built")
        self.rules = rules
        self.in_text = in_text
        self.sources: list[str] = []
        self._ids: dict[str, int] = {}
        self._key = key[:64] if key else secrets.token_bytes(32)
        self._base = hashlib.blake2b(key=self._key, digest_size=8)
        self._recent: dict[str, int] = {}
        self._skip = rules.fixed_values
        self._values = self._texts = _HashSet()  # one table: the keys are hashed apart
        self._whole = 0
        self._core: _fastindex.Index | None = None
        self._flags: tuple[bool, bool, bool, list[int]] | None = None  # the core's, cached
        if compiled is None:
            compiled = os.environ.get("EPH_LEAK_INDEX", "").lower() != "python"
        if _fastindex is not None and compiled:
            derived = hashlib.blake2b(self._key, digest_size=16, person=b"eph-siphash").digest()
            self._core = _fastindex.Index(derived)
        self._filter = bytearray(_FILTER_BITS // 8 if self._core is None else 0)
        self._lengths: list[int] = []
        # Python hashes of the tokens that start a word key: a text none of whose
        # tokens is in here is dismissed at C speed. Dropped if it grows too big.
        self._firsts: set[int] | None = set()
        self._words = self._digits = self._emails = False

    def __len__(self) -> int:
        return self._whole

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self.source_of(value) is not None

    def _rule(self, table: str, column: str) -> ColumnRule | None:
        rule = self.rules.lookup(table)
        if rule is None or rule.drop:
            return None
        return rule.columns.get(column)

    def collects(self, table: str, column: str) -> bool:
        """Whether originals of ``table.column`` belong in the index."""
        rule = self.rules.lookup(table)
        if rule is None or rule.drop:
            return False
        col = rule.columns.get(column)
        return col is not None and col.leak_check and _collected(col.transform)

    def searches(self, table: str, column: str) -> bool:
        """Whether sanitized values of ``table.column`` are looked up."""
        col = self._rule(table, column)
        return _searched(Keep() if col is None else col.transform)

    def detects(self, table: str, column: str) -> bool:
        """Whether values of ``table.column`` are checked for what looks like
        personal data: kept columns (explicitly or by default) not marked
        ``leak_check: reviewed``."""
        col = self._rule(table, column)
        return col is None or (isinstance(col.transform, Keep) and not col.reviewed)

    def _hash(self, value: str) -> int:
        h = self._base.copy()
        h.update(value.encode())
        return int.from_bytes(h.digest(), "little") or 1

    def _mark(self, text: str) -> None:
        h = hash(text) & _FILTER_MASK
        self._filter[h >> 3] |= 1 << (h & 7)

    def _wanted(self, value: str) -> bool:
        return (
            len(value) >= MIN_LEAK_LENGTH
            and len(value.strip()) >= MIN_LEAK_LENGTH
            and value not in self._skip
        )

    def add(self, source: str, value: str | None) -> None:
        """Remember ``value`` as an original of ``source`` (``"table.column"``)."""
        if value is None or not self._wanted(value):
            return
        ident = self._ids.get(source)
        if ident is None:
            ident = min(len(self.sources), 0xFFFF)
            self._ids[source] = ident
            self.sources.append(source)
        self._add(ident, value)

    def adder(self, source: str) -> ValueFn:
        """``add`` for one source, as a function of the value (returns it)."""
        ident = self._ids.get(source)
        if ident is None:
            ident = min(len(self.sources), 0xFFFF)
            self._ids[source] = ident
            self.sources.append(source)
        skip = self._skip
        put = self._add

        def add(value: str | None, times: int = 1) -> str | None:
            if (
                value is not None
                and len(value) >= MIN_LEAK_LENGTH
                and value not in skip
                and len(value.strip()) >= MIN_LEAK_LENGTH
            ):
                put(ident, value)
            return value

        return add

    def block_adder(self, source: str) -> BlockFn | None:
        """``adder(source)`` for the COPY fields of a block of rows, or ``None``
        without the compiled index (``adder`` is called per value then)."""
        both = self._block_adders(source)
        return None if both is None else both[0]

    def rows_adder(self, source: str) -> RowsFn | None:
        """:meth:`block_adder` for the plain COPY rows of a block, read in place."""
        both = self._block_adders(source)
        return None if both is None else both[1]

    def _block_adders(self, source: str) -> tuple[BlockFn, RowsFn] | None:
        core = self._core
        if core is None:
            return None
        self.adder(source)  # gives the source its id
        ident = self._ids[source]
        skip = frozenset(self._skip)
        in_text = self.in_text

        def block(raws: list[str]) -> None:
            later: list[str] = []
            added = core.collect(ident, raws, skip, in_text, copy_decode, later)
            self._added(core, ident, added, later)

        def rows(lines: list[str], width: int, at: int) -> None:
            later: list[str] = []
            added = core.collect_rows(ident, lines, width, at, skip, in_text, copy_decode, later)
            self._added(core, ident, added, later)

        return block, rows

    def collector(self) -> Sink:
        """A sink that adds the originals of the columns this index collects
        (for :func:`collect_originals`, or for the sanitizer's ``observer``,
        which collects while it sanitizes: one pass over the input)."""
        return _ValueSink(
            self.collects,
            lambda t, c: self.adder(f"{t}.{c}"),
            lambda t, c: self.block_adder(f"{t}.{c}"),
            lambda t, c: self.rows_adder(f"{t}.{c}"),
        )

    def _added(self, core: _fastindex.Index, ident: int, added: int, later: list[str]) -> None:
        """``added`` whole originals went into the compiled index; the keys of
        those ``later`` (not ASCII, or long) come from ``_text``."""
        self._whole += added
        self._flags = None
        for text in later:
            for key in original_keys(text):
                core.add_key(ident, key)

    def _add(self, ident: int, value: str) -> None:
        recent = self._recent
        seen = recent.get(value)
        if seen is not None and seen <= ident:
            return  # added a moment ago (names, cities, repeated keys)
        if len(recent) >= _RECENT:
            recent.clear()
        recent[value] = ident
        core = self._core
        if core is not None:
            later: list[str] = []
            self._added(core, ident, core.add(ident, value, self.in_text, later), later)
            return
        table = self._values
        before = table.count
        table.add(self._hash(value), ident)
        self._whole += table.count - before
        h = hash(value) & _FILTER_MASK
        self._filter[h >> 3] |= 1 << (h & 7)
        if self.in_text:
            for key in original_keys(value):
                self._add_key(ident, key)

    def _add_key(self, ident: int, key: str) -> None:
        self._texts.add(self._hash("\0" + key), ident)
        self._mark(key)
        kind = key[0]
        if kind == "#":
            self._digits = True
        elif kind == "@":
            self._emails = True
        else:
            self._words = True
            first = key[1:].partition(" ")[0]
            self._mark(first)
            firsts = self._firsts
            if firsts is not None:
                firsts.add(hash(first))
                if len(firsts) > _MAX_FIRSTS:
                    self._firsts = None
            length = key.count(" ") + 1
            if length not in self._lengths:
                self._lengths.append(length)
                self._lengths.sort()

    def export(self) -> tuple[object, ...]:
        """The index's state (hashes only) to rebuild it in another process:
        one forked from the same parent, since the filter is indexed by
        Python's string hashes, which are randomised per process family."""
        if self._core is not None:
            return (
                "compiled",
                self._key,
                list(self.sources),
                self._whole,
                self.in_text,
                self._core.export(),
            )
        table = self._values
        return (
            self._key,
            list(self.sources),
            table.keys.tobytes(),
            table.tags.tobytes(),
            table.mask,
            table.count,
            self._whole,
            bytes(self._filter),
            list(self._lengths),
            (self._words, self._digits, self._emails, self.in_text),
            None if self._firsts is None else list(self._firsts),
        )

    @classmethod
    def restore(cls, rules: Rules, state: tuple[object, ...]) -> OriginalIndex:
        """The index :meth:`export` gave the state of (with ``rules`` loaded here)."""
        if state[0] == "compiled":
            _, key, sources, whole, in_text, core = cast(
                "tuple[str, bytes, list[str], int, bool, tuple[object, ...]]", state
            )
            index = cls(rules, key=key, in_text=in_text, compiled=True)
            index.sources = list(sources)
            index._ids = {source: min(i, 0xFFFF) for i, source in enumerate(index.sources)}
            index._whole = whole
            index._core = _fastindex.Index.restore(core)
            return index
        key, sources, keys, tags, mask, count, whole, bits, lengths, flags, firsts = cast(
            "tuple[bytes, list[str], bytes, bytes, int, int, int, bytes, list[int], "
            "tuple[bool, bool, bool, bool], list[int] | None]",
            state,
        )
        index = cls(rules, key=key, in_text=flags[3], compiled=False)
        index.sources = list(sources)
        index._ids = {source: min(i, 0xFFFF) for i, source in enumerate(index.sources)}
        table = index._values
        table.keys = array("Q", keys)
        table.tags = array("H", tags)
        table.mask, table.count = mask, count
        index._whole = whole
        index._filter = bytearray(bits)
        index._lengths = list(lengths)
        index._firsts = None if firsts is None else set(firsts)
        index._words, index._digits, index._emails = flags[:3]
        return index

    def _maybe(self, text: str) -> bool:
        h = hash(text) & _FILTER_MASK
        return bool(self._filter[h >> 3] >> (h & 7) & 1)

    def source_of(self, value: str) -> str | None:
        """The column ``value`` is an original of, or ``None`` (whole values only)."""
        core = self._core
        if core is not None:
            ident = core.value_tag(value) if self._wanted(value) else -1
        elif not self._maybe(value) or not self._wanted(value):
            return None
        else:
            ident = self._values.get(self._hash(value))
        return None if ident < 0 else self.sources[ident]

    def _text_source(self, key: str) -> str | None:
        if self._core is not None:
            ident = self._core.key_tag(key)
        elif not self._maybe(key):
            return None
        else:
            ident = self._texts.get(self._hash("\0" + key))
        return None if ident < 0 else self.sources[ident]

    def sources_in(self, text: str) -> set[str]:
        """The columns whose originals ``text`` contains, as a whole or inside
        (as tokens, see ``_text``)."""
        whole = self.source_of(text)
        if whole is not None:
            return {whole}
        found: set[str] = set()
        if len(text) <= _CHUNK:
            self._search(text, found)
            return found
        if len(text) > MAX_TEXT_CHARS:
            raise ValueProblem(
                f"a value of {len(text) / 2**20:.0f} MiB is too large to search for originals "
                f"within the memory bound ({MAX_TEXT_CHARS // 2**20} MiB); give the column a "
                "transformation (null, fake: text) so that its originals are not kept"
            )
        # Long texts in overlapping pieces cut at blanks: a hit counts once.
        at = 0
        while at < len(text):
            end = at + _CHUNK
            cut = text.find(" ", end)
            end = len(text) if cut < 0 else cut
            self._search(text[max(0, at - _OVERLAP) : end], found)
            at = end
        return found

    def _core_flags(self, core: _fastindex.Index) -> tuple[bool, bool, bool, list[int]]:
        words, digits, emails, bits = core.flags
        lengths = [n for n in range(1, MAX_SEQUENCE + 1) if bits >> n & 1]
        self._flags = (bool(words), bool(digits), bool(emails), lengths)
        return self._flags

    def _search(self, text: str, found: set[str]) -> None:
        core = self._core
        if core is None:
            words, has_digits, emails = self._words, self._digits, self._emails
            lengths = self._lengths
        else:
            words, has_digits, emails, lengths = self._flags or self._core_flags(core)
        if PLAIN.fullmatch(text) is not None:
            # A number, date or time: only a run of digits can be an original.
            digits = text.lstrip("+")
            if has_digits and len(digits) >= MIN_DIGITS and digits.isdigit():
                source = self._text_source("#" + digits)
                if source is not None:
                    found.add(source)
            return
        if "@" in text and " " not in text and _EMAILS.fullmatch(text) is not None:
            # One e-mail address (a faked one, mostly): it is one token.
            if emails:
                source = self._text_source("@" + text.lower())
                if source is not None:
                    found.add(source)
            return
        if core is not None:
            tags: set[int] = set()
            if core.search(text, tags):  # all ASCII: searched in C
                found.update(self.sources[tag] for tag in tags)
                return
        if emails and "@" in text:
            for token in tokens(text):
                if "@" not in token:
                    continue
                source = self._text_source("@" + token.lower())
                if source is not None:
                    found.add(source)
        if has_digits and _DIGIT.search(text) is not None:
            for run in digit_runs(text):
                source = self._text_source("#" + run)
                if source is not None:
                    found.add(source)
        if not words or _LETTER.search(text) is None:
            return
        lows = [t.lower() for t in tokens(text)]
        firsts = self._firsts if core is None else None
        if firsts is not None and firsts.isdisjoint(map(hash, lows)):
            return
        filter_bits = self._filter
        single = lengths[0] == 1
        count = len(lows)
        toks: list[str] | None = None
        places: list[tuple[int, int]] | None = None
        for i, low in enumerate(lows):
            if core is not None:
                if not core.first(low):
                    continue
            else:
                h = hash(low) & _FILTER_MASK
                if not filter_bits[h >> 3] >> (h & 7) & 1:
                    continue
            if single and "@" not in low:
                source = self._text_source("-" + low)
                if source is None:
                    if toks is None:
                        toks = tokens(text)
                    if toks[i][0].isupper():
                        source = self._text_source("=" + low)
                        if source is None:
                            if places is None:
                                places = spans(text)
                            if not sentence_start(text, places, i):
                                source = self._text_source("^" + low)
                if source is not None:
                    found.add(source)
            for n in lengths:
                if n > 1:
                    if i + n > count:
                        break
                    source = self._text_source("~" + " ".join(lows[i : i + n]))
                    if source is not None:
                        found.add(source)


_CHUNK: Final = 1 << 16
#: At most this many distinct first tokens are kept in the fast set (about 15 MB).
_MAX_FIRSTS: Final = 250_000
#: Values remembered as just added or just found clean (then forgotten at once).
_RECENT: Final = 8192
_OVERLAP: Final = MAX_SEQUENCE * 80
_EMAILS: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_DIGIT: Final = re.compile(r"\d")
_LETTER: Final = re.compile(r"[^\W\d_]")


Chooser = Callable[[str, str], bool]
Recorder = Callable[[str, str, "str | None"], None]
#: The function that handles the values of one column (``None`` = NULL), and
#: how many times in a row the value came (1 unless said).
Looker = Callable[..., object]


class _Hits:
    def __init__(self, index: OriginalIndex, *, in_text: bool, detect: bool) -> None:
        self.index = index
        self.in_text = in_text
        self.detect = detect
        self.found: dict[tuple[str, str], dict[str, int]] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.kinds: dict[tuple[str, str], dict[str, int]] = {}
        self._lookers: dict[tuple[str, str], tuple[BlockFn, RowsFn]] = {}

    def choose(self, table: str, column: str) -> bool:
        """The columns to read: searched for originals, or checked by the detection."""
        return self.index.searches(table, column) or self.detects(table, column)

    def detects(self, table: str, column: str) -> bool:
        return self.detect and self.index.detects(table, column)

    def looker(self, table: str, column: str) -> Looker:
        """The function that looks at the values of ``table.column``."""
        index = self.index
        key = (table, column)
        searched = index.searches(table, column)
        detecting = self.detects(table, column)
        find = index.sources_in if self.in_text and index.in_text else index.source_of
        per_source = self.found.setdefault(key, {})
        per_kind = self.kinds.setdefault(key, {})
        counts = self.counts
        get = per_source.get
        clean: set[str] = set()
        caching = True
        hits = 0

        def look(value: str | None, times: int = 1) -> None:
            nonlocal caching, hits
            if value is None:
                return
            if caching:
                if value in clean:
                    hits += times
                    return
                if len(clean) >= _RECENT:
                    clean.clear()
                    # Fewer than 1 repeat in 16 values since the last fill: stop.
                    caching = hits * 16 >= _RECENT
                    hits = 0
            if searched:
                sources = find(value)
                if sources:
                    if isinstance(sources, str):
                        per_source[sources] = get(sources, 0) + times
                    else:
                        for source in sources:
                            per_source[source] = get(source, 0) + times
                    counts[key] = counts.get(key, 0) + times
                    return
            if detecting:
                kind = detect(value)
                if kind is not None:
                    per_kind[kind] = per_kind.get(kind, 0) + times
                    return
            if caching:
                clean.add(value)

        return look

    def block_looker(self, table: str, column: str) -> BlockFn | None:
        """What :meth:`looker` does, for the COPY fields of a block of rows, in
        the compiled index; ``None`` without it (or for a column only
        checked by the detection)."""
        both = self.block_lookers(table, column)
        return None if both is None else both[0]

    def rows_looker(self, table: str, column: str) -> RowsFn | None:
        """:meth:`block_looker` for the plain COPY rows of a block, read in place."""
        both = self.block_lookers(table, column)
        return None if both is None else both[1]

    def block_lookers(self, table: str, column: str) -> tuple[BlockFn, RowsFn] | None:
        """The functions of :meth:`block_looker` and :meth:`rows_looker`
        (one pair per column: they share the counts and the cache)."""
        key = (table, column)
        made = self._lookers.get(key)
        if made is not None:
            return made
        index = self.index
        core = index._core
        if core is None or not index.searches(table, column):
            return None
        look = self.looker(table, column)  # for the values left to Python
        in_text = self.in_text and index.in_text
        detecting = self.detects(table, column)
        per_source = self.found.setdefault(key, {})
        per_kind = self.kinds.setdefault(key, {})
        counts = self.counts
        sources = index.sources
        skip = frozenset(index._skip)
        clean: set[str] = set()
        caching = True
        hits = 0

        def take(
            found: list[tuple[set[int], int]],
            rest: list[tuple[str, int]],
            left: list[tuple[str, int]],
            clean_hits: int,
        ) -> None:
            nonlocal caching, hits
            for tags, times in found:
                for tag in tags:
                    source = sources[tag]
                    per_source[source] = per_source.get(source, 0) + times
                counts[key] = counts.get(key, 0) + times
            for value, times in rest:  # those the detection may find something in
                kind = detect(value)
                if kind is not None:
                    per_kind[kind] = per_kind.get(kind, 0) + times
                elif caching:
                    clean.add(value)
            for value, times in left:
                look(value, times)
            if caching:
                hits += clean_hits
                if len(clean) >= _RECENT:
                    clean.clear()
                    # Fewer than 1 repeat in 16 values since the last fill: stop.
                    caching = hits * 16 >= _RECENT
                    hits = 0

        def block(raws: list[str]) -> None:
            cache = clean if caching else None
            take(*core.look(raws, skip, copy_decode, in_text, detecting, cache, _CHUNK))

        def rows(lines: list[str], width: int, at: int) -> None:
            cache = clean if caching else None
            take(
                *core.look_rows(
                    lines, width, at, skip, copy_decode, in_text, detecting, cache, _CHUNK
                )
            )

        made = self._lookers[key] = (block, rows)
        return made

    def look(self, table: str, column: str, value: str | None) -> None:
        self.looker(table, column)(value)

    def leaks(self) -> list[Leak]:
        found = [
            Leak(table, column, self.counts[(table, column)], tuple(sorted(sources)))
            for (table, column), sources in sorted(self.found.items())
            if sources
        ]
        found += [
            Leak(table, column, sum(kinds.values()), (), tuple(k for k in DETECTORS if k in kinds))
            for (table, column), kinds in sorted(self.kinds.items())
            if kinds
        ]
        return found


def _recorder(look: Looker) -> ValueFn:
    def value(original: str | None) -> str | None:
        look(original)
        return original

    return value


def _block_looker(look: Looker) -> BlockFn:
    """``look`` for the COPY fields of a block of rows: each distinct field
    once, with the number of times it came (counted at C speed)."""

    def block(raws: list[str]) -> None:
        for raw, times in collections.Counter(raws).items():
            if raw != "\\N":
                look(copy_decode(raw) if "\\" in raw else raw, times)

    return block


def _recording_copy(record: ValueFn) -> CopyFn:
    def copy(raw: str) -> str:
        if raw != "\\N":
            record(copy_decode(raw) if "\\" in raw else raw)
        return raw

    return copy


class _ValueSink:
    """Calls ``make(table, column)(value)`` for the values of the chosen columns;
    changes nothing."""

    def __init__(
        self,
        choose: Chooser,
        make: Callable[[str, str], Looker],
        make_block: Callable[[str, str], BlockFn | None] | None = None,
        make_rows: Callable[[str, str], RowsFn | None] | None = None,
    ) -> None:
        self.choose = choose
        self.make = make
        self.make_block = make_block
        self.make_rows = make_rows

    @property
    def failed(self) -> bool:
        return False

    def plan(
        self, table: str, columns: tuple[str, ...] | None, where: str, *, complete: bool = True
    ) -> TablePlan:
        if columns is None:
            return TablePlan(table, ())
        items: list[PlanItem] = []
        for index, column in enumerate(columns):
            if self.choose(table, column):
                look = self.make(table, column)
                value = _recorder(look)
                block = None if self.make_block is None else self.make_block(table, column)
                rows = None if self.make_rows is None else self.make_rows(table, column)
                items.append(
                    PlanItem(
                        index,
                        column,
                        _recording_copy(value),
                        value,
                        block or _block_looker(look),
                        rows=rows,
                    )
                )
        return TablePlan(table, columns, tuple(items), observe=True)

    def count(self, table: str, rows: int, dropped: bool) -> None:
        pass

    def finish(self) -> None:
        pass


def _scan_file(path: Path, sink: Sink, fmt: Format, table: str | None) -> None:
    detected = detect_format(path, fmt)
    if detected == "csv" and table is None:
        table = table_from_path(path)
    with open_input(path) as src:
        try:
            collections.deque(_process(src, sink, detected, table, str(path)), maxlen=0)
        except UnicodeDecodeError as exc:
            raise decode_error(path, exc) from None


def index_key(salt: bytes | None) -> bytes | None:
    """The key of an index of originals derived from ``salt`` (random without)."""
    return hmac.digest(salt, b"leak-index", "sha256") if salt else None


def collect_originals(
    input: Path,
    rules: Rules,
    *,
    fmt: Format = "auto",
    table: str | None = None,
    salt: bytes | None = None,
    in_text: bool = True,
) -> OriginalIndex:
    """Hash the original values of the sanitized columns of ``input``.

    With ``salt``, the index's hash key is derived from it (the same in every
    process); without, it is random. Without ``in_text``, only whole values
    are kept (the index cannot find originals inside texts).
    """
    index = OriginalIndex(rules, key=index_key(salt), in_text=in_text)
    _scan_file(Path(input), index.collector(), fmt, table)
    return index


def check_leaks(
    originals: OriginalIndex,
    seen_values: Iterable[tuple[str, str, object]],
    *,
    in_text: bool = True,
    detect: bool = False,
) -> list[Leak]:
    """Look up every ``(table, column, value)`` (e.g. rows read from the seeded
    database) in ``originals``; one :class:`Leak` per table and column with hits.

    Values are compared as text: pass them as PostgreSQL prints them (select
    ``col::text``); other objects are converted with ``str()``. NULLs (None)
    are skipped, as are columns the rules make coincidences likely in (see
    the module documentation). ``in_text`` also finds originals inside longer
    values; ``detect`` also reports values of kept columns that look like
    personal data (off by default here: a caller that turns it on must show
    :attr:`Leak.kinds`, as :func:`raise_for_leaks` does).
    """
    hits = _Hits(originals, in_text=in_text, detect=detect)
    lookers: dict[tuple[str, str], Looker | None] = {}
    for table, column, value in seen_values:
        key = (table, column)
        if key in lookers:
            look = lookers[key]
        else:
            look = lookers[key] = hits.looker(table, column) if hits.choose(table, column) else None
        if look is not None and value is not None:
            try:
                look(value if isinstance(value, str) else str(value))
            except ValueProblem as exc:
                raise DataError(f"table {table}, column {column}: {exc}") from None
    return hits.leaks()


def check_leaks_files(
    original: Path,
    sanitized: Path,
    rules: Rules,
    salt: bytes | None = None,
    *,
    fmt: Format = "auto",
    table: str | None = None,
    in_text: bool = True,
    detect: bool = True,
    originals: OriginalIndex | None = None,
) -> list[Leak]:
    """Check that no original value of a sanitized column of ``original``
    appears anywhere in ``sanitized`` (any table, any column), whole or (with
    ``in_text``) inside longer values; with ``detect``, also report values of
    kept columns that look like personal data. ``originals``: the index of
    ``original`` if already collected (see :func:`collect_originals`)."""
    index = originals
    if index is None:
        index = collect_originals(original, rules, fmt=fmt, table=table, salt=salt, in_text=in_text)
    hits = _Hits(index, in_text=in_text, detect=detect)
    sink = _ValueSink(hits.choose, hits.looker, hits.block_looker, hits.rows_looker)
    _scan_file(Path(sanitized), sink, fmt, table)
    return hits.leaks()


def raise_for_leaks(leaks: Iterable[Leak], *, where: str) -> None:
    """Raise a :class:`LeakError` (a :class:`DataError`) if there are leaks."""
    found = list(leaks)
    if not found:
        return
    originals = [leak for leak in found if not leak.detected]
    detected = [leak for leak in found if leak.detected]
    parts: list[str] = []
    if originals:
        total = sum(leak.count for leak in originals)
        parts.append(
            f"{total} original value{'s' if total != 1 else ''} survived sanitization: "
            f"{'; '.join(str(leak) for leak in originals)}; give those columns (or the "
            "columns the values were copied into) a transformation"
        )
    if detected:
        total = sum(leak.count for leak in detected)
        parts.append(
            f"{total} value{'s' if total != 1 else ''} of kept columns look like personal "
            f"data: {'; '.join(str(leak) for leak in detected)}; give those columns a "
            "transformation, or, if the values are not personal data, say so in the rules "
            "with 'leak_check: reviewed' and a 'reason:'"
        )
    raise LeakError(f"{where}: leak check failed, " + " | ".join(parts), found)
