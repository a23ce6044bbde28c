"""The report as one HTML document: no external scripts, styles, fonts or images.

Charts are Plotly figure specs embedded as JSON and drawn by the inlined plotly.js; everything else
is plain HTML tables. Every string from the model or the catalog is escaped.
"""

from __future__ import annotations

import inspect
import json
from html import escape
from importlib import import_module

from .. import __version__
from ..estimates.result import Estimate, clean
from ..plots import KINDS, build_all
from ..plots.inputs import Inputs, precision_label
from ..units import fmt_bw, fmt_bytes, fmt_flops, fmt_num, fmt_rate, fmt_time
from .assets import plotly_js

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 1100px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: 14px; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .25rem .7rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f5f5f5; }
.bad { color: #D55E00; font-weight: 600; } .ok { color: #009E73; font-weight: 600; }
.chart { width: 100%; height: 560px; } .chart.tall { height: 680px; }
.caption { color: #444; font-size: 14px; margin: .2rem 0 1.5rem; }
details { margin: .5rem 0; } summary { cursor: pointer; font-weight: 600; }
.trace { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; }
.trace h4 { font-family: system-ui, sans-serif; margin: .8rem 0 .2rem; color: #0072B2; }
.note { color: #8a5a00; }
"""

CHART_TITLES = {
    "roofline": "Roofline", "memory": "Memory per GPU", "crossover": "Weights vs KV cache",
    "batch": "Decode vs batch size", "prefill": "Prefill vs prompt length", "precisions": "Memory across precisions",
}
TALL = {"batch", "prefill"}


def _caption(kind: str) -> str:
    doc = inspect.getdoc(import_module(f"roofline.plots.{KINDS[kind]}")) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset(), raw: bool = False) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            cls = ' class="n"' if i in numeric else ""
            cells.append(f"<td{cls}>{v if raw else escape(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _inputs(inputs: Inputs, estimates: list[Estimate]) -> str:
    s, e = inputs.first, estimates[0]
    m = e.model
    rows = [
        ["model", f"{m['name']} ({m['architecture']}): {fmt_num(m['total_params'])} parameters, {fmt_num(m['active_params'])} active, "
                  f"{m['layers']} layers, hidden {m['hidden_size']}, {m['attention']}"],
        ["GPUs", ", ".join(f"{x.gpu['display_name']} [{x.gpu['name']}]" for x in estimates)],
        ["precision", precision_label(s) + f" — {e.precision['label']}"],
        ["parallelism", f"tensor {s.par.tp} × pipeline {s.par.pp} = {s.par.num_gpus} GPU(s); memory figures are per GPU"],
        ["workload", f"batch {s.total_batch} × ({s.input_len} prompt + {s.output_len} output) tokens"],
        ["GPU memory usable", f"{inputs.options.get('gpu_memory_utilization', 1.0):g} of capacity"],
        ["mode", "ideal roofline (datasheet peaks, no efficiencies or overheads)" if s.ideal else "calibrated (efficiencies and kernel overheads applied)"],
    ]
    return _table(["input", "value"], rows)


def _fits(e: Estimate) -> str:
    m = e.memory
    if m.fits:
        return f'<span class="ok">fits</span> ({escape(fmt_bytes(m.headroom_bytes))} free)'
    return f'<span class="bad">does not fit</span>: short by {escape(fmt_bytes(m.shortfall_bytes))}'


def _results(estimates: list[Estimate]) -> str:
    def row(label, f, numeric=True):
        return [escape(label)] + [f(e) if not numeric else escape(f(e)) for e in estimates]

    rows = [
        row("format", lambda e: e.precision["label"]),
        row("memory per GPU", lambda e: f"{fmt_bytes(e.memory.total_bytes)} of {fmt_bytes(e.memory.capacity_bytes)}"),
        row("fits", _fits, numeric=False),
        row("weights", lambda e: fmt_bytes(e.memory.weights_bytes)),
        row("KV cache", lambda e: fmt_bytes(e.memory.kv_cache_bytes)),
        row("activations (peak prefill)", lambda e: fmt_bytes(e.memory.activation_bytes)),
        row("runtime overhead", lambda e: fmt_bytes(e.memory.overhead_bytes)),
        row("TTFT (prefill)", lambda e: f"{fmt_time(e.ttft_s)} · {e.prefill.bound}-bound · {fmt_num(e.prefill.arithmetic_intensity)} FLOP/B"),
        row("TPOT (decode step)", lambda e: f"{fmt_time(e.tpot_s)} · {e.decode.bound}-bound · {fmt_num(e.decode.arithmetic_intensity)} FLOP/B"),
        row("decode throughput", lambda e: f"{e.decode_tokens_per_s:,.4g} tokens/s ({1 / e.tpot_s:,.4g} per sequence)"),
        row("end to end", lambda e: f"{fmt_time(e.e2e_latency_s)} · {e.output_tokens_per_s:,.4g} output tokens/s"),
        row("communication", lambda e: f"prefill {fmt_time(e.prefill.comm_s)} · decode {fmt_time(e.decode.comm_s)} per step"),
        row("peak / bandwidth", lambda e: f"{fmt_rate(e.gpu['peak_flops'])} {e.gpu['compute_dtype']} · {fmt_bw(e.gpu['memory_bandwidth'])}"),
        row("ridge point", lambda e: f"{e.ridge_point_flop_per_byte:.4g} FLOP/B"),
        row("critical batch", lambda e: str(e.critical_batch_size) if e.critical_batch_size else "none (never compute-bound)"),
    ]
    header = ["", *[e.gpu["name"] for e in estimates]]
    table = _table(header, rows, raw=True)
    notes = [f"<li><b>{escape(e.gpu['name'])}</b>: {escape(n)}</li>" for e in estimates for n in e.notes]
    return table + (f'<ul class="note">{"".join(notes)}</ul>' if notes else "")


def _ops(e: Estimate) -> str:
    rows = [[o.phase, o.name, o.group, str(o.count), fmt_flops(o.flops), fmt_bytes(o.bytes),
             "-" if o.bytes == 0 else f"{o.arithmetic_intensity:.3g}", fmt_time(o.time_s), o.bound] for o in e.ops]
    return _table(["phase", "operator", "layers", "×", "FLOPs", "bytes", "FLOP/B", "time", "bound"], rows, numeric={3, 4, 5, 6, 7})


def _trace(e: Estimate) -> str:
    parts = []
    for section, steps in e.explain().sections().items():
        lines = []
        for st in steps:
            if st.name == "note":
                lines.append(f'<span class="note">note: {escape(st.formula)}</span>')
            else:
                lines.append(escape(st.line()))
        parts.append(f"<h4>{escape(section)}</h4>" + "\n".join(lines))
    return f'<div class="trace">{"".join(parts)}</div>'


def _script_json(value) -> str:
    """JSON that cannot close the <script> element it sits in."""
    return json.dumps(clean(value), allow_nan=False, separators=(",", ":")).replace("</", "<\\/")


def render_report(inputs: Inputs) -> str:
    estimates = inputs.estimates
    charts = build_all(inputs)
    s = inputs.first
    title = f"{s.model.name} on {', '.join(e.gpu['name'] for e in estimates)}"
    figures = {kind: c.plotly() for kind, c in charts.items()}
    chart_html = []
    for kind, chart in charts.items():
        extra = ""
        if kind == "roofline" and chart.left_out:
            extra = f'<p class="caption">Not on the chart: {escape("; ".join(chart.left_out))}.</p>'
        chart_html.append(f'<h3>{escape(CHART_TITLES[kind])}</h3><div class="chart{" tall" if kind in TALL else ""}" id="chart-{kind}"></div>'
                          f'<p class="caption">{escape(_caption(kind))}</p>{extra}')
    per_gpu = []
    for e in estimates:
        per_gpu.append(f"<details><summary>Operators on {escape(e.gpu['display_name'])} (per GPU, all layers)</summary>{_ops(e)}</details>")
    traces = [f"<details open><summary>Working on {escape(e.gpu['display_name'])}</summary>{_trace(e)}</details>" for e in estimates]
    data = {"estimates": [e.to_dict() for e in estimates], "charts": {k: c.to_dict() for k, c in charts.items()}}
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="roofline {escape(__version__)}">
<title>roofline report: {escape(title)}</title>
<style>{CSS}</style>
<script>{plotly_js()}</script>
</head>
<body>
<h1>roofline report: {escape(title)}</h1>
<p class="sub">{escape(precision_label(s))} · batch {s.batch} · {s.input_len} in / {s.output_len} out tokens.
Each operator costs max(FLOPs / compute rate, bytes / memory bandwidth); GB = 10⁹ bytes throughout.</p>
<h2>Inputs</h2>
{_inputs(inputs, estimates)}
<h2>Results</h2>
{_results(estimates)}
<h2>Charts</h2>
{''.join(chart_html)}
<h2>Operators</h2>
{''.join(per_gpu)}
<h2>Explain trace</h2>
{''.join(traces)}
<script type="application/json" id="figures">{_script_json(figures)}</script>
<script type="application/json" id="results">{_script_json(data)}</script>
<script>
(function () {{
  var figures = JSON.parse(document.getElementById("figures").textContent);
  Object.keys(figures).forEach(function (kind) {{
    var f = figures[kind];
    Plotly.newPlot("chart-" + kind, f.data, f.layout, {{responsive: true, displaylogo: false}});
  }});
}})();
</script>
</body>
</html>
"""
