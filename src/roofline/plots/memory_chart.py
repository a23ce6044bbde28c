"""Memory per GPU, stacked (weights, KV cache, activations, overhead), for one or several
batch/context settings, against each GPU's usable capacity."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import RooflineError
from ..estimates.sweep import max_batch_that_fits, memory_sweep
from ..units import GB, fmt_bytes
from . import style
from .inputs import Capacity, Inputs, capacities, gpu_label, workload_label

MAX_SETTINGS = 24
PARTS = (("weights", "weights", style.BLUE), ("kv_cache", "KV cache", style.VERMILLION),
         ("activations", "activations (peak prefill)", style.GREEN), ("overhead", "runtime overhead", style.ORANGE))
Y_LABEL = f"Memory per GPU, {style.GB_LABEL}"
X_LABEL = "Workload (batch × (input + output) tokens)"


@dataclass(frozen=True)
class Setting:
    batch: int
    input_len: int
    output_len: int
    weights: float  # bytes per GPU
    kv_cache: float
    activations: float
    overhead: float

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache + self.activations + self.overhead

    @property
    def label(self) -> str:
        return f"b={self.batch}\n{self.input_len}+{self.output_len}"


@dataclass(frozen=True)
class MemoryChart:
    title: str
    subtitle: str
    settings: list[Setting]
    capacities: list[Capacity]
    x_label: str = X_LABEL
    y_label: str = Y_LABEL

    def to_dict(self) -> dict:
        return {**asdict(self), "totals": [s.total for s in self.settings]}

    def figure(self):
        fig, ax = style.new_figure()
        x = np.arange(len(self.settings))
        bottom = np.zeros(len(self.settings))
        for key, label, col in PARTS:
            vals = np.array([getattr(s, key) for s in self.settings]) / GB
            ax.bar(x, vals, 0.6, bottom=bottom, color=col, label=label, edgecolor="white", linewidth=0.5, gid=f"bar:{key}")
            bottom += vals
        top = max([s.total for s in self.settings] + [c.bytes for c in self.capacities]) / GB
        for i, c in enumerate(self.capacities):
            ax.axhline(c.bytes / GB, color=style.BLACK, linestyle=("--", ":", "-.", (0, (5, 1)))[i % 4], linewidth=1.3,
                       gid=f"capacity:{c.gpu}")
        style.margin_labels(ax, [(c.bytes / GB, f"{c.display_name}\n{fmt_bytes(c.bytes)}", style.BLACK) for c in self.capacities],
                            gap=0.09)
        first = self.capacities[0].bytes
        for xi, s in zip(x, self.settings):
            fits = s.total <= first
            ax.text(xi, s.total / GB + top * 0.012, fmt_bytes(s.total) + ("" if fits else " ✗"), ha="center", va="bottom",
                    fontsize=style.FONT_SIZE - 2, color=style.BLACK if fits else style.VERMILLION,
                    fontweight="normal" if fits else "bold", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        ax.set_ylim(0, top * 1.12)
        ax.set_xticks(x, [s.label for s in self.settings], fontsize=style.FONT_SIZE - 1)
        ax.set_xlabel(self.x_label, fontsize=style.FONT_SIZE)
        ax.set_ylabel(self.y_label, fontsize=style.FONT_SIZE)
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
        style.title(fig, ax, self.title, self.subtitle)
        return fig

    def plotly(self) -> dict:
        labels = [s.label.replace("\n", "<br>") for s in self.settings]
        data = [{"type": "bar", "name": label, "x": labels, "y": [getattr(s, key) / GB for s in self.settings],
                 "marker": {"color": col}, "hovertemplate": f"{label}: %{{y:.3g}} GB<extra></extra>"}
                for key, label, col in PARTS]
        shapes, notes = [], []
        for i, c in enumerate(self.capacities):
            sh, an = style.plotly_hline(c.bytes / GB, f"{c.display_name} {fmt_bytes(c.bytes)}", style.BLACK,
                                        dash=("dash", "dot", "dashdot", "longdash")[i % 4])
            an["yshift"] = -16 * i if i else 0
            shapes.append(sh)
            notes.append(an)
        layout = style.plotly_layout(self.title, self.subtitle, barmode="stack",
                                     xaxis=style.plotly_axis(self.x_label, kind="category"),
                                     yaxis=style.plotly_axis(self.y_label), shapes=shapes, annotations=notes)
        return {"data": data, "layout": layout}


def default_batches(inputs: Inputs) -> list[int]:
    """Batch 1, the chosen batch, and the largest batch that fits the first GPU."""
    s = inputs.first
    most = max_batch_that_fits(s)
    return sorted({1, s.total_batch, *([most] if most else [])})


def build(inputs: Inputs, batches=None, input_lens=None, output_lens=None) -> MemoryChart:
    s = inputs.first
    batches = list(batches) if batches else default_batches(inputs)
    input_lens = list(input_lens) if input_lens else [s.input_len]
    output_lens = list(output_lens) if output_lens else [s.output_len]
    combos = list(itertools.product(batches, input_lens, output_lens))
    if len(combos) > MAX_SETTINGS:
        raise RooflineError(f"{len(combos)} batch × length settings; a memory chart shows at most {MAX_SETTINGS}")
    for b, i, o in combos:  # the same checks as an estimate: whole, positive, not absurd
        inputs.with_options(batch_size=b, input_len=i, output_len=o).first
    b, L, out = (np.array(v, dtype=float) for v in zip(*combos))
    m = memory_sweep(s, b, L, out)
    settings = [Setting(int(b[k]), int(L[k]), int(out[k]), float(m.weights_bytes[k]), float(m.kv_cache_bytes[k]),
                        float(m.activation_bytes[k]), float(m.overhead_bytes[k])) for k in range(len(combos))]
    caps = capacities([(x.gpu.name, gpu_label(x), float(x.capacity)) for x in inputs.setups])  # usable bytes
    return MemoryChart(f"Memory per GPU: {s.model.name}", workload_label(s, with_batch=False, with_lengths=False),
                       settings, caps)
