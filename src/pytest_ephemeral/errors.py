"""The plugin's exceptions: one base class, every message says what, where and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "DataError",
    "EngineUnavailableError",
    "EnvironmentNotFoundError",
    "EphemeralError",
    "ImageNotFoundError",
    "PortTakenError",
    "RegistryError",
    "ServiceStartError",
    "SpecError",
]


class EphemeralError(Exception):
    """Base class of every error pytest-ephemeral raises on purpose.

    ``str(err)`` is a complete, one-line (or, for start failures, one line plus
    log lines) message meant for a person: it names what is wrong, where, and
    what to do about it.
    """


class SpecError(EphemeralError):
    """A spec file cannot be used as written.

    ``file`` and ``line`` locate the problem (``line`` is ``None`` when the
    problem has no single line, e.g. an empty file); ``key`` is the key path
    such as ``services.db.ports[0]``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = Path(file) if file is not None else None
        self.line = line
        self.key = key
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        key = f"{self.key}: " if self.key else ""
        fix = f" ({self.fix})" if self.fix else ""
        return f"{where}{key}{self.message}{fix}"


class ServiceStartError(EphemeralError):
    """A service of an environment could not be started or never became ready."""

    def __init__(
        self,
        service: str,
        cause: str,
        *,
        env_id: str | None = None,
        log_tail: Sequence[str] = (),
    ) -> None:
        self.service = service
        self.cause = cause
        self.env_id = env_id
        self.log_tail = tuple(log_tail)
        head = f"service {service!r}"
        if env_id:
            head += f" of environment {env_id}"
        text = f"{head} failed to start: {cause}"
        if self.log_tail:
            text += f"\n--- last {len(self.log_tail)} log lines of {service!r} ---\n"
            text += "\n".join(self.log_tail)
        super().__init__(text)


class EngineUnavailableError(EphemeralError):
    """The Docker engine cannot be reached."""


class PortTakenError(EphemeralError):
    """A host port a container asked for is already taken on the engine's host."""


class ImageNotFoundError(EphemeralError):
    """An image is neither on the engine nor obtainable (pull refused or impossible)."""


class RegistryError(EphemeralError):
    """A registry could not be reached, refused the credentials, or failed a pull."""


class EnvironmentNotFoundError(EphemeralError):
    """No environment with the given id exists on the engine."""


class DataError(EphemeralError):
    """Seed data, dumps or sanitization rules cannot be used as written."""
