"""The ``eph`` command: the same engine as the pytest plugin, outside pytest.

Exit status: 0 success; 1 an environment failed (start, leak check); 2 bad
input (spec, arguments, unknown id); 3 the Docker engine is unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import UnknownBackendError
from .config import SettingsError
from .errors import (
    EngineUnavailableError,
    EnvironmentNotFoundError,
    EphemeralError,
    ServiceStartError,
    SpecError,
)

if TYPE_CHECKING:
    from .config import Settings
    from .runtime.backend import Backend

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENGINE = 0, 1, 2, 3


class _Usage(EphemeralError):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eph",
        description="Throwaway container environments from a spec (pytest-ephemeral).",
        epilog="exit status: 0 ok, 1 an environment failed, 2 bad input, 3 Docker unreachable",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = sub.add_parser("up", help="create an environment and leave it running (kept, with a TTL)")
    up.add_argument("-f", "--file", metavar="SPEC", help="the spec (default: discovered in .)")
    up.add_argument(
        "--ttl", default="8h", help="lifetime before `eph prune` removes it (default 8h)"
    )
    up.add_argument("--timeout", default="60", help="default readiness timeout (default 60s)")
    up.add_argument("--image-map", action="append", default=[], metavar="FROM=TO")
    up.add_argument("--profile", action="append", default=[], metavar="NAME")
    up.add_argument("--json", action="store_true", help="print the environment as JSON")

    ls = sub.add_parser("ls", help="list environments on the engine")
    ls.add_argument("--json", action="store_true")

    down = sub.add_parser("down", help="remove environments")
    down.add_argument("ids", nargs="*", metavar="ID")
    down.add_argument("--all", action="store_true", help="every environment no live run holds")

    logs = sub.add_parser("logs", help="print a service's (or every service's) logs")
    logs.add_argument("id", metavar="ID")
    logs.add_argument("service", nargs="?", metavar="SERVICE")
    logs.add_argument("--tail", type=int, default=None)

    ex = sub.add_parser("exec", help="run a command in a service: eph exec ID SERVICE -- CMD...")
    ex.add_argument("id", metavar="ID")
    ex.add_argument("service", metavar="SERVICE")
    ex.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")

    sub.add_parser("prune", help="remove environments whose owner is gone, and expired kept ones")

    val = sub.add_parser(
        "validate",
        help="print the resolved topology, or the spec's errors",
        description="Load the spec (default: discovered in .) and print its resolved topology. "
        "Several files are merged in order, as docker compose -f a -f b merges them.",
    )
    val.add_argument("spec", nargs="*", metavar="SPEC", help="spec files, merged in order")
    val.add_argument(
        "-f",
        "--file",
        dest="files",
        action="append",
        default=[],
        metavar="SPEC",
        help="one more spec file, after the positional ones (repeatable)",
    )
    val.add_argument("--profile", action="append", default=[], metavar="NAME")

    run = sub.add_parser(
        "run",
        help="up, run a command with the exports in its environment, always down",
        description="Start the environment, run COMMAND with the spec's exports (and each "
        "--export) in its environment, then remove the environment: also when the command "
        "fails, when eph run is interrupted (the signal is passed on to the command first) "
        "or killed (the reaper removes it). The exit status is the command's.",
    )
    run.add_argument("-f", "--file", metavar="SPEC", help="the spec (default: discovered in .)")
    run.add_argument(
        "--export",
        action="append",
        default=[],
        metavar="NAME=TEMPLATE",
        help="one more variable, e.g. PGPORT={db.port[5432]} (repeatable; wins over the spec's)",
    )
    run.add_argument(
        "--keep",
        choices=("never", "failed", "always"),
        default="never",
        help="keep the environment when the command fails (failed), or always (default never)",
    )
    run.add_argument("--ttl", default="8h", help="lifetime of a kept environment (default 8h)")
    run.add_argument("--timeout", default="60", help="default readiness timeout (default 60s)")
    run.add_argument("--image-map", action="append", default=[], metavar="FROM=TO")
    run.add_argument("--profile", action="append", default=[], metavar="NAME")
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND...")

    env = sub.add_parser(
        "env",
        help="print a running environment's exports (for eval, .env, $GITHUB_OUTPUT)",
        description="Print the exports of a running environment (the spec's exports:, or one "
        "variable per service address and URL: EPH_DB_HOST, EPH_DB_PORT_5432, EPH_DB_URL). "
        "These formats are for programs: they carry the REAL values, passwords included; "
        "do not print them into logs.",
    )
    env.add_argument("id", metavar="ID")
    env.add_argument(
        "--format",
        choices=("sh", "dotenv", "json", "github"),
        default="sh",
        help="sh: export NAME='value' lines for eval \"$(eph env ID)\" (default); dotenv: "
        "NAME='value' for a .env file; json: one object; github: NAME=value lines for "
        "$GITHUB_OUTPUT or $GITHUB_ENV. All carry real values (passwords in clear)",
    )
    env.add_argument("--profile", action="append", default=[], metavar="NAME")

    for name, (_module, text) in _DELEGATED_HELP.items():
        sub.add_parser(name, help=f"{text} (see eph {name} --help)", add_help=False)
    return p


# `eph NAME ARGS...` handed to MODULE:FUNCTION(ARGS) -> exit status; each module
# owns its parser, its errors and its exit codes (0 ok, 1 failed, 2 bad input,
# 3 engine unreachable), and is imported only when its command runs.
_DELEGATED_HELP: dict[str, tuple[str, str]] = {
    "sanitize": (".data.sanitize.cli:main", "sanitize a dump or CSV file, or draft rules"),
    "record": (".replay.cli:record_main", "record traffic to a service as HAR"),
    "replay": (".replay.cli:replay_main", "replay a capture against a target and compare"),
    "parity": (".parity.cli:main", "compare the spec with production manifests"),
    "render": (".lifecycle.render:main", "write an environment as Kubernetes manifests"),
    "lock": (".lifecycle.lock:main", "record each image's digest in ephemeral.lock; --check"),
    "audit": (".lifecycle.audit:main", "show the audit trail of environments, or --verify it"),
    "pool": (".lifecycle.pool_cli:main", "keep environments of a spec warm: pool up/ls/down"),
}
_DELEGATED = {name: module for name, (module, _text) in _DELEGATED_HELP.items()}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in _DELEGATED:
        # commands with parsers of their own, imported only when asked for
        import importlib

        module_name, _, function = _DELEGATED[argv[0]].partition(":")
        module = importlib.import_module(module_name, __package__)
        return int(getattr(module, function or "main")(argv[1:]))
    args = _parser().parse_args(argv)
    try:
        return int(_COMMANDS[args.command](args))
    except SpecError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except EngineUnavailableError as exc:
        _err(str(exc))
        return EXIT_ENGINE
    except ServiceStartError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except (_Usage, SettingsError, EnvironmentNotFoundError, UnknownBackendError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    except EphemeralError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


def _err(text: str) -> None:
    print(f"eph: error: {text}", file=sys.stderr)


def _settings(args: argparse.Namespace, *, ttl: float = 8 * 3600.0) -> Settings:
    """The same frozen settings pytest reads, from this command's arguments."""
    from .config import Settings, image_map_from, parse_duration

    return Settings(
        rootdir=Path.cwd(),
        spec=getattr(args, "file", None) or getattr(args, "spec", None),
        timeout=parse_duration(str(getattr(args, "timeout", "60")), "--timeout"),
        image_map=image_map_from(getattr(args, "image_map", []), [], os.environ),
        keep="always",
        ttl=ttl,
        profiles=tuple(getattr(args, "profile", [])),
        backend=os.environ.get("EPH_BACKEND", "docker"),
    )


def _backend() -> Backend:
    return _backends()[0]


def _backends() -> list[Backend]:
    """The engines ``eph`` looks at: ``EPH_HOSTS`` (comma-separated URLs or
    context names, as ``--eph-hosts``), else the default engine."""
    from .backends import make_backend

    name = os.environ.get("EPH_BACKEND", "docker")
    hosts = [h.strip() for h in os.environ.get("EPH_HOSTS", "").split(",") if h.strip()]
    return [make_backend(name, h) for h in hosts] or [make_backend(name)]


def _unreachable(lines: list[str]) -> int:
    for line in lines:
        _err(f"{line} (its environments are not listed, and not counted as removed)")
    return EXIT_ENGINE if lines else EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ._report import describe_environment
    from .config import parse_duration
    from .lifecycle.manager import Manager

    ttl = parse_duration(args.ttl, "--ttl")
    # a kept environment of the same spec hash is reused, reset to its seeded state
    manager = Manager(replace(_settings(args, ttl=ttl), reuse=True), worker="up")
    if not args.json:
        print(f"eph: starting {manager.spec_path()} ...", file=sys.stderr)
    try:
        env = manager.environment()
        if env.reused:
            manager.mark_kept(env)  # its TTL starts again from now
    except BaseException:
        manager.close(failed=False)
        raise
    manager.close(failed=False)  # keep="always": marks it kept with its TTL
    for note in env.notes:  # settings the backend could not honour
        print(f"eph: warning: {note}", file=sys.stderr)
    summary = env.summary()
    summary["kept"] = True
    summary["expires"] = time.time() + ttl
    notes = manager.reset_notes.get(env.id, ())
    if args.json:
        summary["reset"] = list(notes)
        print(json.dumps(summary, indent=2))
    else:
        if env.reused:
            print(f"eph: reused kept {env.id} (same spec hash), not a new one:", file=sys.stderr)
            for line in notes:
                print(f"eph:   {line}", file=sys.stderr)
        print("\n".join(describe_environment(summary, commands=True)))
    return EXIT_OK


def _say(text: str) -> None:
    print(f"eph: {text}", file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .config import parse_duration
    from .lifecycle.exports import parse_assignments
    from .lifecycle.run import CommandNotFoundError, resolve_command, run_command

    try:
        command = resolve_command(args.cmd)
    except CommandNotFoundError as exc:
        raise _Usage(str(exc)) from None
    settings = replace(
        _settings(args, ttl=parse_duration(args.ttl, "--ttl")), keep=args.keep, reuse=False
    )
    return run_command(settings, command, exports=parse_assignments(args.export), say=_say)


def cmd_env(args: argparse.Namespace) -> int:
    from .lifecycle.exports import format_exports
    from .lifecycle.run import attach_by_id

    attached = attach_by_id(_settings(args), args.id)
    for warning in attached.warnings:
        _say(f"warning: {warning}")
    sys.stdout.write(format_exports(attached.exports.render(attached.env), args.format))
    return EXIT_OK


def _span(seconds: float) -> str:
    s = abs(seconds)
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.1f}h"


def _ago(ts: float | None) -> str:
    return "-" if ts is None else _span(time.time() - ts)


def _expiry(expires_in: int | None) -> str:
    if expires_in is None:
        return "-"
    return "expired" if expires_in < 0 else _span(expires_in)


def cmd_ls(args: argparse.Namespace) -> int:
    from .lifecycle import control

    backends = _backends()
    placed, unreachable = control.environments_on(backends)
    if unreachable and not placed and len(backends) == 1:
        raise EngineUnavailableError(unreachable[0])
    rows: list[dict[str, Any]] = []
    for where in placed:
        rec = where.record
        containers = rec.containers
        running = sum(1 for c in containers if c.status == "running")
        alive = rec.owner.alive() if rec.owner else None
        if rec.owner is None:
            owner = "-"
        elif alive is False and rec.kept:
            owner = f"pid {rec.owner.pid} ended (kept)"  # a kept environment outlives it
        else:
            owner = f"pid {rec.owner.pid} " + (
                "alive" if alive else "gone" if alive is False else "remote"
            )
        rows.append(
            {
                "id": rec.id,
                "engine": where.backend.address,
                "name": rec.name,
                "services": f"{running}/{len(containers)} running",
                "kept": rec.kept,
                "expires_in": None if rec.expires is None else round(rec.expires - time.time()),
                "owner": owner,
                "age": _ago(rec.created),
                "spec": rec.spec,
                "spec_hash": rec.spec_hash,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return _unreachable(unreachable)
    if not rows:
        print("no environments")
        return _unreachable(unreachable)
    cols = ["id", "name", "services", "kept", "expires", "owner", "age"]
    several = len(backends) > 1
    if several:
        cols.append("engine")
    table = [
        [
            r["id"],
            r["name"],
            r["services"],
            "yes" if r["kept"] else "no",
            _expiry(r["expires_in"]),
            r["owner"],
            r["age"],
            *([r["engine"]] if several else []),
        ]
        for r in rows
    ]
    widths = [
        max(len(str(x)) for x in [c.upper(), *(row[i] for row in table)])
        for i, c in enumerate(cols)
    ]
    print("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True)))
    for row in table:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
    return _unreachable(unreachable)


def cmd_down(args: argparse.Namespace) -> int:
    from .lifecycle import control

    backends = _backends()
    if not args.ids and not args.all:
        raise _Usage("down: name environment ids (see `eph ls`), or --all")
    if args.ids and args.all:
        raise _Usage("down: give ids or --all, not both")
    unreachable: list[str] = []
    if args.all:
        placed, unreachable = control.environments_on(backends)
        if unreachable and not placed and len(backends) == 1:
            raise EngineUnavailableError(unreachable[0])
        targets = []
        for where in placed:
            rec = where.record
            if not rec.kept and rec.owner is not None and rec.owner.alive() is not False:
                owner = rec.owner.pid
                print(f"eph: skipping {rec.id}: held by a live run (pid {owner})", file=sys.stderr)
                continue
            targets.append(where)
    else:  # all known before removing any
        targets = [control.find_on(backends, i) for i in args.ids]
    status = EXIT_OK
    for where in targets:
        (removed,) = control.down(where.backend, [where.record])
        for err in removed.errors:
            _err(f"{removed.env_id}: {err}")
        if removed.errors:
            status = EXIT_FAILED
            print(f"not removed: {removed.env_id} (see the errors above)")
        else:
            print(f"removed {removed.env_id} ({removed.resources} resources)")
    if not targets:
        print("nothing to remove")
    return _unreachable(unreachable) or status


def cmd_logs(args: argparse.Namespace) -> int:
    from .lifecycle import control

    where = control.find_on(_backends(), args.id)
    backend, rec = where.backend, where.record
    texts = control.logs(backend, rec, args.service, args.tail)
    for name, text in texts.items():
        if len(texts) == 1:
            sys.stdout.write(text)
        else:
            for line in text.splitlines():
                print(f"{name} | {line}")
    return EXIT_OK


def cmd_exec(args: argparse.Namespace) -> int:
    from .lifecycle import control

    where = control.find_on(_backends(), args.id)
    backend, rec = where.backend, where.record
    container = control.service_of(rec, args.service)
    cmd = list(args.cmd)
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    if not cmd:
        raise _Usage("exec: give a command after --, e.g. eph exec ID db -- psql -U postgres")
    docker_cli = shutil.which("docker")
    if (
        sys.stdin.isatty()
        and docker_cli
        and backend.name == "docker"
        and not os.environ.get("DOCKER_HOST", "").startswith("ssh")
    ):
        control.audit_exec(rec, args.service, cmd, interactive=True)
        os.execv(docker_cli, [docker_cli, "exec", "-it", container.id, *cmd])
    result = control.exec_in(backend, rec, args.service, cmd)
    sys.stdout.write(result.output)
    return result.exit_code


def cmd_prune(args: argparse.Namespace) -> int:
    from .lifecycle import control

    backends = _backends()
    removed, unreachable = control.prune_on(backends)
    if unreachable and len(backends) == 1:
        raise EngineUnavailableError(unreachable[0])
    for env_id, why in removed.items():
        print(f"removed {env_id}: {why}")
    if not removed:
        print("nothing to prune")
    return _unreachable(unreachable)


def cmd_validate(args: argparse.Namespace) -> int:
    from .spec import discover_spec, load_spec, render_topology, resolve_spec_path

    paths = []
    for given in [*args.spec, *args.files]:  # several: merged in order, as compose -f a -f b
        path = resolve_spec_path(given, Path.cwd())
        if not path.exists():
            raise SpecError(
                f"spec file {given!r} not found: looked for {path}",
                fix="fix the path; a relative path starts at the current folder",
            )
        paths.append(discover_spec(path) if path.is_dir() else path)
    if not paths:
        paths.append(discover_spec(Path.cwd()))
    spec = load_spec(paths[0] if len(paths) == 1 else tuple(paths), profiles=tuple(args.profile))
    print(render_topology(spec))
    for warning in spec.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


_COMMANDS = {
    "up": cmd_up,
    "ls": cmd_ls,
    "down": cmd_down,
    "logs": cmd_logs,
    "exec": cmd_exec,
    "prune": cmd_prune,
    "validate": cmd_validate,
    "run": cmd_run,
    "env": cmd_env,
}

if __name__ == "__main__":
    sys.exit(main())
