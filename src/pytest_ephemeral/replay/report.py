"""The HTML report of a replay: per endpoint, the latency distribution of the
target and of the baseline as one picture (latency by percentile, the
percentile axis in "nines" as HdrHistogram plots it), then the goals and
the differences. One self-contained file: inline SVG and CSS, no script.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any, Final

__all__ = ["render_html", "write_html"]

_W: Final = 520
_H: Final = 200
_PAD_L: Final = 52
_PAD_B: Final = 28
_PAD_T: Final = 12
_PAD_R: Final = 12
_TICKS: Final = ((0.0, "0%"), (90.0, "90%"), (99.0, "99%"), (99.9, "99.9%"), (99.99, "99.99%"))
_COLOURS: Final = {"target": "#1f6feb", "baseline": "#d97706"}


def _nines(percentile: float) -> float:
    return -math.log10(max(1.0 - percentile / 100.0, 1e-4))


def _chart(endpoint: str, target: list[list[float]], baseline: list[list[float]]) -> str:
    series = [("target", target), ("baseline", baseline)]
    top = max([v for _name, pts in series for _p, v in pts] + [0.001])
    x_max = _nines(99.99)
    plot_w, plot_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B

    def x(p: float) -> float:
        return _PAD_L + plot_w * min(_nines(p), x_max) / x_max

    def y(v: float) -> float:
        return _PAD_T + plot_h * (1.0 - v / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="latency by percentile, '
        f'{escape(endpoint)}">',
        f'<rect x="{_PAD_L}" y="{_PAD_T}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ddd"/>',
    ]
    for i in range(5):
        v = top * i / 4
        parts.append(
            f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#eee"/>'
            f'<text x="{_PAD_L - 4}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{v:.3g} ms</text>"
        )
    for p, label in _TICKS:
        parts.append(
            f'<line x1="{x(p):.1f}" x2="{x(p):.1f}" y1="{_PAD_T}" y2="{_H - _PAD_B}" '
            'stroke="#eee"/>'
            f'<text x="{x(p):.1f}" y="{_H - _PAD_B + 14}" font-size="10" '
            f'text-anchor="middle">{label}</text>'
        )
    for name, pts in series:
        if not pts:
            continue
        # a step line: latency stays at the value until the next percentile
        coords = " ".join(f"{x(min(p, 99.99)):.1f},{y(v):.1f}" for p, v in pts)
        parts.append(
            f'<polyline fill="none" stroke="{_COLOURS[name]}" stroke-width="2" '
            f'points="{coords}"><title>{name}</title></polyline>'
        )
        for p, v in pts:
            parts.append(
                f'<circle cx="{x(min(p, 99.99)):.1f}" cy="{y(v):.1f}" r="2.5" '
                f'fill="{_COLOURS[name]}"><title>{name} p{p:g}: {v:.3f} ms</title></circle>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return escape(str(v))


def render_html(result: dict[str, Any]) -> str:
    """The report for a replay, from its ``as_dict()`` (the ``--json`` document)."""
    ok = result["ok"]
    head = (
        "<!doctype html><html><head><meta charset='utf-8'><title>eph replay report</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;"
        "padding:3px 8px;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}"
        ".ok{color:#1a7f37}.bad{color:#cf222e}.key span{display:inline-block;width:1em;"
        "height:.3em;margin:0 .3em .2em 1em}code{background:#f3f3f3;padding:0 3px}</style>"
        "</head><body>"
    )
    out = [head, "<h1>eph replay report</h1>"]
    verdict = "<span class='ok'>ok</span>" if ok else "<span class='bad'>FAILED</span>"
    out.append(
        f"<p>{verdict}: target <code>{escape(result['target'])}</code>"
        + "".join(f", baseline <code>{escape(b)}</code>" for b in result["baselines"])
        + f". {result['sent']} sent, {result['answered']} answered, {result['lost']} lost, "
        f"errors {escape(str(result['errors'] or 0))}, {result['duration_s']} s, "
        f"{result['rps']} answers/s, send lag p99 {_num(result['send_lag_p99_ms'])} ms.</p>"
    )
    if result.get("aborted"):
        out.append(f"<p class='bad'>Stopped early: {escape(result['aborted'])}.</p>")
    if result.get("skipped_unsafe"):
        out.append(f"<p>{result['skipped_unsafe']} unsafe requests were not sent.</p>")
    if result["goals"]:
        out.append(
            "<h2>Goals</h2><table><tr><th class='l'>goal</th><th>value</th>"
            "<th>limit</th><th>unit</th><th class='l'>result</th></tr>"
        )
        for g in result["goals"]:
            cls, word = ("ok", "ok") if g["ok"] else ("bad", "FAILED")
            out.append(
                f"<tr><td class='l'><code>{escape(g['goal'])}</code></td><td>{_num(g['value'])}"
                f"</td><td>{_num(g.get('threshold'))}</td><td>{escape(g['unit'])}</td>"
                f"<td class='l {cls}'>{word} {escape(g.get('note', ''))}</td></tr>"
            )
        out.append("</table>")
    out.append("<h2>Endpoints</h2>")
    out.append(
        "<p class='key'>Latency (from the scheduled send time) by percentile:"
        f"<span style='background:{_COLOURS['target']}'></span>target"
        + (
            f"<span style='background:{_COLOURS['baseline']}'></span>baseline"
            if result["baselines"]
            else ""
        )
        + "</p>"
    )
    for e in result["endpoints"]:
        out.append(f"<h3><code>{escape(e['endpoint'])}</code></h3>")
        out.append(_chart(e["endpoint"], e["distribution"], e.get("baseline_distribution") or []))
        cols = ["count", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "errors"]
        out.append("<table><tr><th class='l'></th>" + "".join(f"<th>{c}</th>" for c in cols))
        out.append("</tr><tr><td class='l'>target</td>")
        out.append("".join(f"<td>{_num(e.get(c))}</td>" for c in cols) + "</tr>")
        if result["baselines"]:
            out.append("<tr><td class='l'>baseline</td>")
            out.append("".join(f"<td>{_num(e.get('baseline_' + c))}</td>" for c in cols))
            out.append("</tr>")
        out.append("</table>")
        if e.get("errors_by_kind"):
            out.append(f"<p>errors: {escape(str(e['errors_by_kind']))}</p>")
    if result["baselines"]:
        out.append(f"<h2>Differences ({len(result['differences'])})</h2>")
        if not result["differences"]:
            out.append(f"<p class='ok'>None in {result['compared']} compared answers.</p>")
        for d in result["differences"]:
            out.append(
                f"<h3><code>{escape(d['endpoint'])}</code> <code>{escape(d['field'])}</code>: "
                f"{d['count']} times</h3><table><tr><th class='l'>request</th>"
                "<th class='l'>field</th><th class='l'>target</th><th class='l'>baseline</th></tr>"
            )
            for ex in d["examples"]:
                out.append(
                    "<tr>"
                    + "".join(
                        f"<td class='l'><code>{escape(str(ex.get(k, '')))}</code></td>"
                        for k in ("request", "field", "target", "baseline")
                    )
                    + "</tr>"
                )
            out.append("</table>")
        if result.get("noise"):
            out.append("<h3>Noise (differs between the baseline's own answers; not reported)</h3>")
            out.append("<ul>")
            for ep, fields in result["noise"].items():
                out.append(
                    f"<li><code>{escape(ep)}</code>: "
                    + ", ".join(f"<code>{escape(f)}</code>" for f in fields)
                    + "</li>"
                )
            out.append("</ul>")
    out.append("</body></html>\n")
    return "".join(out)


def write_html(result: dict[str, Any], path: Path) -> None:
    path.write_text(render_html(result), encoding="utf-8")
