"""The evaluation report: one self-contained HTML file a clinician can read without the code.

Metrics table (product and baseline side by side, with the gates), a per-category bar chart,
a latency histogram (matplotlib, embedded as base64 PNG), then every failed case with its
question, the full answer, its citations and the reasons it failed.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from .evaluation import CATEGORIES, Run, _fmt, check_gates, gate_text, label, metric_names

KIND_NAMES = {
    "answer": "answer", "no_answer": "no answer (not in sources)", "emergency": "emergency reply",
    "personal_advice": "personal advice declined", "out_of_scope": "out of scope", "invalid": "invalid input",
    "error": "error",
}


def write_report(path: Path | str, cases, product: Run, baseline: Run | None, gates: dict[str, dict],
                 settings=None, k: int = 5) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(cases, product, baseline, gates, settings=settings, k=k), encoding="utf-8")
    return path


def render_report(cases, product: Run, baseline: Run | None, gates: dict[str, dict], settings=None, k: int = 5) -> str:
    runs = [product] + ([baseline] if baseline else [])
    failed_gates = check_gates(product.metrics, gates)
    zh = sum(c.lang == "zh" for c in cases)
    meta = (f"{len(cases)} golden cases ({zh} Chinese, {len(cases) - zh} English) · "
            f"generated {datetime.now():%Y-%m-%d %H:%M}")
    if settings is not None:
        meta += f" · composer {html.escape(settings.composer)} · embedding model {html.escape(settings.embedding_model)}"
    verdict = ('<p class="ok">All gates passed.</p>' if not failed_gates else
               '<p class="bad">Gates failed:</p><ul>' + "".join(f"<li>{html.escape(g)}</li>" for g in failed_gates) + "</ul>")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>t1d-qa evaluation report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>t1d-qa evaluation report</h1>",
        f"<p class='meta'>{meta}</p>",
        verdict,
        "<h2>Metrics</h2>",
        _metrics_table(runs, gates),
        "<p class='note'>Definitions: docs/evaluation.md. Recall@k counts a case as a hit when one of the top "
        f"{k} retrieved chunks comes from an expected document (Chinese and English versions of a document count "
        "as the same document). The baseline is dense-only Chroma similarity_search(k=4) answering with the top "
        "chunk, with no safety layer.</p>",
        "<h2>Expected reply type, by category</h2>",
        _img(_category_chart(runs), "Share of cases with the expected reply type, per category"),
        "<h2>Latency</h2>",
        _img(_latency_chart(runs), "Latency histogram"),
        f"<h2>Failed cases: product ({len(product.failures)} of {len(product.results)})</h2>",
        _failed_cases(product),
    ]
    if baseline:
        parts += [
            f"<details><summary>Failed cases: baseline ({len(baseline.failures)} of {len(baseline.results)})</summary>",
            _failed_cases(baseline), "</details>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def _metrics_table(runs: list[Run], gates: dict[str, dict]) -> str:
    first = runs[0].metrics
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in runs)
    rows = []
    for name in metric_names(first):
        rule = gates.get(name)
        status = ""
        if rule:
            status = "<td class='bad'>FAIL</td>" if check_gates(first, {name: rule}) else "<td class='ok'>ok</td>"
        else:
            status = "<td></td>"
        cells = "".join(f"<td class='num'>{_fmt(name, r.metrics.get(name))}</td>" for r in runs)
        rows.append(f"<tr><td>{html.escape(label(name).strip())}</td>{cells}<td class='num'>{html.escape(gate_text(rule, name))}</td>{status}</tr>")
    return f"<table class='metrics'><tr><th>metric</th>{head}<th>gate</th><th></th></tr>{''.join(rows)}</table>"


def _failed_cases(run: Run) -> str:
    if not run.failures:
        return "<p class='ok'>No failed cases.</p>"
    out = []
    for result in run.results:
        reasons = run.failures.get(result.case.id)
        if not reasons:
            continue
        case, a = result.case, result.answer
        turns = "".join(f"<div class='turn'><b>{'Question' if i == len(case.turns) - 1 else 'Earlier turn'}:</b> "
                        f"{html.escape(t) or '<i>(empty)</i>'}</div>" for i, t in enumerate(case.turns))
        cites = "".join(
            f"<li>[{c.get('n')}] <b>{html.escape(c.get('title', ''))}</b> — {html.escape(c.get('section', ''))}"
            f"<br><span class='quote'>“{html.escape(c.get('quote', ''))}”</span>"
            f"<br><span class='src'>{html.escape(c.get('chunk_id', ''))}</span></li>"
            for c in a.get("citations") or []
        )
        expected = KIND_NAMES.get(case.kind, case.kind)
        got = KIND_NAMES.get(a.get("kind", ""), a.get("kind", ""))
        out.append(
            f"<div class='case' id='{html.escape(case.id)}'>"
            f"<h3>{html.escape(case.id)} <span class='tag'>{html.escape(case.category)}</span> "
            f"<span class='tag'>{case.lang}</span></h3>{turns}"
            f"<p><b>Expected:</b> {html.escape(expected)}"
            + (f"; documents {html.escape(', '.join(case.docs))}" if case.docs else "")
            + f" · <b>Got:</b> {html.escape(got)}</p>"
            + (f"<p class='note'>Case note: {html.escape(case.note)}</p>" if case.note else "")
            + "<p><b>Why it failed:</b></p><ul class='reasons'>"
            + "".join(f"<li>{html.escape(r)}</li>" for r in reasons) + "</ul>"
            f"<p><b>Answer:</b></p><div class='answer'>{html.escape(a.get('answer', '')) or '<i>(empty)</i>'}</div>"
            + (f"<p><b>Citations:</b></p><ol class='cites'>{cites}</ol>" if cites else "<p><b>Citations:</b> none</p>")
            + f"<p class='src'>Retrieved: {html.escape(', '.join(a.get('retrieved') or []) or 'nothing')}</p>"
            + "</div>"
        )
    return "\n".join(out)


# -- charts


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(data: str, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _category_chart(runs: list[Run]) -> str:
    plt = _plt()
    cats = [c for c in CATEGORIES if f"kind_accuracy.{c}" in runs[0].metrics]
    counts = {c: sum(r.case.category == c for r in runs[0].results) for c in cats}
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(runs)
    colors = ["#2b6cb0", "#bbbbbb"]
    for i, run in enumerate(runs):
        values = [100 * (run.metrics.get(f"kind_accuracy.{c}") or 0) for c in cats]
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(cats))]
        ax.bar(xs, values, width, label=run.name, color=colors[i % len(colors)])
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels([f"{c}\n(n={counts[c]})" for c in cats], fontsize=8)
    ax.set_ylabel("% with expected reply type")
    ax.set_ylim(0, 105)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _latency_chart(runs: list[Run]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    colors = ["#2b6cb0", "#999999"]
    data: list[Any] = [[ms for r in run.results for ms in r.latencies_ms] for run in runs]
    top = max((max(d) for d in data if d), default=1)
    bins = [top * i / 30 for i in range(31)]
    for i, (run, values) in enumerate(zip(runs, data)):
        ax.hist(values, bins=bins, alpha=0.6, label=run.name, color=colors[i % len(colors)])
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.legend(fontsize=8)
    return _png(fig)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em} .meta{color:#666;margin-top:0}
table.metrics{border-collapse:collapse;margin:1em 0} table.metrics td,table.metrics th{border:1px solid #ddd;padding:4px 10px}
table.metrics th{background:#f3f3f3;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600} .bad{color:#c62828;font-weight:600}
.note{color:#555;font-size:.9em} img{max-width:100%;border:1px solid #eee;margin:.5em 0}
.case{border:1px solid #ddd;border-left:4px solid #c62828;border-radius:4px;padding:.6em 1em;margin:1em 0}
.case h3{margin:.2em 0} .tag{font-size:.75em;background:#eef;border-radius:3px;padding:1px 6px;margin-left:4px;font-weight:normal}
.answer{white-space:pre-wrap;background:#fafafa;border:1px solid #eee;padding:.5em;border-radius:3px}
.quote{color:#333;font-style:italic} .src{color:#777;font-size:.85em} ul.reasons li{color:#a00}
"""
