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

from .config import SettingsError
from .errors import EngineUnavailableError, EphemeralError, ServiceStartError, SpecError

if TYPE_CHECKING:
    from .lifecycle.inventory import EnvRecord
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

    val = sub.add_parser("validate", help="print the resolved topology, or the spec's errors")
    val.add_argument("spec", nargs="?", metavar="SPEC")
    val.add_argument("--profile", action="append", default=[], metavar="NAME")

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
    "render": (".backends.kubernetes.cli:main", "write an environment as Kubernetes manifests"),
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
    except (_Usage, SettingsError) as exc:
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


def _backend() -> Backend:
    from .runtime.docker_backend import DockerBackend

    return DockerBackend()


def _settings(args: argparse.Namespace, *, ttl: float = 8 * 3600.0) -> Any:
    from .config import Settings, image_map_from, parse_duration

    return Settings(
        rootdir=Path.cwd(),
        spec=getattr(args, "file", None) or getattr(args, "spec", None),
        timeout=parse_duration(str(getattr(args, "timeout", "60")), "--timeout"),
        image_map=image_map_from(getattr(args, "image_map", []), [], os.environ),
        keep="always",
        ttl=ttl,
        profiles=tuple(getattr(args, "profile", [])),
    )


def cmd_up(args: argparse.Namespace) -> int:
    from ._report import describe_environment
    from .config import parse_duration
    from .session import Manager

    ttl = parse_duration(args.ttl, "--ttl")
    manager = Manager(_settings(args, ttl=ttl), worker="up")
    if not args.json:
        print(f"eph: starting {manager.spec_path()} ...", file=sys.stderr)
    try:
        env = manager.environment()
    except BaseException:
        manager.close(failed=False)
        raise
    manager.close(failed=False)  # keep="always": marks it kept with its TTL
    summary = env.summary()
    summary["kept"] = True
    summary["expires"] = time.time() + ttl
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print("\n".join(describe_environment(summary, commands=True)))
    return EXIT_OK


def _records(backend: Backend) -> dict[str, EnvRecord]:
    from .lifecycle.inventory import inventory

    return inventory(backend)


def _find(backend: Backend, env_id: str) -> EnvRecord:
    records = _records(backend)
    if env_id in records:
        return records[env_id]
    matches = [k for k in records if k.startswith(env_id)]
    if len(matches) == 1:
        return records[matches[0]]
    known = ", ".join(sorted(records)) or "none"
    hint = "several match; give more of the id" if matches else f"known: {known}; see `eph ls`"
    raise _Usage(f"no environment {env_id!r} on the engine ({hint})")


def _check_service(rec: EnvRecord, name: str) -> None:
    services = rec.services()
    if name not in services:
        known = ", ".join(services) or "none left: its containers are gone; eph down it"
        raise _Usage(f"environment {rec.id} has no service {name!r} (services: {known})")


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
    backend = _backend()
    rows: list[dict[str, Any]] = []
    for rec in sorted(_records(backend).values(), key=lambda r: r.created or 0):
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
        return EXIT_OK
    if not rows:
        print("no environments")
        return EXIT_OK
    cols = ["id", "name", "services", "kept", "expires", "owner", "age"]
    table = [
        [
            r["id"],
            r["name"],
            r["services"],
            "yes" if r["kept"] else "no",
            _expiry(r["expires_in"]),
            r["owner"],
            r["age"],
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
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    backend = _backend()
    if not args.ids and not args.all:
        raise _Usage("down: name environment ids (see `eph ls`), or --all")
    if args.ids and args.all:
        raise _Usage("down: give ids or --all, not both")
    if args.all:
        targets = []
        for rec in _records(backend).values():
            if not rec.kept and rec.owner is not None and rec.owner.alive() is not False:
                print(
                    f"eph: skipping {rec.id}: held by a live run (pid {rec.owner.pid})",
                    file=sys.stderr,
                )
                continue
            targets.append(rec)
    else:
        targets = [_find(backend, i) for i in args.ids]  # all known before removing any
    for rec in targets:
        errors = backend.remove(rec.resources)
        for err in errors:
            _err(f"{rec.id}: {err}")
        print(f"removed {rec.id} ({len(rec.resources)} resources)")
    if not targets:
        print("nothing to remove")
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    backend = _backend()
    rec = _find(backend, args.id)
    services = rec.services()
    if args.service is not None:
        _check_service(rec, args.service)
    names = [args.service] if args.service else list(services)
    for name in names:
        text = backend.logs(services[name].id, tail=args.tail)
        if len(names) == 1:
            sys.stdout.write(text)
        else:
            for line in text.splitlines():
                print(f"{name} | {line}")
    return EXIT_OK


def cmd_exec(args: argparse.Namespace) -> int:
    backend = _backend()
    rec = _find(backend, args.id)
    services = rec.services()
    _check_service(rec, args.service)
    cmd = list(args.cmd)
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    if not cmd:
        raise _Usage("exec: give a command after --, e.g. eph exec ID db -- psql -U postgres")
    cid = services[args.service].id
    docker_cli = shutil.which("docker")
    if (
        sys.stdin.isatty()
        and docker_cli
        and not os.environ.get("DOCKER_HOST", "").startswith("ssh")
    ):
        os.execv(docker_cli, [docker_cli, "exec", "-it", cid, *cmd])
    result = backend.exec(cid, cmd)
    sys.stdout.write(result.output)
    return result.exit_code


def cmd_prune(args: argparse.Namespace) -> int:
    from .lifecycle.inventory import sweep

    removed = sweep(_backend())
    for env_id, why in removed.items():
        print(f"removed {env_id}: {why}")
    if not removed:
        print("nothing to prune")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from .spec import discover_spec, load_spec, render_topology

    path = discover_spec(Path.cwd(), args.spec, None)
    spec = load_spec(path, profiles=tuple(args.profile))
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
}

if __name__ == "__main__":
    sys.exit(main())
