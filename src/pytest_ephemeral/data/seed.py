"""Run a service's ``seed:`` steps, in order, once it is ready.

:func:`pytest_ephemeral.data.prepare.prepare_service` calls :func:`run_steps`
after a service is ready and before the services depending on it start; each
step kind is run by the service kind that owns it (:mod:`.kinds`). Step kinds:

``sql: FILE``
    run with ``psql -v ON_ERROR_STOP=1`` in the PostgreSQL container (the file
    is copied in); ``database:`` defaults to ``POSTGRES_DB``, else the user.
``csv: {table, file}``
    ``\\copy table (header columns) FROM file (FORMAT csv, HEADER true)``.
``dump: FILE`` (pg_dump plain format) with optional ``sanitize: RULES``
    sanitized on the host into a temporary file (streaming, with the salt from
    ``EPH_SANITIZE_SALT``...), loaded with psql, then **leak-checked**: no
    original value of a sanitized column may be found in any string column of
    any table of the seeded database.
``python: module:function``
    imported with the spec's folder first on ``sys.path``, called as
    ``function(env, service)``.
``redis: FILE``
    a key/value file (see :mod:`.redis.file`) piped into ``redis-cli --pipe``.

Any failure raises :class:`SeedError` (a :class:`~pytest_ephemeral.errors.DataError`)
naming the service, the step (number and kind), the file and, for SQL, the
line and the statement; the engine then removes the whole environment, so a
half-seeded environment is never used. After the last step the service's state
is snapshotted (see :mod:`.snapshot`) for ``eph_fresh``.
"""

from __future__ import annotations

import contextlib
import importlib
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..errors import DataError, EphemeralError
from .kinds import require_kind, step_runner

if TYPE_CHECKING:
    from ..runtime.environment import Environment, Service
    from ..spec.model import SeedStep
    from .sanitize import Leak

__all__ = ["SeedError", "Step", "copy_in", "run_steps"]

_import_lock = threading.Lock()


class SeedError(DataError):
    """A seed step failed. The attributes say where; ``str()`` says it all.

    ``line`` and ``statement`` are set for SQL errors (``statement`` is cut
    short, and for dumps stops at ``VALUES``: rows are never quoted);
    ``leaks`` for a failed leak check (tables, columns and counts, no values).
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        step: int,
        kind: str,
        file: Path | None = None,
        line: int | None = None,
        statement: str | None = None,
        leaks: tuple[Leak, ...] = (),
    ) -> None:
        super().__init__(message)
        self.service = service
        self.step = step
        self.kind = kind
        self.file = file
        self.line = line
        self.statement = statement
        self.leaks = leaks


class Step:
    """One step being run: knows how to name itself in messages."""

    def __init__(self, env: Environment, service: Service, index: int, step: SeedStep) -> None:
        self.env = env
        self.service = service
        self.index = index
        self.total = len(service.spec.seed)
        self.step = step

    def rel(self, path: Path | None) -> str:
        if path is None:
            return "?"
        try:
            return str(path.relative_to(self.env.spec.root))
        except ValueError:
            return str(path)

    @property
    def what(self) -> str:
        s = self.step
        if s.kind == "python":
            return f"python: {s.target}"
        if s.kind == "csv":
            return f"csv: {s.table} from {self.rel(s.file)}"
        return f"{s.kind}: {self.rel(s.file)}"

    def error(self, problem: str, **details: Any) -> SeedError:
        loc = self.step.location
        where = f"{loc.file.name}:{loc.line}" if loc.line is not None else loc.file.name
        message = (
            f"service {self.service.name!r}: seed step {self.index} of {self.total} "
            f"({self.what}, {where}) failed: {problem}"
        )
        return SeedError(
            message,
            service=self.service.name,
            step=self.index,
            kind=self.step.kind,
            file=self.step.file,
            **details,
        )


# -- the runner ----------------------------------------------------------------------------


def run_steps(env: Environment, service: Service) -> None:
    """Run the seed steps of ``service`` in order (no snapshot; see
    :func:`pytest_ephemeral.data.prepare.prepare_service`). Each step kind is
    run by the kind of service that owns it (:mod:`.kinds`)."""
    steps = [Step(env, service, i, s) for i, s in enumerate(service.spec.seed, 1)]
    runners: list[Callable[[Step, Path], None]] = []
    kinds = []
    for st in steps:  # every step on the right kind of service, before doing anything
        found = step_runner(st.step.kind)
        if found is None:
            runners.append(_RUNNERS[st.step.kind])
            continue
        kind, runner = found
        _checked(st, require_kind, service, kind.name, st.step.kind + ":")
        runners.append(runner)
        if kind not in kinds:
            kinds.append(kind)
    for kind in kinds:  # e.g. PostgreSQL past its init phase
        before = kind.hook(kind.before_steps)
        if before is not None:
            _checked(steps[0], before, service)
    with tempfile.TemporaryDirectory(prefix="eph-seed-") as tmp:
        for st, run in zip(steps, runners, strict=True):
            _checked(st, run, st, Path(tmp))


def _checked(st: Step, fn: Callable[..., object], *args: Any) -> None:
    """Run ``fn(*args)``; any error of ours becomes a SeedError naming the step."""
    try:
        fn(*args)
    except SeedError:
        raise
    except EphemeralError as exc:
        raise st.error(str(exc)) from exc


def copy_in(st: Step, host_path: Path, suffix: str) -> str:
    """Copy ``host_path`` into the container's /tmp; its path there."""
    name = f"eph-seed-{secrets.token_hex(6)}{suffix}"
    try:
        st.env.backend.copy_to(st.service.container_id, "/tmp", {name: str(host_path)})
    except EphemeralError as exc:
        raise DataError(f"copying {st.rel(host_path)} into the container failed: {exc}") from None
    return f"/tmp/{name}"


# -- python steps ----------------------------------------------------------------------


@contextlib.contextmanager
def _spec_on_path(root: Path) -> Iterator[None]:
    entry = str(root)
    with _import_lock:
        sys.path.insert(0, entry)
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


def _python(st: Step, tmp: Path) -> None:
    target = st.step.target
    assert target is not None
    module_name, _, func_name = target.partition(":")
    try:
        with _spec_on_path(st.env.spec.root):
            _forget_foreign(module_name, st.env.spec.root)
            module = importlib.import_module(module_name)
    except Exception as exc:
        raise st.error(
            f"cannot import {module_name!r} (looked in {st.env.spec.root} first): "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from exc
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise st.error(
            f"module {module_name!r} ({getattr(module, '__file__', '?')}) has no function "
            f"{func_name!r}"
        )
    try:
        fn(st.env, st.service)
    except Exception as exc:
        raise st.error(
            f"{target}(env, service) raised {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def _forget_foreign(module_name: str, root: Path) -> None:
    """If ``module_name``'s top-level package is in the spec's folder but an
    imported module of that name comes from elsewhere (another spec's
    ``seeds.py``), drop it (and its submodules) so the spec's own is imported."""
    top = module_name.split(".", 1)[0]
    local = root / f"{top}.py"
    if not local.is_file():
        local = root / top / "__init__.py"
        if not local.is_file():
            return
    loaded = sys.modules.get(top)
    where = getattr(loaded, "__file__", None)
    if loaded is None or (where is not None and Path(where).resolve() == local.resolve()):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


_RUNNERS: Final[dict[str, Callable[[Step, Path], None]]] = {"python": _python}
