"""Weights vs KV cache as the batch grows: the weights stay put, the KV cache grows with every
sequence, and past the crossover the cache is what fills the GPU. Every GPU asked about draws its
usable capacity, with the batch at which memory runs out on it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
    gpus: list[dict] = field(default_factory=list)  # every GPU: {gpu, display_name, capacity, max_batch_fits}
    x_label: str = X_LABEL
    y_label: str = Y_LABEL

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def _ylim(self) -> tuple[float, float]:
        caps = [g["capacity"] for g in self.gpus] or [self.capacity]
        return style.decade_limits([v / GB for v in (*self.weights, *self.kv_cache, *self.total, *caps)], pad=1.3)

    def _gpus(self) -> list[dict]:
        """One line per distinct capacity: GPUs of the same size share it (and run out at the same batch)."""
        merged: dict[float, dict] = {}
        for g in self.gpus or [{"gpu": self.capacity_gpu, "display_name": self.capacity_gpu, "capacity": self.capacity,
                                "max_batch_fits": self.max_batch_fits}]:
            if g["capacity"] in merged:
                m = merged[g["capacity"]]
                m["gpu"] = m["display_name"] = f"{m['gpu']}, {g['gpu']}"  # short names when several share a line
            else:
                merged[g["capacity"]] = dict(g)
        return list(merged.values())

    @staticmethod
    def _capacity_label(g: dict) -> str:
        full = f"full at batch {g['max_batch_fits']:,}" if g["max_batch_fits"] else "full before batch 1"
        return f"{g['display_name']} {fmt_bytes(g['capacity'])}: {full}"

    def figure(self):
        fig, ax = style.new_figure()
        style.log_axes(ax)
        b = self.batch
        ax.plot(b, [w / GB for w in self.weights], color=style.BLUE, linewidth=2.2, label="weights", gid="weights")
        ax.plot(b, [k / GB for k in self.kv_cache], color=style.VERMILLION, linewidth=2.2, label="KV cache", gid="kv")
        ax.plot(b, [t / GB for t in self.total], color=style.BLACK, linewidth=1.2, linestyle="--",
                label="total (+ activations, overhead)", gid="total")
        ax.set_ylim(*self._ylim())
        ax.set_xlim(b[0], b[-1])
        labels = []
        for i, g in enumerate(self._gpus()):
            c = style.color(i + 2)  # blue and vermillion are the weights and the KV cache
            ax.axhline(g["capacity"] / GB, color=c, linewidth=1.2, linestyle=":", gid=f"capacity:{g['gpu']}")
            if g["max_batch_fits"] and g["max_batch_fits"] <= b[-1]:
                ax.plot([g["max_batch_fits"]], [g["capacity"] / GB], marker="s", markersize=8, color=c,
                        markeredgecolor="black", linestyle="", gid=f"marker:full:{g['gpu']}")
            labels.append((g["capacity"] / GB, self._capacity_label(g).replace(": ", "\n", 1), c))
        style.margin_labels(ax, labels, gap=0.08)
        if self.crossover_batch:
            w = self.weights[0] / GB
            ax.axvline(self.crossover_batch, color=style.VERMILLION, linewidth=1, linestyle=":")
            ax.plot([self.crossover_batch], [w], marker="o", markersize=9, color=style.VERMILLION,
                    markeredgecolor="black", linestyle="", gid="marker:crossover")
            ax.annotate(f"KV cache > weights\nfrom batch {self.crossover_batch}", (self.crossover_batch, w),
                        xytext=(10, -28), textcoords="offset points", fontsize=9, color=style.VERMILLION)
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
        for i, g in enumerate(self._gpus()):
            c = style.color(i + 2)
            shapes.append(style.plotly_hline(g["capacity"] / GB, "", c, log=True, dash="dot")[0])
            # capacity and where it runs out, as a legend entry: labels on close lines would collide
            full = g["max_batch_fits"] if g["max_batch_fits"] and g["max_batch_fits"] <= b[-1] else None
            data.append({"type": "scatter", "mode": "lines+markers", "name": self._capacity_label(g),
                         "x": [full], "y": [g["capacity"] / GB] if full else [None],
                         "line": {"color": c, "width": 1.5, "dash": "dot"},
                         "marker": {"symbol": "square", "size": 10, "color": c, "line": {"color": "black", "width": 1}}})
        if self.crossover_batch:
            sh, an = style.plotly_vline(self.crossover_batch, f"KV > weights from batch {self.crossover_batch}", style.VERMILLION)
            shapes.append(sh)
            notes.append(an)
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
    gpus = [{"gpu": g.gpu.name, "display_name": gpu_label(g), "capacity": float(g.capacity),
             "max_batch_fits": max_batch_that_fits(g)} for g in inputs.setups]
    fits = gpus[0]["max_batch_fits"]
    grid = batch_grid(default_max_batch(cross, max(g["max_batch_fits"] for g in gpus), s.total_batch)
                      if max_batch is None else max_batch, points)  # 0 is an error, not the default
    m = memory_sweep(s, grid)
    return CrossoverChart(
        f"Weights vs KV cache: {s.model.name}", workload_label(s, with_batch=False),
        style.listed(grid), style.listed(m.weights_bytes), style.listed(m.kv_cache_bytes), style.listed(m.total_bytes),
        float(s.capacity), gpu_label(s), cross, fits, gpus,
    )
