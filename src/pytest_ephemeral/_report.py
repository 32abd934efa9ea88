"""Terminal summary, kept-environment instructions and log report sections."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from .lifecycle.manager import Manager

__all__ = ["describe_environment", "log_sections", "write_summary"]

LOG_LINES = 200


def log_sections(manager: Manager, since: float | None) -> Iterator[tuple[str, str]]:
    """(where, text) per service of every live environment of ``manager``: its
    log lines since ``since`` (bounded)."""
    from .errors import EphemeralError

    for env in list(manager.environments.values()):
        for name, svc in env.services.items():
            try:
                text = svc.logs(since=since, tail=LOG_LINES)
            except EphemeralError as exc:
                text = f"(logs unavailable: {exc})"
            if text.strip():
                yield f"eph {env.id}/{name}", text


def _fmt(t: float | None) -> str:
    return f"{t:6.2f}s" if t is not None else "      -"


def _addresses(host: str, ports: Mapping[str, int]) -> str:
    return ", ".join(f"{p} -> {host}:{hp}" for p, hp in ports.items()) or "(no published ports)"


def describe_environment(summary: Mapping[str, Any], *, commands: bool) -> list[str]:
    """The lines that describe one environment (summary from Environment.summary())."""
    lines = []
    n = len(summary["services"])
    head = f"{summary['id']}  ({summary['name']}, {n} service{'' if n == 1 else 's'}"
    if summary.get("ready_after") is not None:
        head += f", ready in {summary['ready_after']:.2f}s"
    if summary.get("reused"):
        head += ", reused"
    if summary.get("shared"):
        by = summary.get("worker")
        head += ", shared" + (f", created by worker {by}" if by and by != "main" else "")
    elif summary.get("worker") and summary["worker"] != "main":
        head += f", worker {summary['worker']}"
    head += ", KEPT)" if summary.get("kept") else ")"
    lines.append(head)
    width = max([len("service"), *(len(n) for n in summary["services"])])
    columns = "".join(f"  {c:>7}" for c in ("image", "created", "started", "ready"))
    lines.append(f"  {'service':<{width}}{columns}  address")
    for name, svc in summary["services"].items():
        t = summary["timeline"].get(name, {})
        times = "".join(f"  {_fmt(t.get(c))}" for c in ("image", "created", "started", "ready"))
        lines.append(f"  {name:<{width}}{times}  {_addresses(svc['host'], svc['ports'])}")
    if commands:
        for name, svc in summary["services"].items():
            if svc.get("url"):
                lines.append(f"  {name}: {svc['url']}")
        env_id = summary["id"]
        first = next(iter(summary["services"]), "SERVICE")
        lines.append(f"  logs:   eph logs {env_id} [SERVICE]")
        lines.append(f"  shell:  eph exec {env_id} {first} -- sh")
        lines.append(f"  remove: eph down {env_id}")
    return lines


def write_summary(tr: pytest.TerminalReporter, summaries: Sequence[Mapping[str, Any]]) -> None:
    tr.write_sep("=", "ephemeral environments")
    for summary in summaries:
        for line in describe_environment(summary, commands=bool(summary.get("kept"))):
            tr.write_line(line)
