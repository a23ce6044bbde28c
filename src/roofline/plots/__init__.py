"""Charts of an estimate: the roofline, memory, KV-vs-weights crossover, batch and prefill sweeps,
and memory across model sizes × precisions; and of a simulated serving run (serving_chart).

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


# Charts of a simulated serving run: built from the model, GPU and simulation options directly
# (serving_chart.build), not from an estimate's Inputs; not part of build_all (they simulate).
SERVING_KINDS = {"serving": "serving_chart"}


def check_kind(kind: str) -> str:
    k = (kind or "").strip().lower()
    if k not in KINDS and k not in SERVING_KINDS:
        raise RooflineError(f"unknown plot kind '{kind}' (choose from: {', '.join([*KINDS, *SERVING_KINDS])})")
    return k


def build(kind: str, inputs, **options):
    """The chart of `kind` for `inputs` (plots.inputs.Inputs; for a serving kind, the model), with
    the kind's own options."""
    k = check_kind(kind)
    module = import_module(f"{__name__}.{KINDS.get(k) or SERVING_KINDS[k]}")
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
