"""Decode step time and throughput against batch size.

While decode is memory-bound the step time barely moves as the batch grows (the weights are read
once per step whatever the batch), so throughput rises for free; past the critical batch the
weight GEMMs turn compute-bound and the step time grows with the batch. Beyond the largest batch
that fits in memory the curves are drawn dotted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..estimates.capacity import critical_batch
from ..evidence.uncertainty import band, setup_situation
from ..estimates.sweep import batch_grid, decode_sweep, max_batch_that_fits
from . import style
from .crossover_chart import MAX_DEFAULT_BATCH
from .inputs import Inputs, gpus_label, workload_label

X_LABEL = "Batch size (sequences)"
TIME_LABEL = "Decode step time (ms)"
RATE_LABEL = "Decode throughput (tokens/s)"


@dataclass(frozen=True)
class BatchSeries:
    gpu: str
    display_name: str
    batch: list[float]
    step_time_s: list[float]
    tokens_per_s: list[float]
    critical_batch: int | None
    max_batch_fits: int
    batch_size: int  # the chosen batch, marked
    step_time_at_batch_s: float
    tokens_per_s_at_batch: float
    step_time_low_s: list[float] | None = None  # the 80% interval (docs/accuracy.md), None without a basis
    step_time_high_s: list[float] | None = None


@dataclass(frozen=True)
class BatchChart:
    title: str
    subtitle: str
    series: list[BatchSeries]
    x_label: str = X_LABEL
    y_labels: tuple[str, str] = (TIME_LABEL, RATE_LABEL)

    def to_dict(self) -> dict:
        return asdict(self)

    def figure(self):
        fig, (top, bottom) = style.new_figure(rows=2, height=6.0)
        for ax in (top, bottom):
            style.log_axes(ax)
        for i, s in enumerate(self.series):
            c = style.color(i)
            b = np.array(s.batch)
            fits = b <= s.max_batch_fits
            for ax, ys, kind in ((top, np.array(s.step_time_s) * 1e3, "time"), (bottom, np.array(s.tokens_per_s), "rate")):
                crit = f" · critical batch {s.critical_batch:,}" if s.critical_batch else ""
                ax.plot(b, np.where(fits, ys, np.nan), color=c, linewidth=2.2, gid=f"{kind}:{s.gpu}",
                        label=f"{s.display_name}{crit}" if kind == "time" else None)
                if kind == "time" and s.step_time_low_s:
                    ax.fill_between(b, np.array(s.step_time_low_s) * 1e3, np.array(s.step_time_high_s) * 1e3, color=c,
                                    alpha=0.13, linewidth=0, gid=f"band:{s.gpu}")
                if not fits.all():
                    first = max(int(np.argmin(fits)) - 1, 0)  # overlap one point so the line is continuous
                    ax.plot(b[first:], ys[first:], color=c, linewidth=1.2, linestyle=":", gid=f"{kind}-overflow:{s.gpu}")
                at = s.step_time_at_batch_s * 1e3 if kind == "time" else s.tokens_per_s_at_batch
                ax.plot([s.batch_size], [at], marker="o", markersize=8, color=c, markeredgecolor="black",
                        linestyle="", gid=f"current:{s.gpu}:{kind}")
                if s.critical_batch:
                    ax.axvline(s.critical_batch, color=c, linewidth=1.1, linestyle="--", gid=f"critical:{s.gpu}:{kind}")
        top.set_ylabel(self.y_labels[0], fontsize=style.FONT_SIZE)
        bottom.set_ylabel(self.y_labels[1], fontsize=style.FONT_SIZE)
        bottom.set_xlabel(self.x_label, fontsize=style.FONT_SIZE)
        bottom.set_xlim(self.series[0].batch[0], max(s.batch[-1] for s in self.series))
        from matplotlib.lines import Line2D

        handles, _ = top.get_legend_handles_labels()
        handles += [Line2D([], [], color=style.GREY, linestyle="--", label="critical batch (compute-bound from here)"),
                    Line2D([], [], color=style.GREY, linestyle=":", label="does not fit in memory"),
                    Line2D([], [], color=style.GREY, marker="o", markeredgecolor="black", linestyle="", label="chosen batch")]
        if any(s.step_time_low_s for s in self.series):
            from matplotlib.patches import Patch

            handles.append(Patch(color=style.GREY, alpha=0.3, label="80% interval (held-out errors)"))
        top.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, 0.86), fontsize=8, framealpha=0.9)
        style.title(fig, top, self.title, self.subtitle)
        return fig

    def plotly(self) -> dict:
        data, shapes, notes = [], [], []
        for i, s in enumerate(self.series):
            c = style.color(i)
            fits = [b <= s.max_batch_fits for b in s.batch]
            for axis, ys, label, unit in (("y", [t * 1e3 for t in s.step_time_s], "step time", "ms"),
                                          ("y2", s.tokens_per_s, "throughput", "tokens/s")):
                # step time solid, throughput dash-dot: the two legend entries of one GPU must differ
                line = {"color": c, "width": 2.5} if axis == "y" else {"color": c, "width": 2.5, "dash": "dashdot"}
                data.append({"type": "scatter", "mode": "lines", "name": f"{s.gpu} {label}", "legendgroup": s.gpu,
                             "x": s.batch, "y": ys, "yaxis": axis, "line": line,
                             "customdata": ["" if f else " (does not fit)" for f in fits],
                             "hovertemplate": f"{s.gpu}: batch %{{x}} → %{{y:.4g}} {unit}%{{customdata}}<extra></extra>"})
            time_trace = data[-2]
            if s.step_time_low_s:  # the 80% interval as a shaded band under the step-time line
                data += style.plotly_band(s.batch, [t * 1e3 for t in s.step_time_low_s],
                                          [t * 1e3 for t in s.step_time_high_s], c, f"{s.gpu} 80% interval", s.gpu)
            data.append({"type": "scatter", "mode": "markers", "name": f"{s.gpu} batch {s.batch_size}", "legendgroup": s.gpu,
                         "x": [s.batch_size], "y": [s.step_time_at_batch_s * 1e3], "yaxis": "y",
                         "marker": {"size": 11, "color": c, "line": {"color": "black", "width": 1.5}},
                         "hovertemplate": f"chosen batch {s.batch_size}: %{{y:.4g}} ms<extra></extra>"})
            data.append({"type": "scatter", "mode": "markers", "name": f"{s.gpu} batch {s.batch_size} rate", "showlegend": False,
                         "legendgroup": s.gpu, "x": [s.batch_size], "y": [s.tokens_per_s_at_batch], "yaxis": "y2",
                         "marker": {"size": 11, "color": c, "line": {"color": "black", "width": 1.5}},
                         "hovertemplate": f"chosen batch {s.batch_size}: %{{y:.4g}} tokens/s<extra></extra>"})
            if s.critical_batch:  # the line only: its number is in the legend, where labels cannot collide
                sh, _ = style.plotly_vline(s.critical_batch, "", c, yref="paper", dash="dot")
                shapes.append(sh)
                data.append({"type": "scatter", "mode": "lines", "name": f"{s.gpu} critical batch {s.critical_batch:,}",
                             "legendgroup": s.gpu, "x": [None], "y": [None], "line": {"color": c, "width": 1.5, "dash": "dot"}})
            if s.max_batch_fits < s.batch[-1]:
                shapes.append({"type": "rect", "x0": max(s.max_batch_fits, s.batch[0]), "x1": s.batch[-1],
                               "y0": 0, "y1": 1,
                               "xref": "x", "yref": "paper", "fillcolor": c, "opacity": 0.07, "line": {"width": 0}})
                time_trace["name"] += f" (fits up to batch {s.max_batch_fits:,})"
        layout = style.plotly_layout(
            self.title, self.subtitle,
            xaxis=style.plotly_axis(self.x_label, log=True, anchor="y2"),
            yaxis=style.plotly_axis("Step time (ms)", log=True, domain=[0.55, 1.0]),
            yaxis2=style.plotly_axis("Tokens/s (decode)", log=True, domain=[0.0, 0.45]),
            shapes=shapes, annotations=notes,
        )
        return {"data": data, "layout": layout}


def default_max_batch(critical: int | None, fits: int, batch: int) -> int:
    want = max(256, 4 * (critical or 1024), 2 * batch, min(2 * fits, MAX_DEFAULT_BATCH))
    return min(MAX_DEFAULT_BATCH, 2 ** math.ceil(math.log2(want)))


def build(inputs: Inputs, max_batch: int | None = None, points: int = 256) -> BatchChart:
    series = []
    for s in inputs.setups:
        fits = max_batch_that_fits(s)
        top = default_max_batch(critical_batch(s), fits, s.total_batch) if max_batch is None else max_batch  # 0 is an error
        d = decode_sweep(s, batch_grid(top, points))
        at = decode_sweep(s, np.array([float(s.total_batch)]))  # the chosen batch, on the curve even between grid points
        rng = band("tpot_s", setup_situation(s), np.ceil(d.batch / s.par.dp), d.step_time_s)
        series.append(BatchSeries(s.gpu.name, s.gpu.display_name, style.listed(d.batch), style.listed(d.step_time_s),
                                  style.listed(d.tokens_per_s), d.critical_batch, fits, s.total_batch,
                                  float(at.step_time_s[0]), float(at.tokens_per_s[0]),
                                  style.listed(rng[0]) if rng else None, style.listed(rng[1]) if rng else None))
    s = inputs.first
    return BatchChart(f"Decode vs batch size: {s.model.name} on {gpus_label(inputs.setups)}",
                      workload_label(s, with_batch=False), series)
