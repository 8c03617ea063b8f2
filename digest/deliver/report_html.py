"""The report (``report.issue_report``) as one self-contained HTML page: inline SVG charts, no script at all."""

from __future__ import annotations

from html import escape
from typing import Any

from .report import COUNTS, duration

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;
color:#1d2330;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
.note{background:#fff6dc;border:1px solid #e9d48a;padding:.6rem .8rem;border-radius:6px}
table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;text-align:left}td.n{text-align:right}
svg text{font:13px system-ui,sans-serif;fill:#1d2330}
@media (prefers-color-scheme: dark){body{background:#15181e;color:#e4e7ec}svg text{fill:#e4e7ec}
.note{background:#3a3218;border-color:#6b5a20}}
"""
_COLOURS = {"sent": "#6b7a90", "delivered": "#2f7d4f", "opened": "#2c6fbb", "clicked": "#7a4bc2",
            "bounced": "#c2412d", "deferred": "#c28a2d", "dropped": "#8c2d2d", "spam_reports": "#b5306f",
            "unsubscribed": "#6a6a6a", "machine_opens": "#8fb2d9"}


def _bars(rows: list[tuple[str, int, str, str]], title: str) -> str:
    """A horizontal bar chart: (label, value, colour, annotation) rows."""
    if not rows:
        return ""
    top = max(v for _, v, _, _ in rows) or 1
    label_w, bar_w, row_h = 190, 460, 26
    height = row_h * len(rows) + 8
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="100%" viewBox="0 0 {label_w + bar_w + 170} '
             f'{height}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value, colour, note) in enumerate(rows):
        y = 4 + i * row_h
        w = max(1.0, bar_w * value / top) if value else 0.0
        short = label.removeprefix("https://").removeprefix("http://")
        shown = short if len(short) <= 26 else short[:25] + "…"
        parts.append(f'<text x="0" y="{y + 17}">{escape(shown)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}" rx="3">'
                     f"<title>{escape(label)}: {value:,}</title></rect>"
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 17}">{value:,}{escape(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _variants(variants: list[dict[str, Any]]) -> list[str]:
    """The A/B subject test: a table of each variant's figures and its click rate as bars."""
    if not variants:
        return []

    def cell(value: Any, rate: float | None = None) -> str:
        shown = "–" if value is None else f"{int(value):,}" + (f" ({rate:.1%})" if rate is not None else "")
        return f'<td class="n">{shown}</td>'

    out = ["<h2>A/B subjects</h2><table><tr><th>#</th><th>Subject</th><th>Test recipients</th><th>Sent</th>"
           "<th>Delivered</th><th>Opened</th><th>Clicked</th><th></th></tr>"]
    for v in variants:
        rates = v["rates"]
        out.append(f'<tr><td>{int(v["variant"])}</td><td>{escape(str(v["subject"]))}</td>{cell(v["recipients"])}'
                   f'{cell(v["sent"])}{cell(v["delivered"])}{cell(v["opened"], rates.get("opened"))}'
                   f'{cell(v["clicked"], rates.get("clicked"))}<td>{"winner" if v["winner"] else ""}</td></tr>')
    out.append("</table>")
    if any(v["clicked"] is not None for v in variants):
        rows = [(f'{int(v["variant"])}. {v["subject"]}', int(v["clicked"] or 0), "#7a4bc2",
                 f'  ({v["rates"]["clicked"]:.1%} of delivered)' if v["rates"].get("clicked") is not None else "")
                for v in variants]
        out.append(_bars(rows, "unique clickers per subject"))
    return out


def render_html(report: dict[str, Any]) -> str:
    issue = escape(str(report["issue"]))
    rates = report["rates"]
    funnel = []
    for name in ("sent", *COUNTS):
        value = report.get(name)
        if value is None:
            continue
        rate = rates.get(name)
        note = f"  ({rate:.1%})" if rate is not None else ""
        funnel.append((name.replace("_", " "), int(value), _COLOURS.get(name, "#6b7a90"), note))
    body = [f"<h1>Issue {issue}</h1>",
            f"<p>Sent by {escape(', '.join(report['backends']) or 'nobody yet')}; figures from "
            f"{escape(report['source'])}. Counts are unique recipients; rates are of delivered "
            "(delivered: of sent). Machine opens are counted apart and left out of the open rate.</p>"]
    if report["note"]:
        body.append(f'<p class="note">{escape(report["note"])}</p>')
    body += ["<h2>Recipients</h2>", _bars(funnel, "recipients by outcome")]
    links = report["links"]
    if links:
        body += ["<h2>Links (unique clickers)</h2>",
                 _bars([(link["url"], int(link["clickers"]), "#7a4bc2", "") for link in links[:30]], "clicks per link")]
        body.append("<table><tr><th>Clickers</th><th>URL</th></tr>" + "".join(
            f'<tr><td class="n">{int(link["clickers"]):,}</td><td>{escape(link["url"])}</td></tr>' for link in links)
            + "</table>")
    body += _variants(report.get("variants") or [])
    spans = [(name, s) for name, s in report["milestones"].items() if s]
    if spans:
        body.append("<h2>Time from the send</h2><table><tr><th></th><th>first</th><th>half</th><th>last</th></tr>")
        body += [f"<tr><td>{escape(name)}</td><td>{duration(s['first'])}</td><td>{duration(s['median'])}</td>"
                 f"<td>{duration(s['last'])}</td></tr>" for name, s in spans]
        body.append("</table>")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Report: {issue}</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
