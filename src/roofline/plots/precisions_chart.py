"""Memory across model sizes × weight precisions, against common GPU capacities.

Weights scale with the parameter count and the bits per weight; the KV cache scales with the
workload (and shrinks with grouped-query attention), so each bar is stacked to show which of the
two a smaller format actually saves. The axis is linear: on a log axis the pieces of a stacked
bar would not read at their true size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..catalog import get_gpu
from ..cost.params import count_params
from ..errors import RooflineError
from ..scenario import Scenario
from ..estimates.sweep import memory_sweep
from ..units import GB, fmt_bytes, fmt_count
from . import style
from .inputs import Capacity, Inputs, capacities, resolve_model

DEFAULT_DTYPES = ("auto", "fp8", "int8", "int4")  # auto: the model dtype (bf16, else fp16)
# One GPU per common capacity step: 24, 40, 48, 80, 141 and 192 GB.
DEFAULT_CAPACITY_GPUS = ("l4", "a100-sxm-40gb", "l40s", "h100-sxm", "h200-sxm", "mi300x")
MAX_MODELS, MAX_DTYPES = 12, 8
PARTS = (("weights", "weights", style.BLUE), ("kv_cache", "KV cache", style.VERMILLION),
         ("other", "activations + overhead", style.ORANGE))
X_LABEL = "Model (parameters) and weight format"
Y_LABEL = f"Memory per GPU, {style.GB_LABEL}"


@dataclass(frozen=True)
class Bar:
    model: str
    params: int
    weight_dtype: str
    weights: float  # bytes per GPU
    kv_cache: float
    other: float  # peak activations + runtime overhead

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache + self.other


@dataclass(frozen=True)
class PrecisionsChart:
    title: str
    subtitle: str
    models: list[str]
    dtypes: list[str]
    bars: list[Bar]  # models × dtypes, model-major
    capacities: list[Capacity]
    x_label: str = X_LABEL
    y_label: str = Y_LABEL

    def to_dict(self) -> dict:
        return {**asdict(self), "totals": [b.total for b in self.bars]}

    def _positions(self) -> np.ndarray:
        n = len(self.dtypes)
        return np.array([m * (n + 1) + d for m in range(len(self.models)) for d in range(n)], dtype=float)

    def _top(self) -> float:
        """The linear axis' top, GB: room above the tallest bar and the largest capacity."""
        return max([b.total for b in self.bars] + [c.bytes for c in self.capacities]) / GB * 1.1

    def figure(self):
        fig, ax = style.new_figure()
        x = self._positions()
        bottom = np.zeros(len(self.bars))
        for key, label, col in PARTS:
            vals = np.array([getattr(b, key) for b in self.bars]) / GB
            ax.bar(x, vals, 0.85, bottom=bottom, color=col, label=label, edgecolor="white", linewidth=0.4, gid=f"bar:{key}")
            bottom += vals
        ax.set_ylim(0, self._top())
        for i, c in enumerate(self.capacities):
            ax.axhline(c.bytes / GB, color=style.GREY, linewidth=1, linestyle=("--", ":", "-.")[i % 3], gid=f"capacity:{c.gpu}")
        style.margin_labels(ax, [(c.bytes / GB, f"{c.gpu} {fmt_bytes(c.bytes)}", style.BLACK) for c in self.capacities])
        ax.set_xticks(x, [b.weight_dtype for b in self.bars], fontsize=style.FONT_SIZE - 2, rotation=90 if len(self.bars) > 24 else 0)
        n = len(self.dtypes)
        for m, name in enumerate(self.models):
            params = self.bars[m * n].params
            ax.annotate(f"{name}\n{fmt_count(params)} params", ((m * (n + 1) + (n - 1) / 2), 0), xycoords=("data", "axes fraction"),
                        xytext=(0, -24), textcoords="offset points", ha="center", va="top", fontsize=style.FONT_SIZE - 1,
                        fontweight="bold")
        ax.set_xlabel(self.x_label, fontsize=style.FONT_SIZE, labelpad=38)
        ax.set_ylabel(self.y_label, fontsize=style.FONT_SIZE)
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
        style.title(fig, ax, self.title, self.subtitle)
        return fig

    def plotly(self) -> dict:
        cats = [[f"{b.model}<br>{fmt_count(b.params)}" for b in self.bars], [b.weight_dtype for b in self.bars]]
        data = [{"type": "bar", "name": label, "x": cats, "y": [getattr(b, key) / GB for b in self.bars], "marker": {"color": col},
                 "hovertemplate": f"{label}: %{{y:.3g}} GB<extra></extra>"} for key, label, col in PARTS]
        top = self._top()
        shapes = [style.plotly_hline(c.bytes / GB, "", style.GREY, dash=("dash", "dot", "dashdot")[i % 3])[0]
                  for i, c in enumerate(self.capacities)]
        # labels in the right margin, pushed apart where capacities are close (40 and 48 GB)
        at = style.spread([c.bytes / GB / top for c in self.capacities], 0.05)
        notes = [{"x": 1.005, "xref": "paper", "y": y, "yref": "paper", "text": f"{c.gpu} {fmt_bytes(c.bytes)}", "showarrow": False,
                  "xanchor": "left", "font": {"size": 10, "color": style.GREY}} for c, y in zip(self.capacities, at)]
        layout = style.plotly_layout(self.title, self.subtitle, barmode="stack",
                                     xaxis=style.plotly_axis(self.x_label, kind="multicategory"),
                                     yaxis=style.plotly_axis(self.y_label, range=[0, top]), shapes=shapes, annotations=notes)
        layout["margin"] = {**layout["margin"], "r": 170}
        return {"data": data, "layout": layout}


def build(inputs: Inputs, models=None, weight_dtypes=None, capacity_gpus=None) -> PrecisionsChart:
    """`models`: names or specs (default: the inputs' model); `weight_dtypes`: formats to compare;
    `capacity_gpus`: GPUs whose capacities are drawn (default: one GPU per common capacity)."""
    specs = [resolve_model(m) for m in (models or [inputs.model])]
    dtypes = list(weight_dtypes or DEFAULT_DTYPES)
    if len(specs) > MAX_MODELS:
        raise RooflineError(f"{len(specs)} models; a precisions chart compares at most {MAX_MODELS}")
    if len(dtypes) > MAX_DTYPES:
        raise RooflineError(f"{len(dtypes)} weight formats; a precisions chart compares at most {MAX_DTYPES}")
    ref = inputs.first  # formats resolve on the first GPU (its native dtype and fp8/fp4 support)
    opts = {k: v for k, v in inputs.options.items() if k != "weight_dtype"}
    bars = []
    specs.sort(key=lambda m: count_params(m).total)
    for m in specs:
        for d in dtypes:
            s = Scenario.of(m, ref.gpu, **opts, weight_dtype=d).setup()
            mem = memory_sweep(s, s.total_batch)
            bars.append(Bar(m.name, count_params(m).total, s.prec.weight.name, float(mem.weights_bytes),
                            float(mem.kv_cache_bytes), float(mem.activation_bytes + mem.overhead_bytes)))
    util = inputs.options.get("gpu_memory_utilization", 1.0)
    gpus = [get_gpu(g) for g in (capacity_gpus or DEFAULT_CAPACITY_GPUS)]
    caps = sorted(capacities([(g.name, g.display_name, g.memory_bytes * util) for g in gpus]), key=lambda c: c.bytes)
    names = ", ".join(m.name for m in specs)
    split = f" · tp {ref.par.tp} × pp {ref.par.pp} (per GPU)" if ref.par.num_gpus > 1 else ""
    subtitle = (f"batch {ref.batch} · {ref.input_len} in / {ref.output_len} out tokens · activations {ref.prec.model.name}, "
                f"KV {ref.prec.kv_cache.name}{split}")
    return PrecisionsChart(f"Memory across sizes and precisions: {names}", subtitle,
                           [m.name for m in specs], [b.weight_dtype for b in bars[:len(dtypes)]], bars, caps)
