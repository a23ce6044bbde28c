"""Charts of an estimate: the roofline, memory, KV-vs-weights crossover, batch and prefill sweeps,
and memory across model sizes × precisions.

Each kind lives in its own module with a `build(inputs, ...)` that computes the data with the core
and returns a chart object: `.to_dict()` (the numbers), `.figure()` (a matplotlib Figure, for PNG
and SVG) and `.plotly()` (a Plotly figure spec, for the HTML report and the web page).
Matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from importlib import import_module

from ..errors import RooflineError

KINDS = {
    "roofline": "roofline_chart",
    "memory": "memory_chart",
    "crossover": "crossover_chart",
    "batch": "batch_chart",
    "prefill": "prefill_chart",
    "precisions": "precisions_chart",
}


def check_kind(kind: str) -> str:
    k = (kind or "").strip().lower()
    if k not in KINDS:
        raise RooflineError(f"unknown plot kind '{kind}' (choose from: {', '.join(KINDS)})")
    return k


def build(kind: str, inputs, **options):
    """The chart of `kind` for `inputs` (plots.inputs.Inputs); options are the kind's own."""
    module = import_module(f"{__name__}.{KINDS[check_kind(kind)]}")
    return module.build(inputs, **options)


def build_all(inputs) -> dict:
    """Every kind with its defaults, as the report and the web page show them: the precisions chart
    draws the chosen GPUs' capacities next to the common ones."""
    from .precisions_chart import DEFAULT_CAPACITY_GPUS

    charts = {}
    for kind in KINDS:
        extra = {"capacity_gpus": [*inputs.gpus, *DEFAULT_CAPACITY_GPUS]} if kind == "precisions" else {}
        charts[kind] = build(kind, inputs, **extra)
    return charts
