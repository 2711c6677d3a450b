"""DIR/stats.json for programs and DIR/report.html for people: the funnel of documents through the stages,
length and dialect-score distributions, and examples of every reject reason. Plain HTML with inline SVG: it opens
anywhere, offline."""

from __future__ import annotations

import html
import json
from itertools import pairwise
from pathlib import Path

_STYLE = """body{font-family:system-ui,"Noto Sans CJK TC","PingFang HK","Microsoft JhengHei",sans-serif;
max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#060}.bad{color:#b00;font-weight:bold}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.4rem;font-size:.85rem;font-family:inherit}"""


def write_report(output: str, stats: dict) -> None:
    out = Path(output)
    (out / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "report.html").write_text(render(stats), encoding="utf-8")


def _bars(labels: list[str], values: list[int], width: int = 560, color: str = "#4a7fb5") -> str:
    """A horizontal bar chart as inline SVG."""
    top = max(values) if values and max(values) > 0 else 1
    row, label_w = 22, 170
    parts = [f'<svg width="{width + label_w + 80}" height="{row * len(values) + 4}" role="img">']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = i * row
        w = int(width * value / top)
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row - 6}" fill="{color}"/>'
                     f'<text x="{label_w + w + 5}" y="{y + 15}" font-size="12">{value:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram_chart(hist: dict, fmt: str) -> str:
    bins, counts = hist["bins"], hist["counts"]
    labels = [f"{fmt.format(lo)}–{fmt.format(hi)}" for lo, hi in pairwise(bins)]
    return _bars(labels, counts, color="#6a9f58")


def _dialect_section(labels: dict) -> str:
    if not labels:
        return "<p>No dialect step in this pipeline.</p>"
    rows = "".join(f"<tr><td>{html.escape(label)}</td><td>{v['documents']:,}</td><td>{v['share']:.1%}</td>"
                   f"<td>{v['kept']:,}</td></tr>" for label, v in labels.items())
    examples = "".join(
        f"<h4>{html.escape(label)}</h4>" + "".join(
            f"<p><code>{html.escape(str(d['id']))}</code> score {d['score']} {'kept' if d['kept'] else 'dropped'}</p>"
            f"<pre>{html.escape(d['text'])}</pre>" for d in v["examples"])
        for label, v in labels.items())
    return (_bars(list(labels), [v["documents"] for v in labels.values()], color="#b5834a")
            + f"<table><tr><th>label</th><th>documents</th><th>share</th><th>kept</th></tr>{rows}</table>"
            + examples)


def render(stats: dict) -> str:
    ok = stats["reconciled"]
    rows = "".join(
        f"<tr><td>{html.escape(s['stage'])}</td><td>{s['in']:,}</td><td>{s['rejected']:,}</td><td>{s['out']:,}</td>"
        f"<td>{html.escape(', '.join(f'{k}: {v:,}' for k, v in s['reasons'].items()))}</td></tr>"
        for s in stats["stages"]
    )
    examples = "".join(
        f"<h3>{html.escape(e['stage'])} / {html.escape(e['reason'])}</h3>"
        + "".join(f"<p><code>{html.escape(str(d['id']))}</code> {html.escape(str(d['detail'] or ''))}</p>"
                  f"<pre>{html.escape(d['text'])}</pre>" for d in e["documents"])
        for e in stats["examples"]
    )
    dist = stats["distributions"]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Curation report</title>
<style>{_STYLE}</style></head><body>
<h1>Curation report</h1>
<p>Documents in <b>{stats['documents_in']:,}</b> = curated <b>{stats['documents_out']:,}</b> + rejected
<b>{stats['documents_rejected']:,}</b>:
<span class="{'ok' if ok else 'bad'}">{'reconciled' if ok else 'NOT reconciled: documents were lost'}</span>
({stats['elapsed_s']} s).</p>
<h2>Funnel</h2>
{_bars([s['stage'] for s in stats['stages']], [s['out'] for s in stats['stages']])}
<table><tr><th>stage</th><th>in</th><th>rejected</th><th>out</th><th>reasons</th></tr>{rows}</table>
<h2>Curated document length (characters)</h2>
{_histogram_chart(dist['curated_length_chars'], '{:,.0f}')}
<h2>Dialect labels (every document the dialect step saw)</h2>
{_dialect_section(stats.get('dialect_labels') or {})}
<h3>Dialect score (curated and dialect-rejected documents)</h3>
{_histogram_chart(dist['dialect_score'], '{:.1f}')}
<h2>Examples of each reject reason</h2>
{examples or '<p>Nothing was rejected.</p>'}
</body></html>
"""
