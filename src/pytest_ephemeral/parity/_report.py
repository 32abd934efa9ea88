"""The parity report for a person, and as JSON."""

from __future__ import annotations

import json

from ._compare import Difference, JsonValue, ParityReport

__all__ = ["report_json", "report_text"]


def _value(value: JsonValue) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "; ".join(value) if value else "(none)"
    return value


def _rows(diffs: tuple[Difference, ...], *, why: bool) -> list[str]:
    lines = []
    for d in diffs:
        lines.append(f"  {d.service}: {d.field}")
        lines.append(f"      ephemeral:  {_value(d.ephemeral)}")
        lines.append(f"      production: {_value(d.production)}")
        if why and d.why:
            lines.append(f"      why: {d.why}")
    return lines


def report_text(report: ParityReport) -> str:
    lines = [f"parity: {report.spec} against {', '.join(report.against)}"]
    if report.matches:
        lines.append("matched:")
        lines += [f"  {m.service} = {m.origin}" for m in report.matches]
    unaccepted, accepted = report.unaccepted, report.accepted
    lines.append(f"unaccepted differences ({len(unaccepted)}):")
    lines += _rows(unaccepted, why=False) or ["  none"]
    lines.append(f"accepted differences ({len(accepted)}):")
    lines += _rows(accepted, why=True) or ["  none"]
    if report.notes:
        lines.append("notes:")
        lines += [f"  {note}" for note in report.notes]
    if unaccepted:
        lines.append(
            f"{len(unaccepted)} unaccepted difference{'s' if len(unaccepted) != 1 else ''}: "
            "align them, or accept each with a reason under parity.accept in the spec"
        )
    else:
        lines.append(f"ok: no unaccepted difference ({len(accepted)} accepted)")
    return "\n".join(lines)


def report_json(report: ParityReport) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "spec": report.spec,
            "against": list(report.against),
            "matched": [
                {"service": m.service, "production": m.production, "origin": m.origin}
                for m in report.matches
            ],
            "differences": [d.as_json() for d in report.differences],
            "notes": list(report.notes),
        },
        indent=2,
    )
