"""The spec's ``parity:`` block (top level of ``ephemeral.yaml``, or under
``x-ephemeral:`` / as ``x-parity:`` in a Compose file)::

    parity:
      against: [deploy/prod/]          # relative to the spec file
      map: {db: postgres}              # spec service -> production name
      accept:
        - {service: db, field: replicas, why: one replica is enough for tests}

Read from the spec file here (the spec model does not carry it), with line
numbers for every error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..spec.model import Spec
from ._errors import ParityError
from ._yaml import shown_path

__all__ = ["Accept", "ParityConfig", "read_parity_config", "spec_parity_config"]

_KEYS = ("against", "map", "accept")
_ACCEPT_KEYS = ("service", "field", "why")


@dataclass(frozen=True, slots=True)
class Accept:
    """A difference accepted on purpose. ``field`` is exact (``image.tag``), a
    prefix (``resources`` covers ``resources.limits.cpu``) or a ``*`` pattern
    (``env.*``); ``service`` is a name or ``*``."""

    service: str
    field: str
    why: str
    line: int | None = None

    def matches(self, service: str | tuple[str, ...], field: str) -> bool:
        names = (service,) if isinstance(service, str) else service
        if self.service != "*" and self.service not in names:
            return False
        if "*" in self.field:
            import re

            pattern = ".*".join(re.escape(part) for part in self.field.split("*"))
            return re.fullmatch(pattern, field) is not None
        return field == self.field or field.startswith(self.field + ".")


@dataclass(frozen=True, slots=True)
class ParityConfig:
    file: Path | None = None
    against: tuple[Path, ...] = ()
    map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    map_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    accept: tuple[Accept, ...] = ()

    def where(self, line: int | None) -> str:
        shown = shown_path(self.file) if self.file else "the spec"
        return f"{shown}:{line}" if line else shown


def spec_parity_config(spec: Spec) -> ParityConfig:
    """The spec's parity block: the spec model's ``parity`` when the loader
    carries it (line numbers taken from the file where the entries match),
    else read from the file here (``parity:``, ``x-ephemeral.parity``, ``x-parity``)."""
    model = getattr(spec, "parity", None)
    if model is None:
        return read_parity_config(spec.path)
    try:
        raw = read_parity_config(spec.path)
    except ParityError:  # the loader accepted what this reader does not: its word counts
        raw = ParityConfig(spec.path)
    lines = {(a.service, a.field): a.line for a in raw.accept}
    return ParityConfig(
        spec.path,
        tuple(Path(p) for p in model.against),
        MappingProxyType(dict(model.map)),
        raw.map_lines,
        tuple(
            Accept(a.service, a.field, a.why, lines.get((a.service, a.field))) for a in model.accept
        ),
    )


def read_parity_config(spec_file: Path) -> ParityConfig:
    """The ``parity:`` block of ``spec_file`` (empty when there is none)."""
    import yaml

    shown = shown_path(spec_file)
    try:
        root = yaml.compose(spec_file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ParityConfig(spec_file)  # load_spec reports what is wrong with the file
    if not isinstance(root, yaml.MappingNode):
        return ParityConfig(spec_file)
    found: list[tuple[str, yaml.Node]] = []
    for key, value in root.value:
        if key.value in ("parity", "x-parity"):
            found.append((str(key.value), value))
        elif key.value == "x-ephemeral" and isinstance(value, yaml.MappingNode):
            found += [("x-ephemeral.parity", v) for k, v in value.value if k.value == "parity"]
    if not found:
        return ParityConfig(spec_file)
    if len(found) > 1:
        raise ParityError(
            f"{shown}:{found[1][1].start_mark.line + 1}: {found[1][0]}: the parity block is "
            f"given twice (also as {found[0][0]}) (keep one of them)"
        )
    where, node = found[0]
    return _parse(spec_file, shown, where, node)


def _line(node: object) -> int:
    import yaml

    assert isinstance(node, yaml.Node)
    return int(node.start_mark.line) + 1


def _parse(spec_file: Path, shown: str, where: str, node: object) -> ParityConfig:
    import yaml

    def fail(at: object, key: str, problem: str, fix: str) -> ParityError:
        return ParityError(f"{shown}:{_line(at)}: {key}: {problem} ({fix})")

    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        return ParityConfig(spec_file)
    if not isinstance(node, yaml.MappingNode):
        raise fail(
            node, where, "expected a mapping", "write parity: {against: [...], accept: [...]}"
        )
    against: list[Path] = []
    mapping: dict[str, str] = {}
    lines: dict[str, int] = {}
    accept: list[Accept] = []
    for key_node, value in node.value:
        key = str(key_node.value)
        here = f"{where}.{key}"
        if key not in _KEYS:
            raise fail(key_node, here, "unknown key", f"use one of {', '.join(_KEYS)}")
        if key == "against":
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for item in items:
                if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                    raise fail(item, here, "expected a path", "write against: [deploy/prod.yaml]")
                path = Path(str(item.value)).expanduser()
                against.append(path if path.is_absolute() else spec_file.parent / path)
        elif key == "map":
            if not isinstance(value, yaml.MappingNode):
                raise fail(
                    value, here, "expected a mapping", "write map: {SERVICE: PRODUCTION_NAME}"
                )
            for k, v in value.value:
                if not isinstance(v, yaml.ScalarNode) or not str(v.value).strip():
                    raise fail(
                        v,
                        f"{here}.{k.value}",
                        "expected a production name",
                        "write map: {db: postgres}",
                    )
                mapping[str(k.value)] = str(v.value).strip()
                lines[str(k.value)] = _line(k)
        else:
            if not isinstance(value, yaml.SequenceNode):
                raise fail(
                    value,
                    here,
                    "expected a list",
                    "write accept: [{service: S, field: F, why: REASON}]",
                )
            for index, item in enumerate(value.value):
                accept.append(_accept(fail, f"{here}[{index}]", item))
    return ParityConfig(
        spec_file, tuple(against), MappingProxyType(mapping), MappingProxyType(lines), tuple(accept)
    )


def _accept(fail: object, here: str, item: object) -> Accept:
    import yaml

    assert callable(fail)
    if not isinstance(item, yaml.MappingNode):
        raise fail(item, here, "expected a mapping", "write {service: S, field: F, why: REASON}")
    values: dict[str, str] = {}
    for k, v in item.value:
        if k.value not in _ACCEPT_KEYS:
            raise fail(k, f"{here}.{k.value}", "unknown key", f"use {', '.join(_ACCEPT_KEYS)}")
        if not isinstance(v, yaml.ScalarNode) or not str(v.value).strip():
            raise fail(v, f"{here}.{k.value}", "expected text", "write a value")
        values[str(k.value)] = str(v.value).strip()
    for key in _ACCEPT_KEYS:
        if key not in values:
            fix = (
                "say why this difference is acceptable: an accepted difference carries its reason"
                if key == "why"
                else f"add {key}:"
            )
            raise fail(item, f"{here}.{key}", "missing", fix)
    return Accept(values["service"], values["field"], values["why"], _line(item))
