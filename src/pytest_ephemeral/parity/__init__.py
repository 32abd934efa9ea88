"""Production parity: where the ephemeral environment differs from production,
and which differences the spec accepts on purpose (DESIGN.md section 10).

:func:`parity_report` compares a loaded spec with production manifests
(Kubernetes YAML, ``helm template`` output, or a Compose file); ``eph parity``
prints it. Secret values are never read into a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..spec.model import Spec
from ._compare import Difference, Match, ParityReport, compare
from ._config import Accept, ParityConfig, read_parity_config, spec_parity_config
from ._errors import ParityError
from ._model import Workload
from ._production import Production, load_production
from ._report import report_json, report_text
from ._yaml import shown_path

__all__ = [
    "Accept",
    "Difference",
    "Match",
    "ParityConfig",
    "ParityError",
    "ParityReport",
    "Production",
    "Workload",
    "compare",
    "load_production",
    "parity_report",
    "read_parity_config",
    "report_json",
    "report_text",
    "spec_parity_config",
    "summary_line",
]


def parity_report(
    spec: Spec, against: Sequence[Path] = (), config: ParityConfig | None = None
) -> ParityReport:
    """Compare ``spec`` with the production files ``against`` (default: the spec's
    ``parity.against``). Raises :class:`ParityError` on bad input."""
    from ._ephemeral import spec_workloads

    config = spec_parity_config(spec) if config is None else config
    paths = tuple(against) or config.against
    if not paths:
        raise ParityError(
            f"{shown_path(spec.path)}: no production manifests to compare with "
            "(pass --against PATH, or write parity: {against: [PATH]} in the spec)"
        )
    production = load_production(paths)
    return compare(
        spec_workloads(spec),
        production.workloads,
        production.aliases,
        config,
        spec=shown_path(spec.path),
        against=[shown_path(p) for p in paths],
    )


def summary_line(report: ParityReport) -> str:
    """One line for a terminal header or summary (pytest's, when the spec names
    ``parity.against``): the counts, and where to see the list."""
    against = ", ".join(report.against)
    unaccepted, accepted = len(report.unaccepted), len(report.accepted)
    if not unaccepted:
        return f"parity: no unaccepted difference against {against} ({accepted} accepted)"
    plural = "s" if unaccepted != 1 else ""
    return (
        f"parity: {unaccepted} unaccepted difference{plural} against {against} "
        f"({accepted} accepted); `eph parity` lists them"
    )
