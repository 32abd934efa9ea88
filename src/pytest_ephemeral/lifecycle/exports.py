"""Exports: environment variables made from a running environment's services.

A template names a service's fields: ``{db.host}``, ``{db.port[5432]}``,
``{db.url}``, ``{db.user}``, ``{db.password}``, ``{db.database}``. Templates
come from the spec (``exports:``, validated at load time) and from the
command line (``eph run --export NAME=TEMPLATE``); both are parsed here once,
against the spec, before anything starts, and rendered against the running
:class:`~pytest_ephemeral.runtime.environment.Environment` afterwards.

Without any template, :func:`compile_exports` gives one variable per service
address and URL: ``EPH_DB_HOST``, ``EPH_DB_PORT_5432``, ``EPH_DB_URL``.

Used by ``eph run`` (the command's environment), ``eph env`` (printed in a
machine format by :func:`format_exports`) and the pytest plugin
(``os.environ``). Human output shows :meth:`Exports.render` with
``redact=True``: passwords as ``***``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from ..errors import SpecError

if TYPE_CHECKING:
    from ..runtime.environment import Environment
    from ..spec.model import ServiceSpec, Spec

__all__ = [
    "FORMATS",
    "ExportError",
    "Exports",
    "Field",
    "Template",
    "compile_exports",
    "format_exports",
    "parse_assignments",
]

FIELDS: Final = ("host", "port", "url", "user", "password", "database")
CONNECTION_FIELDS: Final = ("url", "user", "password", "database")
FORMATS: Final = ("sh", "dotenv", "json", "github")
Format = Literal["sh", "dotenv", "json", "github"]
REDACTED: Final = "***"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD = re.compile(r"\{([^{}]*)\}")
_FIELD_FORM = re.compile(
    r"(?P<svc>[A-Za-z0-9][A-Za-z0-9_.-]*)\.(?P<field>[a-z_]+)(?:\[(?P<port>[^\]]*)\])?"
)
_FIX: Final = (
    "write e.g. DATABASE_URL='postgresql://{db.user}:{db.password}@{db.host}:{db.port[5432]}/"
    "{db.database}'"
)
_FIELD_LIST: Final = (
    "{svc.host}, {svc.port[N]}, {svc.url}, {svc.user}, {svc.password}, {svc.database}"
)


class ExportError(SpecError):
    """A template or an export name cannot be used (exit 2, before anything starts),
    or a rendered field has no value on the running environment."""


@dataclass(frozen=True, slots=True)
class Field:
    """``{service.name}`` or ``{service.port[N]}`` in a template."""

    service: str
    name: str
    port: int | None = None

    def __str__(self) -> str:
        tail = f"[{self.port}]" if self.port is not None else ""
        return f"{{{self.service}.{self.name}{tail}}}"


@dataclass(frozen=True, slots=True)
class Template:
    """One export: ``name`` = the literal and :class:`Field` parts, in order.
    ``where`` places it for messages (``ephemeral.yaml: exports.DSN``, ``--export DSN``)."""

    name: str
    source: str
    parts: tuple[str | Field, ...]
    where: str

    @property
    def secret(self) -> bool:
        """Carries a password (``{svc.password}``, or a URL with one in it)."""
        return any(isinstance(p, Field) and p.name in ("password", "url") for p in self.parts)


@dataclass(frozen=True, slots=True)
class Exports:
    """Parsed templates, in order (a later one of the same name wins)."""

    templates: tuple[Template, ...]
    defaults: bool = False  # made by compile_exports: no template was given

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.templates)

    def render(self, env: Environment, *, redact: bool = False) -> dict[str, str]:
        """NAME -> value on the running ``env``; ``redact``: passwords as ``***``
        (for people), else the real values (for programs). A field that is
        unset on a service of a known kind (no password) renders as ``""``;
        the defaults skip URLs that a service does not have."""
        values: dict[str, str] = {}
        for template in self.templates:
            text = _render(template, env, redact=redact, optional=self.defaults)
            if text is not None:
                values[template.name] = text
        return values

    def secret_names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.templates if t.secret)


# -- parsing --------------------------------------------------------------------------------


def parse_assignments(items: Sequence[str], what: str = "--export") -> dict[str, str]:
    """``NAME=TEMPLATE`` items (``eph run --export``) as NAME -> TEMPLATE; names checked."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, template = item.partition("=")
        if not sep:
            raise ExportError(
                f"{item!r} is not NAME=TEMPLATE",
                key=what,
                fix="write e.g. --export PGPORT={db.port[5432]}",
            )
        _check_name(name, f"{what} {name}")
        result[name] = template
    return result


def compile_exports(spec: Spec, extra: Mapping[str, str] | None = None) -> Exports:
    """The spec's ``exports:`` then ``extra`` (the command line's; a name given
    twice takes the later template), parsed and checked against ``spec``: every
    field names a service, a known field, a port the service publishes, and a
    connection field only on a service that has connection details. With no
    template at all: one variable per service address and URL."""
    templates: dict[str, Template] = {}
    for name, source in spec.exports.items():
        where = f"{spec.path.name}: exports.{name}"
        _check_name(name, where)
        templates[name] = _parse(name, source, where, spec)
    for name, source in (extra or {}).items():
        where = f"--export {name}"
        _check_name(name, where)
        templates.pop(name, None)
        templates[name] = _parse(name, source, where, spec)
    if templates:
        return Exports(tuple(templates.values()))
    return Exports(tuple(_defaults(spec)), defaults=True)


def _check_name(name: str, where: str) -> None:
    if not _NAME.fullmatch(name):
        raise ExportError(
            f"invalid variable name {name!r}",
            key=where,
            fix="use letters, digits and '_', not starting with a digit",
        )


def _parse(name: str, source: str, where: str, spec: Spec) -> Template:
    parts: list[str | Field] = []
    pos = 0
    for match in [*_FIELD.finditer(source), None]:
        literal = source[pos : match.start()] if match is not None else source[pos:]
        if "{" in literal or "}" in literal:
            raise ExportError(f"unbalanced braces in {source!r}", key=where, fix=_FIX)
        if literal:
            parts.append(literal)
        if match is not None:
            parts.append(_field(match.group(1), where, spec))
            pos = match.end()
    return Template(name, source, tuple(parts), where)


def _field(text: str, where: str, spec: Spec) -> Field:
    match = _FIELD_FORM.fullmatch(text.strip())
    if match is None:
        raise ExportError(
            f"'{{{text}}}' is not a field", key=where, fix=f"use one of {_FIELD_LIST}"
        )
    svc_name, name, port_text = match.group("svc"), match.group("field"), match.group("port")
    service = spec.services.get(svc_name)
    if service is None:
        known = ", ".join(spec.services) or "none"
        raise ExportError(
            f"'{{{text}}}' names no service of the spec (known: {known})",
            key=where,
            fix="fix the service name",
        )
    if name not in FIELDS:
        raise ExportError(
            f"'{{{text}}}': unknown field {name!r}", key=where, fix=f"use one of {_FIELD_LIST}"
        )
    published = sorted({p.container_port for p in service.ports if p.protocol == "tcp"})
    if name != "port":
        if port_text is not None:
            raise ExportError(
                f"'{{{text}}}': only port takes [N]", key=where, fix=f"write {{{svc_name}.{name}}}"
            )
        if name in CONNECTION_FIELDS and not _has_connection(service):
            raise ExportError(
                f"'{{{text}}}': service {svc_name!r} ({service.image or 'a built image'}) is not "
                "of a kind the plugin knows (PostgreSQL, Redis by image name; HTTP with an "
                f"http: wait), so it has no {name}",
                key=where,
                fix=f"build the value from {{{svc_name}.host}} and {{{svc_name}.port[N]}}",
            )
        return Field(svc_name, name)
    if port_text is None:
        hint = f"{{{svc_name}.port[{published[0]}]}}" if published else "{svc.port[N]}"
        raise ExportError(f"'{{{text}}}' names no container port", key=where, fix=f"write {hint}")
    if not port_text.isdigit() or int(port_text) not in published:
        known = ", ".join(map(str, published)) or "none"
        raise ExportError(
            f"'{{{text}}}': {svc_name!r} publishes no port {port_text} (published: {known})",
            key=where,
            fix=f"publish it with services.{svc_name}.ports: [{port_text}] or use a published one",
        )
    return Field(svc_name, "port", int(port_text))


def _has_connection(service: ServiceSpec) -> bool:
    """Whether the data layer gives this service connection details (it decides
    from the image name, or an ``http:`` wait; never by probing the container)."""
    if service.external is not None or service.testcontainers is not None:
        return True  # their connection comes from their own URL or module
    from ..data.kinds import image_kind

    return image_kind(service.image) is not None or any(w.kind == "http" for w in service.waits)


def _defaults(spec: Spec) -> list[Template]:
    out: list[Template] = []
    for name, service in spec.services.items():
        stem = "EPH_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")
        where = f"the default exports of service {name!r}"
        out.append(Template(f"{stem}_HOST", f"{{{name}.host}}", (Field(name, "host"),), where))
        for port in sorted({p.container_port for p in service.ports if p.protocol == "tcp"}):
            out.append(
                Template(
                    f"{stem}_PORT_{port}",
                    f"{{{name}.port[{port}]}}",
                    (Field(name, "port", port),),
                    where,
                )
            )
        if _has_connection(service):
            out.append(Template(f"{stem}_URL", f"{{{name}.url}}", (Field(name, "url"),), where))
    return out


# -- rendering ------------------------------------------------------------------------------


def _render(template: Template, env: Environment, *, redact: bool, optional: bool) -> str | None:
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = _value(part, template, env, redact=redact, optional=optional)
        if value is None:
            return None
        out.append(value)
    return "".join(out)


def _value(
    part: Field, template: Template, env: Environment, *, redact: bool, optional: bool
) -> str | None:
    from ..errors import EphemeralError

    try:
        service = env[part.service]
    except KeyError as exc:
        raise ExportError(str(exc).strip("\"'"), key=template.where) from None
    if part.name == "host":
        return service.host
    if part.name == "port":
        assert part.port is not None  # parsed as port[N]
        try:
            return str(service.port(part.port))
        except EphemeralError as exc:
            raise ExportError(str(exc), key=template.where) from None
    connection = service.connection
    if connection is None:
        if optional:
            return None
        raise ExportError(
            f"{part}: service {part.service!r} has no connection details on {env.id} "
            "(no published port its kind uses)",
            key=template.where,
            fix=f"publish the port, or build the value from {{{part.service}.host}} and "
            f"{{{part.service}.port[N]}}",
        )
    if part.name == "url":
        return (connection.redacted_url or REDACTED) if redact else connection.url
    if part.name == "password":
        return REDACTED if redact and connection.password else connection.password or ""
    if part.name == "user":
        return connection.user or ""
    return connection.database or ""


# -- output formats -------------------------------------------------------------------------


def format_exports(values: Mapping[str, str], fmt: str) -> str:
    """``values`` as ``sh`` (``export NAME='value'``, for ``eval``), ``dotenv``
    (``NAME='value'``, as Compose and the spec's ``env_file:`` read it), ``json``
    (one object) or ``github`` (``NAME=value`` lines, multi-line values as
    heredocs, for ``$GITHUB_OUTPUT`` / ``$GITHUB_ENV``). Ends with a newline
    (except an empty sh/dotenv/github output, which is empty)."""
    if fmt == "json":
        return json.dumps(dict(values), indent=2) + "\n"
    if fmt == "sh":
        lines = [f"export {name}={_sh_quote(value)}" for name, value in values.items()]
    elif fmt == "dotenv":
        lines = [f"{name}={_dotenv_quote(value)}" for name, value in values.items()]
    elif fmt == "github":
        lines = [_github_line(name, value) for name, value in values.items()]
    else:
        raise ExportError(
            f"unknown format {fmt!r}", key="--format", fix=f"use one of {', '.join(FORMATS)}"
        )
    return "".join(line + "\n" for line in lines)


def _sh_quote(value: str) -> str:
    """POSIX single quotes: nothing inside is special; a ``'`` ends, escapes, reopens."""
    return "'" + value.replace("'", "'\\''") + "'"


def _dotenv_quote(value: str) -> str:
    """Single quotes (taken literally) when they can hold the value, else double
    quotes with ``\\`` escapes and ``$$`` for ``$`` (Compose interpolates there)."""
    if "'" not in value and "\n" not in value and "\r" not in value:
        return f"'{value}'"
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("$", "$$")
    )
    return f'"{escaped}"'


def _github_line(name: str, value: str) -> str:
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}"
    delimiter = "EPH_EOF"
    while delimiter in value:
        delimiter += "_"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}"
