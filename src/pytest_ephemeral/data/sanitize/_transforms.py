"""Compiling a rule's transformation into a fast function of one value.

Every derived value is a function of HMAC-SHA256(salt, label + NUL + value)
only: the table and column do not enter it, so the same original gets the
same replacement wherever it occurs, and joins on sanitized columns still
match. The label is the transformation (``fake:email``, ``hash``, ...).
"""

from __future__ import annotations

import hashlib
import importlib
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Protocol, cast

from ._fakes import GENERATORS, UNIQUE_GENERATORS
from ._rules import Fake, Fixed, Hash, Keep, Mask, Noise, Null, Transform

__all__ = ["REDRAWS", "Compiled", "ValueProblem", "compile_transform", "keyed_digest", "redraw"]

#: How often a replacement equal to its original is drawn again before giving
#: up (only values with almost no possible replacements, such as "-", get there).
REDRAWS: Final = 16

Digest = Callable[[str], bytes]
ValueFn = Callable[[str], "str | None"]
Render = Callable[[bytes, str], str]

_IPAD: Final = bytes(b ^ 0x36 for b in range(256))
_OPAD: Final = bytes(b ^ 0x5C for b in range(256))
_COPY_SPECIAL: Final = frozenset("\\\t\n\r\b\f\v")


class ValueProblem(Exception):
    """A value the transformation cannot handle; the caller adds where it was.

    The message never contains the value itself: values may be sensitive.
    """


class HashState(Protocol):
    def copy(self) -> HashState: ...
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Compiled:
    """A transformation ready to run.

    ``fn`` maps a non-NULL value to its replacement (``None`` = NULL);
    ``on_null`` is the replacement of NULL. ``safe`` says that no output of
    ``fn`` contains characters COPY's text format has to escape; ``echoes``
    that the only such characters in an output are ones of the input (so the
    output is safe when the input was).
    """

    fn: ValueFn
    on_null: str | None
    safe: bool
    echoes: bool = False
    #: For transformations of the form ``render(HMAC(salt, label + value), value)``:
    #: the keyed HMAC states and ``render``, so that callers can inline the HMAC.
    keyed: tuple[HashState, HashState] | None = None
    render: Render | None = None
    #: An output equal to its input is drawn again (see :func:`redraw`).
    redraws: bool = False
    #: What the compiled sanitizer (``_fastcopy``) needs to do the same as
    #: ``fn``: the padded HMAC key, the label, the render's kind and its
    #: parameter (a hash's length, a noise's amount); ``None``: Python only.
    native: Native | None = None


#: (64-byte HMAC key, label, kind, parameter), see :attr:`Compiled.native`.
Native = tuple[bytes, str, str, float]


def _sha256_constructor() -> Callable[[bytes], HashState]:
    """CPython's own SHA-256 when present: same digests as OpenSSL's, but
    cheaper to copy and call for the short messages hashed here."""
    for name in ("_sha256", "_sha2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        constructor = getattr(module, "sha256", None)
        if constructor is not None and constructor(b"abc").digest() == _ABC:
            return cast("Callable[[bytes], HashState]", constructor)
    return cast("Callable[[bytes], HashState]", hashlib.sha256)


_ABC: Final = hashlib.sha256(b"abc").digest()
_sha256: Final = _sha256_constructor()


def hmac_key(salt: bytes) -> bytes:
    """The salt as HMAC-SHA256's 64-byte key block (hashed when longer)."""
    key = hashlib.sha256(salt).digest() if len(salt) > 64 else salt
    return key.ljust(64, b"\0")


def keyed_states(salt: bytes, label: str) -> tuple[HashState, HashState]:
    """HMAC-SHA256's inner state (keyed, fed ``label + "\\0"``) and outer state."""
    key = hmac_key(salt)
    inner = _sha256(key.translate(_IPAD))
    inner.update(label.encode() + b"\0")
    return inner, _sha256(key.translate(_OPAD))


def keyed_digest(salt: bytes, label: str) -> Digest:
    """``value -> HMAC-SHA256(salt, label + "\\0" + value)``, with the keyed
    inner and outer states prepared once and copied per value."""
    inner, outer = keyed_states(salt, label)
    inner_copy = inner.copy
    outer_copy = outer.copy

    def digest(value: str) -> bytes:
        h = inner_copy()
        h.update(value.encode())
        o = outer_copy()
        o.update(h.digest())
        return o.digest()

    return digest


def compile_transform(transform: Transform, salt: bytes) -> Compiled | None:
    """The function for ``transform`` under ``salt``; ``None`` for ``keep``."""
    if isinstance(transform, Keep):
        return None
    if isinstance(transform, Null):
        return Compiled(_null, None, True)
    if isinstance(transform, Fixed):
        constant = transform.value
        return Compiled(lambda _value: constant, constant, constant is None or _safe(constant))
    if isinstance(transform, Fake):
        table = UNIQUE_GENERATORS if transform.unique else GENERATORS
        render = table[transform.kind]
        # The compiled generators are named as the Python ones (_fastcopy.c, KINDS).
        return _keyed(
            salt,
            "fake:" + transform.kind,
            render,
            echoes=False,
            redraws=True,
            kind=render.__name__,
        )
    if isinstance(transform, Hash):
        if not transform.keep_format:
            render = _hex_render(transform.length)
            return _keyed(
                salt,
                "hash",
                render,
                echoes=False,
                redraws=True,
                kind="hash",
                param=transform.length,
            )
        if transform.unique:
            return Compiled(_FormatPermutation(salt).apply, None, False, echoes=True)
        return _keyed(salt, "hash", _format_render(), echoes=True, redraws=True, kind="hash_format")
    if isinstance(transform, Mask):
        return Compiled(_mask(transform), None, False, echoes=True)
    kind = None if transform.mode == "days" else "noise_" + transform.mode
    return _keyed(
        salt, "noise", _noise_render(transform), echoes=False, kind=kind, param=transform.amount
    )


def redraw(render: Render, digest: bytes, value: str) -> str:
    """``render`` again from SHA-256 of the digest, until the output differs
    from ``value`` (at most :data:`REDRAWS` times): deterministic, like the
    first draw, so the same original still gets the same replacement."""
    out = value
    for _ in range(REDRAWS):
        digest = _sha256(digest).digest()
        out = render(digest, value)
        if out != value:
            break
    return out


def _keyed(
    salt: bytes,
    label: str,
    render: Render,
    *,
    echoes: bool,
    redraws: bool = False,
    kind: str | None = None,
    param: float = 0.0,
) -> Compiled:
    inner, outer = keyed_states(salt, label)
    inner_copy = inner.copy
    outer_copy = outer.copy

    def keyed(value: str) -> str:
        h = inner_copy()
        h.update(value.encode())
        o = outer_copy()
        o.update(h.digest())
        digest = o.digest()
        out = render(digest, value)
        if redraws and out == value:
            return redraw(render, digest, value)
        return out

    safe = not echoes
    native = None if kind is None else (hmac_key(salt), label, kind, float(param))
    return Compiled(keyed, None, safe, echoes, (inner, outer), render, redraws, native)


def _safe(text: str) -> bool:
    return _COPY_SPECIAL.isdisjoint(text)


def _null(value: str) -> str | None:
    return None


# --------------------------------------------------------------------- fake, hash


def _hex_render(length: int) -> Render:
    def hex_hash(digest: bytes, value: str) -> str:
        return digest.hex()[:length]

    return hex_hash


_SHAPE: Final = str.maketrans(
    {
        **{chr(c): "9" for c in range(48, 58)},
        **{chr(c): "a" for c in range(97, 123)},
        **{chr(c): "A" for c in range(65, 91)},
    }
)
_DIGIT_BYTES: Final = bytes(48 + b % 10 for b in range(256))
_LOWER_BYTES: Final = bytes(97 + b % 26 for b in range(256))
_UPPER_BYTES: Final = bytes(65 + b % 26 for b in range(256))
_SHAPES_CACHED: Final = 4096


@dataclass(frozen=True, slots=True)
class _Shape:
    """How to assemble outputs of one shape (``+99 (9) 9999``, ``AA99 9999``).

    The output is cut from one string: the shape itself (for the kept
    characters) followed by the digest's bytes as digits, lower-case and
    upper-case letters (each ``width`` long); ``pick`` takes the runs.
    """

    pick: Callable[[str], tuple[str, ...] | str]
    digits: bool
    lower: bool
    upper: bool


def _compile_shape(shape: str) -> _Shape:
    size = len(shape)
    width = max(32, size)
    kinds = "9aA"
    present = [kind in shape for kind in kinds]
    offsets: dict[str, int] = {}
    at = size
    for kind, used in zip(kinds, present, strict=True):
        if used:
            offsets[kind] = at
            at += width
    slices: list[slice] = []
    start = 0
    for i in range(1, size + 1):
        if i == size or _run_kind(shape[i]) != _run_kind(shape[start]):
            base = offsets.get(shape[start], 0)
            slices.append(slice(base + start, base + i))
            start = i
    return _Shape(operator.itemgetter(*slices), *present)


def _run_kind(ch: str) -> str:
    return ch if ch in "9aA" else ""


def _format_render() -> Render:
    """ASCII digits stay digits, letters stay letters of the same case; every
    other character (punctuation, spaces, non-ASCII) is kept; same length."""
    shapes: dict[str, _Shape] = {}

    def format_hash(stream: bytes, value: str) -> str:
        if not value:
            return value
        shape = value.translate(_SHAPE)
        compiled = shapes.get(shape)
        if compiled is None:
            compiled = _compile_shape(shape)
            if len(shape) <= 64:
                if len(shapes) >= _SHAPES_CACHED:
                    shapes.clear()
                shapes[shape] = compiled
        if len(value) > 32:
            stream = hashlib.shake_256(stream).digest(len(value))
        source = shape
        if compiled.digits:
            source += stream.translate(_DIGIT_BYTES).decode("ascii")
        if compiled.lower:
            source += stream.translate(_LOWER_BYTES).decode("ascii")
        if compiled.upper:
            source += stream.translate(_UPPER_BYTES).decode("ascii")
        return "".join(compiled.pick(source))

    return format_hash


_ALPHABETS: Final = {
    **{chr(c): ("0123456789", c - 48) for c in range(48, 58)},
    **{chr(c): ("abcdefghijklmnopqrstuvwxyz", c - 97) for c in range(97, 123)},
    **{chr(c): ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", c - 65) for c in range(65, 91)},
}


class _FormatPermutation:
    """Format-preserving hashing that is also one-to-one (``unique: true``).

    The ASCII letters and digits of a value are read as one number in a mixed
    radix (10 or 26 per position); a keyed Feistel network with cycle walking
    permutes the numbers of that size, and the result is written back in the
    same positions. Two different inputs of the same format give different
    outputs (it is a permutation); inputs of different formats differ in
    their kept characters or their length, and so do their outputs.
    """

    __slots__ = ("_digests", "_salt")

    _ROUNDS: Final = 10

    def __init__(self, salt: bytes) -> None:
        self._salt = salt
        self._digests: dict[str, Digest] = {}

    def apply(self, value: str) -> str:
        chars = list(value)
        positions: list[int] = []
        radices: list[int] = []
        alphabets: list[str] = []
        number = 0
        for i, ch in enumerate(chars):
            found = _ALPHABETS.get(ch)
            if found is None:
                continue
            alphabet, digit = found
            positions.append(i)
            radices.append(len(alphabet))
            alphabets.append(alphabet)
            number = number * len(alphabet) + digit
        size = math.prod(radices)
        if size < 2:
            return value
        shape = "".join("d" if r == 10 else "a" for r in radices) + ":" + str(len(value))
        permuted = self._permute(number, size, shape)
        for i in range(len(positions) - 1, -1, -1):
            permuted, digit = divmod(permuted, radices[i])
            chars[positions[i]] = alphabets[i][digit]
        return "".join(chars)

    def _permute(self, number: int, size: int, shape: str) -> int:
        left_size = math.isqrt(size - 1) + 1
        right_size = -(-size // left_size)
        digest = self._digests.get(shape)
        if digest is None:
            if len(self._digests) >= _SHAPES_CACHED:
                self._digests.clear()
            digest = self._digests[shape] = keyed_digest(self._salt, "hash-permute:" + shape)
        nbytes = (max(left_size, right_size).bit_length() + 7) // 8 + 8
        while True:
            left, right = divmod(number, right_size)
            for rnd in range(self._ROUNDS):
                if rnd % 2 == 0:
                    left = (left + _wide(digest, f"{rnd}:{right}", nbytes)) % left_size
                else:
                    right = (right + _wide(digest, f"{rnd}:{left}", nbytes)) % right_size
            number = left * right_size + right
            if number < size:
                return number


def _wide(digest: Digest, message: str, nbytes: int) -> int:
    block = digest(message)
    if nbytes > len(block):
        block = hashlib.shake_256(block).digest(nbytes)
    return int.from_bytes(block[:nbytes], "little")


# --------------------------------------------------------------------------- mask


def _mask(transform: Mask) -> ValueFn:
    first, last, char = transform.keep_first, transform.keep_last, transform.char
    keep_separators = transform.keep_separators

    def mask(value: str) -> str:
        size = len(value)
        head, tail = first, last
        if head + tail >= size:
            # Too short to keep anything without showing it whole: mask it all.
            head = tail = 0
        middle = value[head : size - tail]
        if keep_separators:
            hidden = "".join(char if ch.isalnum() else ch for ch in middle)
        else:
            hidden = char * len(middle)
        return value[:head] + hidden + value[size - tail :]

    return mask


# -------------------------------------------------------------------------- noise

_SPECIAL_NUMBERS: Final = frozenset({"NaN", "Infinity", "-Infinity", "infinity", "-infinity"})
_TWO_63: Final = float(2**63)


def _unit(digest: bytes) -> float:
    """A number in [-1, 1) from the digest."""
    return int.from_bytes(digest[:8], "little") / _TWO_63 - 1.0


def _noise_render(transform: Noise) -> Render:
    amount = transform.amount
    if transform.mode == "days":
        seconds = amount * 86400.0

        def shift_date(digest: bytes, value: str) -> str:
            return _shift_date(value, _unit(digest), amount, seconds)

        return shift_date

    relative = transform.mode == "relative"
    not_a_number = f"value is not a number (noise: {transform.mode} needs numbers)"

    def shift_number(digest: bytes, value: str) -> str:
        if "." not in value and "e" not in value and "E" not in value:
            try:
                whole = int(value)
            except ValueError:
                if value in _SPECIAL_NUMBERS:
                    return value
                raise ValueProblem(not_a_number) from None
            u = int.from_bytes(digest[:8], "little") / _TWO_63 - 1.0
            return str(round(whole * (1.0 + u * amount) if relative else whole + u * amount))
        try:
            number = float(value)
        except ValueError:
            raise ValueProblem(not_a_number) from None
        u = int.from_bytes(digest[:8], "little") / _TWO_63 - 1.0
        moved = number * (1.0 + u * amount) if relative else number + u * amount
        if "e" in value or "E" in value or not math.isfinite(moved):
            return repr(moved)
        return "%.*f" % (len(value) - value.index(".") - 1, moved)  # noqa: UP031

    return shift_number


def _shift_date(value: str, u: float, days: float, seconds: float) -> str:
    if value in _SPECIAL_NUMBERS:
        return value
    bad = ValueProblem("value is not a date or timestamp (noise: days needs YYYY-MM-DD...)")
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        raise bad
    try:
        day = date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
        rest = value[10:]
        if not rest:
            return date.fromordinal(day.toordinal() + round(u * days)).isoformat()
        if len(rest) < 9 or rest[0] not in " T" or rest[3] != ":" or rest[6] != ":":
            raise bad
        moment = datetime(
            day.year, day.month, day.day, int(rest[1:3]), int(rest[4:6]), int(rest[7:9])
        ) + timedelta(seconds=round(u * seconds))
    except (ValueError, OverflowError):
        raise bad from None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{rest[0]}"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{rest[9:]}"
    )
