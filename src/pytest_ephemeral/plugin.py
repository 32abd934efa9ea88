"""The pytest front door: options, fixtures, report sections, terminal summary.

Thin on purpose and cheap to import: Docker, YAML and the engine are imported
inside hooks and fixtures, when a test first asks for an environment.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Generator
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    import threading

    from ._progress import ProgressFollower
    from .config import Settings
    from .lifecycle.manager import Manager
    from .runtime.backend import Backend
    from .runtime.environment import Environment

settings_key = pytest.StashKey["Settings"]()
manager_key = pytest.StashKey["Manager"]()
summaries_key = pytest.StashKey[list[dict[str, Any]]]()
test_start_key = pytest.StashKey[float]()
follower_key = pytest.StashKey["ProgressFollower"]()
export_at_key = pytest.StashKey[str]()
# the variables the exports set in os.environ, with the values they replaced
exported_key = pytest.StashKey[dict[str, str | None]]()
warm_up_key: pytest.StashKey[threading.Thread] = pytest.StashKey()

WORKEROUTPUT = "pytest_ephemeral"
KEEP_CHOICES = ("failed", "always", "never")
LOGS_CHOICES = ("failed", "all", "none")
EXPORT_AT_CHOICES = ("lazy", "start")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ephemeral", "pytest-ephemeral: throwaway environments from a spec")
    group.addoption(
        "--eph-spec",
        action="append",
        default=[],
        metavar="PATH",
        help="the spec file, relative to the invocation dir (default: discovered); "
        "repeat to merge several files in order, as docker compose -f a -f b",
    )
    group.addoption(
        "--eph-keep",
        nargs="?",
        const="failed",
        default=None,
        metavar="failed|always|never",
        help="keep the environments after the run when a test failed (bare flag) or always; "
        "--eph-keep=never turns an ini eph_keep off",
    )
    group.addoption(
        "--eph-ttl", metavar="DURATION", help="how long a kept environment lives (default 8h)"
    )
    group.addoption(
        "--eph-shared",
        action="store_true",
        default=None,
        help="one environment for all xdist workers",
    )
    group.addoption(
        "--no-eph-shared",
        dest="eph_shared",
        action="store_false",
        help="one environment per worker, whatever ini eph_shared says",
    )
    group.addoption(
        "--eph-reuse",
        action="store_true",
        default=None,
        help="attach to a kept environment of the same spec",
    )
    group.addoption(
        "--no-eph-reuse",
        dest="eph_reuse",
        action="store_false",
        help="never attach to a kept environment, whatever ini eph_reuse says",
    )
    group.addoption(
        "--eph-pool",
        action="store_true",
        default=None,
        help="claim a ready environment of the same spec from the warm pool (eph pool up); "
        "without one running, a cold start",
    )
    group.addoption(
        "--no-eph-pool",
        dest="eph_pool",
        action="store_false",
        help="never claim from the warm pool, whatever ini eph_pool says",
    )
    group.addoption(
        "--eph-logs",
        metavar="failed|all|none",
        help="attach service logs to reports (default failed)",
    )
    group.addoption(
        "--eph-timeout", metavar="SECONDS", help="default readiness timeout (default 60)"
    )
    group.addoption(
        "--eph-image-map",
        action="append",
        default=[],
        metavar="FROM=TO",
        help="use image TO wherever the spec (or a Dockerfile's FROM) names FROM; repeatable",
    )
    group.addoption(
        "--eph-max-starts", metavar="N", help="environments starting at once on this host"
    )
    group.addoption(
        "--eph-profile", action="append", default=[], metavar="NAME", help="enable a spec profile"
    )
    group.addoption(
        "--eph-hosts",
        action="append",
        default=[],
        metavar="URL,URL...",
        help="a pool of engines (unix://, tcp://, ssh:// URLs or context names): each new "
        "environment goes whole to the one with the most room",
    )
    group.addoption(
        "--eph-backend",
        metavar="NAME",
        help="the engine environments run on: docker (default), or one a plugin adds",
    )
    parser.addini(
        "eph_spec",
        "the spec file(s), one per line, relative to the ini file's folder",
        type="linelist",
    )
    parser.addini("eph_keep", "failed | always | never (default never)")
    parser.addini("eph_ttl", "lifetime of kept environments (default 8h)")
    parser.addini("eph_shared", "one environment for all xdist workers", type="bool", default=False)
    parser.addini(
        "eph_reuse", "attach to a kept environment of the same spec", type="bool", default=False
    )
    parser.addini(
        "eph_pool",
        "claim environments from the warm pool (eph pool up)",
        type="bool",
        default=False,
    )
    parser.addini("eph_logs", "failed | all | none (default failed)")
    parser.addini("eph_timeout", "default readiness timeout in seconds (default 60)")
    parser.addini("eph_image_map", "FROM=TO image substitutions, one per line", type="linelist")
    parser.addini("eph_max_starts", "environments starting at once on this host")
    parser.addini("eph_backend", "the engine environments run on (default docker)")
    parser.addini(
        "eph_hosts", "a pool of engines, one URL or context name per line", type="linelist"
    )
    group.addoption(
        "--eph-pull",
        metavar="missing|always|never",
        help="pull images when missing (Compose's default), always, or never, whatever "
        "each service's pull_policy says (default: each service's pull_policy)",
    )
    parser.addini("eph_pull", "missing | always | never: overrides every pull_policy")
    group.addoption(
        "--eph-export-at",
        metavar="lazy|start",
        help="when the spec's exports are set in os.environ: when the environment is "
        "created (lazy, default), or at session start, before collection (start: the "
        "environment is started then, for suites that read variables at import time)",
    )
    parser.addini("eph_export_at", "lazy | start: when the exports are set (default lazy)")
    parser.addini(
        "eph_audit_file",
        "the audit trail's file, relative to the ini file (default: EPH_AUDIT_FILE, else "
        "the user's state dir); off: none",
    )


def _choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise pytest.UsageError(f"{what}: {value!r} is not one of: {', '.join(choices)}")
    return value


def _pull_choice(value: str | None) -> str | None:
    from .config import PULL_MODES

    return None if value is None else _choice(str(value), PULL_MODES, "--eph-pull")


def read_settings(config: pytest.Config) -> Settings:
    """Option first, then ini; a bad value is a UsageError listing the valid ones."""
    from .config import DEFAULT_TTL, Settings, SettingsError, image_map_from, parse_duration

    def opt(name: str, ini: str) -> Any:
        value = config.getoption(name)
        return value if value is not None else (config.getini(ini) or None)

    try:
        keep = _choice(opt("eph_keep", "eph_keep") or "never", KEEP_CHOICES, "--eph-keep")
        logs = _choice(opt("eph_logs", "eph_logs") or "failed", LOGS_CHOICES, "--eph-logs")
        ttl_text = opt("eph_ttl", "eph_ttl")
        timeout_text = opt("eph_timeout", "eph_timeout")
        starts_text = opt("eph_max_starts", "eph_max_starts")
        if starts_text is not None and not str(starts_text).isdigit():
            raise pytest.UsageError(f"--eph-max-starts: {starts_text!r} is not a whole number")
        return Settings(
            rootdir=Path(config.rootpath),
            spec=(config.getoption("eph_spec") or [None])[0],
            spec_ini=(config.getini("eph_spec") or [None])[0],
            specs=tuple(config.getoption("eph_spec")),
            specs_ini=tuple(config.getini("eph_spec")),
            invocation_dir=Path(config.invocation_params.dir),
            ini_dir=Path(config.inipath).parent if config.inipath else None,
            timeout=parse_duration(str(timeout_text), "--eph-timeout") if timeout_text else 60.0,
            image_map=image_map_from(
                config.getoption("eph_image_map"), config.getini("eph_image_map"), os.environ
            ),
            keep=keep,  # type: ignore[arg-type]
            ttl=parse_duration(str(ttl_text), "--eph-ttl") if ttl_text else DEFAULT_TTL,
            reuse=bool(opt("eph_reuse", "eph_reuse")),
            shared=bool(opt("eph_shared", "eph_shared")),
            pool=bool(opt("eph_pool", "eph_pool")),
            logs=logs,  # type: ignore[arg-type]
            max_starts=int(starts_text or 0),
            profiles=tuple(config.getoption("eph_profile")),
            backend=str(opt("eph_backend", "eph_backend") or "docker"),
            hosts=_hosts(config.getoption("eph_hosts"), config.getini("eph_hosts")),
            pull=_pull_choice(opt("eph_pull", "eph_pull")),
            audit_file=_ini_path(config, "eph_audit_file"),
        )
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None


def _keep_without_swallowing(config: pytest.Config) -> None:
    """``pytest --eph-keep tests/test_x.py``: argparse hands the test path to
    the optional value of ``--eph-keep``. Give it back to the test paths and
    keep the bare flag's meaning (``failed``)."""
    value = config.getoption("eph_keep")
    if value is None or value in KEEP_CHOICES or not _looks_like_a_test_path(config, value):
        return  # a mode (a bad one is a usage error listing the valid ones)
    config.option.eph_keep = "failed"
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.append(value)
    else:  # it was the only path given: pytest fell back to testpaths / the cwd
        config.args[:] = [value]
        config.args_source = pytest.Config.ArgsSource.ARGS


def _ini_path(config: pytest.Config, name: str) -> str | None:
    """An ini value that is a path, relative to the ini file's folder (kept as
    written when it is not a path, e.g. ``off``)."""
    value = str(config.getini(name) or "").strip()
    if not value or value.lower() in ("off", "none"):
        return value or None
    path = Path(value).expanduser()
    if not path.is_absolute():
        base = config.inipath.parent if config.inipath is not None else Path(config.rootpath)
        path = base / path
    return str(path)


def _hosts(option: list[str], ini: list[str]) -> tuple[str, ...]:
    """``--eph-hosts`` (comma-separated, repeatable) wins over ini ``eph_hosts``;
    ``EPH_HOSTS`` (comma-separated) is the fallback, as for ``eph``."""
    given = option or ini or [os.environ.get("EPH_HOSTS", "")]
    hosts = tuple(h.strip() for item in given for h in item.split(",") if h.strip())
    if len(set(hosts)) != len(hosts):
        raise pytest.UsageError(f"--eph-hosts: an engine is named twice: {', '.join(hosts)}")
    return hosts


def _looks_like_a_test_path(config: pytest.Config, value: str) -> bool:
    """A test path or node id (``tests/test_x.py``, ``test_x.py::test_a``, a
    folder that exists), not a misspelt keep mode."""
    if "::" in value or "/" in value or value.endswith(".py"):
        return True
    return (Path(config.invocation_params.dir) / value).exists()


def pytest_configure(config: pytest.Config) -> None:
    _keep_without_swallowing(config)
    settings = read_settings(config)
    if settings.shared:
        remote = [
            tx for tx in (config.getoption("tx", None) or []) if "ssh=" in tx or "socket=" in tx
        ]
        if remote:
            raise pytest.UsageError(
                f"--eph-shared: workers on other hosts ({', '.join(remote)}) cannot share one "
                "environment; use local workers (-n N) or drop --eph-shared"
            )
    from .backends import BUILTIN_BACKENDS

    if settings.backend not in BUILTIN_BACKENDS and not (
        config.pluginmanager.hook.pytest_eph_make_backend.get_hookimpls()
    ):
        raise pytest.UsageError(
            f"--eph-backend: {settings.backend!r} is not one of: {', '.join(BUILTIN_BACKENDS)} "
            "(and no installed plugin implements pytest_eph_make_backend)"
        )
    config.stash[settings_key] = settings
    config.stash[summaries_key] = []
    export_at = config.getoption("eph_export_at") or config.getini("eph_export_at") or "lazy"
    config.stash[export_at_key] = _choice(str(export_at), EXPORT_AT_CHOICES, "--eph-export-at")


def pytest_sessionstart(session: pytest.Session) -> None:
    """``eph_export_at = start``: the default environment now, before collection,
    and its exports in ``os.environ`` (not in the xdist controller, which runs no
    tests; each worker does this for itself)."""
    config = session.config
    if config.stash[export_at_key] != "start" or config.option.collectonly:
        return
    if config.pluginmanager.has_plugin("dsession"):
        return
    from .errors import EphemeralError, SpecError

    try:
        _export(config, _manager(config).environment())
    except SpecError as exc:
        raise pytest.UsageError(f"ephemeral: {exc}") from None
    except EphemeralError as exc:
        pytest.exit(f"ephemeral (eph_export_at = start): {exc}", returncode=1)


def _export(config: pytest.Config, env: Environment) -> None:
    """Set the exports of ``env``'s spec (or the default ones) in ``os.environ``,
    once; the values they replace come back at the end of the session."""
    if exported_key in config.stash:
        return
    from .lifecycle.exports import compile_exports

    values = compile_exports(env.spec).render(env)
    config.stash[exported_key] = {name: os.environ.get(name) for name in values}
    os.environ.update(values)


def _unexport(config: pytest.Config) -> None:
    for name, old in config.stash.get(exported_key, {}).items():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
    config.stash[exported_key] = {}


def _manager(config: pytest.Config) -> Manager:
    manager = config.stash.get(manager_key, None)
    if manager is None:
        from .lifecycle.manager import Manager

        workerinput = getattr(config, "workerinput", None)
        controller = None
        if workerinput is not None:
            from .lifecycle.labels import Owner

            run_id = str(workerinput.get("eph_run_id") or workerinput["testrunuid"])
            worker = str(workerinput["workerid"])
            controller = Owner.parse(str(workerinput.get("eph_owner", "")))
            progress = None
            if workerinput.get("eph_progress"):  # the controller shows what we write
                from ._progress import file_writer, progress_path

                progress = file_writer(progress_path(run_id), worker)
        else:
            run_id, worker = None, "main"
            progress = _progress_writer(config)
        manager = Manager(
            config.stash[settings_key],
            run_id=run_id,
            worker=worker,
            controller=controller,
            progress=progress,
            backend_factory=lambda: _make_backend(config),
        )
        manager.on_spec_warnings = _spec_warner()
        manager.on_engine_notes = _engine_warner()
        config.stash[manager_key] = manager
    return manager


class SpecWarning(pytest.PytestWarning):
    """A spec key that is understood but ignored, a variable that is not set...:
    shown in pytest's warnings summary, once per key and file."""


def _spec_warner() -> Callable[[Any], None]:
    seen: set[tuple[str, str, str]] = set()

    def warn(spec: Any) -> None:
        import warnings

        for w in spec.diagnostics:
            key = (w.file, w.key, w.message)
            if key in seen:
                continue
            seen.add(key)
            warnings.warn(SpecWarning(w.message), stacklevel=2)

    return warn


class EngineWarning(pytest.PytestWarning):
    """A setting of the spec the backend cannot honour (a stop grace period,
    a CPU reservation on one engine, a setting the engine discarded): shown
    in pytest's warnings summary, once per key."""


def _engine_warner() -> Callable[[Any], None]:
    seen: set[str] = set()

    def warn(env: Any) -> None:
        import warnings

        for note in env.notes:
            if note not in seen:
                seen.add(note)
                warnings.warn(EngineWarning(note), stacklevel=2)

    return warn


def _make_backend(config: pytest.Config) -> Backend:
    """The backend the settings name: a plugin's (``pytest_eph_make_backend``)
    first, else a built-in one."""
    from .backends import make_backend

    name = config.stash[settings_key].backend
    backend: Backend | None = config.hook.pytest_eph_make_backend(
        config=config, name=name, address=None
    )
    return backend if backend is not None else make_backend(name)


def _progress_writer(config: pytest.Config) -> Callable[[str], None] | None:
    """Progress lines on the terminal while environments start (not with -q,
    not in xdist workers, which have no terminal)."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is None or config.get_verbosity() < 0:
        return None
    capman = config.pluginmanager.get_plugin("capturemanager")

    def write(text: str) -> None:
        cm = capman.global_and_fixture_disabled() if capman is not None else nullcontext()
        with cm:
            tr.write_line(f"ephemeral: {text}")

    return write


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand every worker the run id and the controller's
    identity (the owner of shared environments)."""
    manager = _manager(node.config)
    node.workerinput["eph_run_id"] = manager.run_id
    node.workerinput["eph_owner"] = str(manager.owner)
    node.workerinput["eph_progress"] = follower_key in node.config.stash


def pytest_collection_finish(session: pytest.Session) -> None:
    """In a run (or xdist worker) whose tests ask for an environment, get the
    engine's imports and client ready while pytest schedules the tests."""
    config = session.config
    if config.option.collectonly or config.pluginmanager.has_plugin("dsession"):
        return  # nothing will run here (the xdist controller runs no tests)
    if any(
        name in getattr(item, "fixturenames", ())
        for item in session.items
        for name in ("eph", "eph_factory")
    ):
        config.stash[warm_up_key] = _manager(config).warm_up()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: object) -> None:
    """xdist controller, before the workers start: follow the workers' progress
    lines; with ``--eph-shared``, begin creating the shared environment now, so
    that it comes up while the workers start rather than after them."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None and config.get_verbosity() >= 0 and not config.option.collectonly:
        # the workers' progress lines, shown here as they come
        from ._progress import ProgressFollower, progress_path

        def show(text: str) -> None:
            tr.ensure_newline()  # after the progress dots, on a line of its own
            tr.write_line(f"ephemeral: {text}")

        config.stash[follower_key] = ProgressFollower(progress_path(_manager(config).run_id), show)
    settings = config.stash[settings_key]
    if not settings.shared or config.option.collectonly:
        return
    manager = _manager(config)
    env_id = manager.start_shared_early()
    if env_id is not None:
        write = _progress_writer(config)
        if write is not None:
            write(f"starting shared {env_id} while the workers start ...")


def pytest_report_header(config: pytest.Config) -> str | None:
    from ._header import header_line

    return header_line(config.stash[settings_key])


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _eph_manager(request: pytest.FixtureRequest) -> Generator[Manager, None, None]:
    manager = _manager(request.config)
    yield manager
    _finish(request.config, manager, failed=request.session.testsfailed > 0)


def _finish(config: pytest.Config, manager: Manager, *, failed: bool) -> None:
    summaries = config.stash[summaries_key]
    envs = list(manager.environments.values())
    kept = manager.close(failed=failed)
    kept_ids = {e.id for e in kept}
    for env in envs:
        if env.attached:
            continue  # the worker that created it reports it
        summary = env.summary()
        summary["kept"] = env.id in kept_ids
        summary["worker"] = manager.worker
        summaries.append(summary)


T = TypeVar("T")


def _or_fail(run: Callable[[], T]) -> T:
    """``run()``, or the test fails with the error's own message, once: the
    failure is raised outside the ``except`` block, so pytest does not show it
    a second time as "During handling of the above exception..."."""
    from .errors import EphemeralError

    try:
        return run()
    except EphemeralError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def eph(_eph_manager: Manager, request: pytest.FixtureRequest) -> Environment:
    """The environment of the default spec: one per xdist worker (or one for the
    whole run with ``--eph-shared``), created on first use; its exports are then
    set in ``os.environ``."""

    def get() -> Environment:
        env = _eph_manager.environment()
        _export(request.config, env)
        return env

    return _or_fail(get)


@pytest.fixture(scope="session")
def eph_factory(_eph_manager: Manager) -> Callable[[str | os.PathLike[str]], Environment]:
    """``eph_factory("path/to/spec.yaml")``: the environment of another spec,
    created once per worker and removed at the end like ``eph``."""

    def factory(path: str | os.PathLike[str]) -> Environment:
        return _or_fail(lambda: _eph_manager.environment(path))

    return factory


@pytest.fixture
def eph_fresh(eph: Environment) -> Environment:
    """``eph``, with every seeded service put back to its seeded state before
    the test (PostgreSQL from a template database, Redis from its snapshot;
    see the seed-and-reset how-to)."""
    from .data.snapshot import reset_environment

    _or_fail(lambda: reset_environment(eph))
    return eph


@pytest.fixture
def eph_replay(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``eph_replay(capture, target=..., baseline=..., goals=...)``: replay a
    HAR / ``.gor`` capture open-loop against ``target`` (a URL or ``(env,
    "SERVICE:PORT")``), compare with the baseline, decide the goals; returns
    the result, and fails the test with the summary when a goal fails or a
    difference is found (see the replay-traffic how-to)."""
    from .replay.fixture import make_eph_replay

    return make_eph_replay(request)


# -- reports ----------------------------------------------------------------------------


#: How long the first test waits for the warm-up at most (it makes no request).
WARM_UP_WAIT = 30.0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # The engine client reads the environment (DOCKER_HOST, DOCKER_API_VERSION,
    # contexts) as it is made: the warm-up ends before the first test's fixtures
    # can change it for that test alone (monkeypatch.setenv), or the whole run
    # would keep a client made with that test's settings.
    warming = item.config.stash.get(warm_up_key, None)
    if warming is not None:
        del item.config.stash[warm_up_key]
        warming.join(WARM_UP_WAIT)
    item.stash[test_start_key] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    settings = item.config.stash[settings_key]
    if settings.logs == "none" or manager_key not in item.config.stash:
        return report
    if report.when == "teardown" and not report.failed:
        return report
    if settings.logs == "failed" and not report.failed:
        return report
    if settings.logs == "all" and report.when != "call" and not report.failed:
        return report
    from ._report import log_sections

    since = item.stash.get(test_start_key, None)
    for where, text in log_sections(item.config.stash[manager_key], since):
        report.sections.append((f"Captured stdout {where}", text))
        # later reports of this item (the teardown one that JUnit XML writes) too
        item.add_report_section(where, "stdout", text)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    follower: ProgressFollower | None = config.stash.get(follower_key, None)
    if follower is not None:  # every worker is done: the last of their lines
        follower.close()
    manager = config.stash.get(manager_key, None)
    if manager is not None:
        manager.finish_early()  # the controller's early shared start, if any
    if manager is not None and manager.environments:  # fixtures were not finalised
        _finish(config, manager, failed=session.testsfailed > 0)
    if hasattr(config, "workeroutput"):
        config.workeroutput[WORKEROUTPUT] = json.dumps(config.stash[summaries_key])
    elif manager is not None and config.stash[settings_key].shared:
        # the controller, after every worker is done: the shared environments
        kept = set(manager.close_shared(failed=session.testsfailed > 0))
        for summary in config.stash[summaries_key]:
            if summary.get("shared"):  # kept now, or kept before and reused
                summary["kept"] = summary["id"] in kept or bool(summary.get("kept"))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: collect each worker's environment summaries."""
    data = getattr(node, "workeroutput", {}).get(WORKEROUTPUT)
    if data:
        node.config.stash[summaries_key].extend(json.loads(data))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    summaries = config.stash.get(summaries_key, [])
    if not summaries:
        return
    from ._report import write_summary

    write_summary(terminalreporter, summaries)


def pytest_unconfigure(config: pytest.Config) -> None:
    _unexport(config)
    manager = config.stash.get(manager_key, None)
    if manager is not None and manager.environments:
        manager.close(failed=True)
