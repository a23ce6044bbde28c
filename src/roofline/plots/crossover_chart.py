"""Weights vs KV cache as the batch grows: the weights stay put, the KV cache grows with every
sequence, and past the crossover the cache is what fills the GPU."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..estimates.sweep import batch_grid, kv_crossover_batch, max_batch_that_fits, memory_sweep
from ..units import GB, fmt_bytes
from . import style
from .inputs import Inputs, gpu_label, workload_label

X_LABEL = "Batch size (sequences)"
Y_LABEL = f"Memory per GPU, {style.GB_LABEL}"
MAX_DEFAULT_BATCH = 65_536


@dataclass(frozen=True)
class CrossoverChart:
    title: str
    subtitle: str
    batch: list[float]
    weights: list[float]  # bytes per GPU at each batch
    kv_cache: list[float]
    total: list[float]  # weights + KV + activations + overhead
    capacity: float  # the first GPU's usable bytes
    capacity_gpu: str
    crossover_batch: int | None  # KV cache ≥ weights from here
    max_batch_fits: int  # largest batch that fits (0: none)
    x_label: str = X_LABEL
    y_label: str = Y_LABEL

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def _ylim(self) -> tuple[float, float]:
        return style.decade_limits([v / GB for v in (*self.weights, *self.kv_cache, *self.total, self.capacity)], pad=1.3)

    def figure(self):
        fig, ax = style.new_figure()
        style.log_axes(ax)
        b = self.batch
        ax.plot(b, [w / GB for w in self.weights], color=style.BLUE, linewidth=2.2, label="weights", gid="weights")
        ax.plot(b, [k / GB for k in self.kv_cache], color=style.VERMILLION, linewidth=2.2, label="KV cache", gid="kv")
        ax.plot(b, [t / GB for t in self.total], color=style.BLACK, linewidth=1.2, linestyle="--",
                label="total (+ activations, overhead)", gid="total")
        ax.axhline(self.capacity / GB, color=style.GREY, linewidth=1.2, linestyle=":", gid="capacity")
        ax.set_ylim(*self._ylim())
        ax.set_xlim(b[0], b[-1])
        style.margin_labels(ax, [(self.capacity / GB, f"{self.capacity_gpu}\n{fmt_bytes(self.capacity)}", style.GREY)])
        if self.crossover_batch:
            w = self.weights[0] / GB
            ax.axvline(self.crossover_batch, color=style.VERMILLION, linewidth=1, linestyle=":")
            ax.plot([self.crossover_batch], [w], marker="o", markersize=9, color=style.VERMILLION,
                    markeredgecolor="black", linestyle="", gid="marker:crossover")
            ax.annotate(f"KV cache > weights\nfrom batch {self.crossover_batch}", (self.crossover_batch, w),
                        xytext=(10, -28), textcoords="offset points", fontsize=9, color=style.VERMILLION)
        if self.max_batch_fits and self.max_batch_fits <= b[-1]:
            ax.plot([self.max_batch_fits], [self.capacity / GB], marker="s", markersize=8, color=style.GREY,
                    markeredgecolor="black", linestyle="", gid="marker:full")
            ax.annotate(f"memory full at batch {self.max_batch_fits:,}", (self.max_batch_fits, self.capacity / GB),
                        xytext=(-10, 8), textcoords="offset points", ha="right", fontsize=9, color=style.BLACK)
        ax.set_xlabel(self.x_label, fontsize=style.FONT_SIZE)
        ax.set_ylabel(self.y_label, fontsize=style.FONT_SIZE)
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
        style.title(fig, ax, self.title, self.subtitle)
        return fig

    def plotly(self) -> dict:
        b = self.batch
        data = [
            {"type": "scatter", "mode": "lines", "name": "weights", "x": b, "y": [w / GB for w in self.weights],
             "line": {"color": style.BLUE, "width": 2.5}, "hovertemplate": "batch %{x}: weights %{y:.3g} GB<extra></extra>"},
            {"type": "scatter", "mode": "lines", "name": "KV cache", "x": b, "y": [k / GB for k in self.kv_cache],
             "line": {"color": style.VERMILLION, "width": 2.5}, "hovertemplate": "batch %{x}: KV %{y:.3g} GB<extra></extra>"},
            {"type": "scatter", "mode": "lines", "name": "total (+ activations, overhead)", "x": b, "y": [t / GB for t in self.total],
             "line": {"color": style.BLACK, "width": 1.3, "dash": "dash"}, "hovertemplate": "batch %{x}: total %{y:.3g} GB<extra></extra>"},
        ]
        shapes, notes = [], []
        sh, an = style.plotly_hline(self.capacity / GB, f"{self.capacity_gpu} {fmt_bytes(self.capacity)}", style.GREY, log=True, dash="dot")
        shapes.append(sh)
        notes.append(an)
        if self.crossover_batch:
            sh, an = style.plotly_vline(self.crossover_batch, f"KV > weights from batch {self.crossover_batch}", style.VERMILLION)
            shapes.append(sh)
            notes.append(an)
        if self.max_batch_fits and self.max_batch_fits <= b[-1]:
            data.append({"type": "scatter", "mode": "markers", "name": f"memory full at batch {self.max_batch_fits:,}",
                         "x": [self.max_batch_fits], "y": [self.capacity / GB],
                         "marker": {"symbol": "square", "size": 10, "color": style.GREY, "line": {"color": "black", "width": 1}}})
        y0, y1 = self._ylim()
        layout = style.plotly_layout(self.title, self.subtitle,
                                     xaxis=style.plotly_axis(self.x_label, log=True),
                                     yaxis=style.plotly_axis(self.y_label, log=True, range=[math.log10(y0), math.log10(y1)]),
                                     shapes=shapes, annotations=notes)
        return {"data": data, "layout": layout}


def default_max_batch(cross: int | None, fits: int, batch: int) -> int:
    """A power of two past everything worth seeing: the crossover, the memory limit, the chosen batch."""
    want = max(64, 4 * (cross or 1), 2 * fits, 2 * batch)
    return min(MAX_DEFAULT_BATCH, 2 ** math.ceil(math.log2(want)))


def build(inputs: Inputs, max_batch: int | None = None, points: int = 256) -> CrossoverChart:
    s = inputs.first
    cross = kv_crossover_batch(s)
    fits = max_batch_that_fits(s)
    grid = batch_grid(default_max_batch(cross, fits, s.total_batch) if max_batch is None else max_batch, points)
    m = memory_sweep(s, grid)
    return CrossoverChart(
        f"Weights vs KV cache: {s.model.name}", workload_label(s, with_batch=False),
        style.listed(grid), style.listed(m.weights_bytes), style.listed(m.kv_cache_bytes), style.listed(m.total_bytes),
        float(s.capacity), gpu_label(s), cross, fits,
    )
