"""Prefill arithmetic intensity and time to first token against prompt length.

A prefill of L tokens reuses every weight L times, so its intensity climbs with L until it crosses
the GPU's ridge point and the prefill turns compute-bound; from there TTFT grows linearly with L
(and faster once attention's L² term takes over).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..estimates.sweep import length_grid, prefill_sweep
from ..evidence.uncertainty import band, setup_situation
from . import style
from .inputs import Inputs, gpus_label, workload_label

X_LABEL = "Prompt length (tokens per sequence)"
AI_LABEL = "Prefill arithmetic intensity (FLOP/byte)"
TTFT_LABEL = "Time to first token (ms)"
DEFAULT_MAX_LEN = 32_768


@dataclass(frozen=True)
class PrefillSeries:
    gpu: str
    display_name: str
    input_len: list[float]
    arithmetic_intensity: list[float]
    ttft_s: list[float]
    ridge_point: float
    ridge_crossing: int | None  # shortest prompt whose prefill reaches the ridge
    chosen_input_len: int
    ttft_at_input_len_s: float
    ttft_low_s: list[float] | None = None  # the 80% interval (docs/accuracy.md), None without a basis
    ttft_high_s: list[float] | None = None


@dataclass(frozen=True)
class PrefillChart:
    title: str
    subtitle: str
    series: list[PrefillSeries]
    context_window: int | None
    x_label: str = X_LABEL
    y_labels: tuple[str, str] = (AI_LABEL, TTFT_LABEL)

    def to_dict(self) -> dict:
        return asdict(self)

    def figure(self):
        fig, (top, bottom) = style.new_figure(rows=2, height=6.0)
        for ax in (top, bottom):
            style.log_axes(ax)
        for i, s in enumerate(self.series):
            c = style.color(i)
            dash = ("-", "--", "-.", ":")[i % 4]  # same model and format give one intensity curve: keep each visible
            top.plot(s.input_len, s.arithmetic_intensity, color=c, linewidth=2.2, linestyle=dash, label=_legend(s), gid=f"ai:{s.gpu}")
            top.axhline(s.ridge_point, color=c, linewidth=1.1, linestyle="--", gid=f"ridge:{s.gpu}")
            bottom.plot(s.input_len, [t * 1e3 for t in s.ttft_s], color=c, linewidth=2.2, gid=f"ttft:{s.gpu}")
            if s.ttft_low_s:  # the 80% interval from the held-out errors of the calibration set
                bottom.fill_between(s.input_len, [t * 1e3 for t in s.ttft_low_s], [t * 1e3 for t in s.ttft_high_s],
                                    color=c, alpha=0.13, linewidth=0, gid=f"band:{s.gpu}")
            bottom.plot([s.chosen_input_len], [s.ttft_at_input_len_s * 1e3], marker="o", markersize=8, color=c,
                        markeredgecolor="black", linestyle="", gid=f"current:{s.gpu}")
            if s.ridge_crossing:
                for ax in (top, bottom):
                    ax.axvline(s.ridge_crossing, color=c, linewidth=1, linestyle=":")
                top.plot([s.ridge_crossing], [s.ridge_point], marker="D", markersize=8, color=c, markeredgecolor="black",
                         linestyle="", gid=f"marker:crossing:{s.gpu}")
        if self.context_window and self.context_window < self.series[0].input_len[-1]:
            for ax in (top, bottom):
                ax.axvspan(self.context_window, self.series[0].input_len[-1], color=style.GREY, alpha=0.08, linewidth=0)
            bottom.annotate("beyond the context window", (self.context_window, 0.04), xycoords=("data", "axes fraction"),
                            xytext=(3, 0), textcoords="offset points", fontsize=8, color=style.GREY, rotation=90, va="bottom")
        top.set_ylabel("Arithmetic intensity\n(FLOP/byte)", fontsize=style.FONT_SIZE)
        bottom.set_ylabel(self.y_labels[1], fontsize=style.FONT_SIZE)
        bottom.set_xlabel(self.x_label, fontsize=style.FONT_SIZE)
        bottom.set_xlim(self.series[0].input_len[0], self.series[0].input_len[-1])
        top.legend(loc="lower right", fontsize=8, framealpha=0.9)  # under the rising curve: always empty
        style.title(fig, top, self.title, self.subtitle)
        return fig

    def plotly(self) -> dict:
        data, shapes, notes = [], [], []
        for i, s in enumerate(self.series):
            c = style.color(i)
            data.append({"type": "scatter", "mode": "lines", "name": f"{s.gpu} intensity · {_legend(s, short=True)}", "legendgroup": s.gpu,
                         "x": s.input_len, "y": s.arithmetic_intensity, "yaxis": "y", "line": {"color": c, "width": 2.5},
                         "hovertemplate": "%{x} tokens: %{y:.4g} FLOP/B<extra></extra>"})
            data.append({"type": "scatter", "mode": "lines", "name": f"{s.gpu} TTFT", "legendgroup": s.gpu,
                         "x": s.input_len, "y": [t * 1e3 for t in s.ttft_s], "yaxis": "y2", "line": {"color": c, "width": 2.5},
                         "hovertemplate": "%{x} tokens: TTFT %{y:.4g} ms<extra></extra>"})
            if s.ttft_low_s:  # the 80% interval as a shaded band
                data += style.plotly_band(s.input_len, [t * 1e3 for t in s.ttft_low_s], [t * 1e3 for t in s.ttft_high_s],
                                          c, f"{s.gpu} TTFT 80% interval", s.gpu, yaxis="y2")
            data.append({"type": "scatter", "mode": "markers", "name": f"{s.gpu} prompt {s.chosen_input_len}", "legendgroup": s.gpu,
                         "x": [s.chosen_input_len], "y": [s.ttft_at_input_len_s * 1e3], "yaxis": "y2",
                         "marker": {"size": 11, "color": c, "line": {"color": "black", "width": 1.5}},
                         "hovertemplate": "chosen prompt %{x}: TTFT %{y:.4g} ms<extra></extra>"})
            # the lines only: their numbers are in the legend, where labels cannot collide
            shapes.append(style.plotly_hline(s.ridge_point, "", c, log=True)[0])
            if s.ridge_crossing:
                shapes.append(style.plotly_vline(s.ridge_crossing, "", c, yref="paper")[0])
        layout = style.plotly_layout(
            self.title, self.subtitle,
            xaxis=style.plotly_axis(self.x_label, log=True, anchor="y2"),
            yaxis=style.plotly_axis("Intensity (FLOP/byte)", log=True, domain=[0.55, 1.0]),
            yaxis2=style.plotly_axis("TTFT (ms)", log=True, domain=[0.0, 0.45]),
            shapes=shapes, annotations=notes,
        )
        return {"data": data, "layout": layout}


def _legend(s: PrefillSeries, short: bool = False) -> str:
    """The GPU with its ridge (dashed line) and where prefill crosses it (dotted line, diamond)."""
    cross = f", compute-bound from {s.ridge_crossing:,} tokens" if s.ridge_crossing else ", never compute-bound"
    return f"{'' if short else s.display_name + ': '}ridge {s.ridge_point:.0f} FLOP/B{cross}"


def default_max_len(inputs: Inputs) -> int:
    """Past the chosen prompt and, where stated, the context window, in a whole power of two."""
    s = inputs.first
    want = max(8192, 2 * s.input_len, min(s.model.max_position_embeddings or 0, DEFAULT_MAX_LEN))
    return 2 ** math.ceil(math.log2(want))


def build(inputs: Inputs, max_input_len: int | None = None, points: int = 256) -> PrefillChart:
    grid = length_grid(default_max_len(inputs) if max_input_len is None else max_input_len, points)
    series = []
    for s in inputs.setups:
        p = prefill_sweep(s, grid)
        at = prefill_sweep(s, np.array([float(s.input_len)]))
        rng = band("ttft_s", setup_situation(s), s.batch, p.ttft_s)
        series.append(PrefillSeries(s.gpu.name, s.gpu.display_name, style.listed(grid), style.listed(p.arithmetic_intensity),
                                    style.listed(p.ttft_s), p.ridge_point, p.ridge_crossing, s.input_len, float(at.ttft_s[0]),
                                    style.listed(rng[0]) if rng else None, style.listed(rng[1]) if rng else None))
    s = inputs.first
    return PrefillChart(f"Prefill vs prompt length: {s.model.name} on {gpus_label(inputs.setups)}",
                        workload_label(s, with_lengths=False), series, s.model.max_position_embeddings)
