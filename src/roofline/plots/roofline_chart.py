"""The roofline: each GPU's memory slope and compute flats, with every operator and both phases
placed at (arithmetic intensity, attained FLOP/s = FLOPs / time).

An operator sits on the slope when bandwidth limits it and under a flat when compute does; how far
below its roof it sits is what kernel overheads and efficiencies cost it. Operators with no FLOPs
(embedding lookups) or no bytes (collectives) have no place on these axes and are listed instead.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..units import fmt_rate
from . import style
from .inputs import Inputs, gpus_label, workload_label

TERA = 1e12
X_LABEL = "Arithmetic intensity (FLOP/byte)"
Y_LABEL = "Attained performance (TFLOP/s)"
PHASE_MARKERS = {"prefill": "o", "decode": "^"}
PLOTLY_SYMBOLS = {"prefill": "circle", "decode": "triangle-up"}


@dataclass(frozen=True)
class Flat:
    dtypes: str  # formats sharing one peak, e.g. "bf16/fp16"
    flops: float  # FLOP/s, dense datasheet peak
    ridge: float  # FLOP/B where this flat meets the memory slope

    @property
    def vector(self) -> bool:
        """fp32 runs on the vector ALUs, not the tensor cores: drawn dotted."""
        return "fp32" in self.dtypes.split("/")


@dataclass(frozen=True)
class GpuRoofs:
    gpu: str
    display_name: str
    bandwidth: float  # B/s, datasheet
    flats: list[Flat]
    compute_dtype: str  # the format this run's GEMMs use
    achievable_flops: float  # this run's GEMM roof with efficiencies (= peak when ideal)
    achievable_bandwidth: float

    @property
    def derated(self) -> bool:
        """Whether efficiencies put the achievable roof below the datasheet one (not with --ideal)."""
        peak = next((f.flops for f in self.flats if self.compute_dtype in f.dtypes.split("/")), self.achievable_flops)
        return self.achievable_flops < peak or self.achievable_bandwidth < self.bandwidth


@dataclass(frozen=True)
class Point:
    gpu: str
    phase: str
    name: str  # operator ("qkv_proj (global)") or the phase itself
    arithmetic_intensity: float  # FLOP/B
    attained_flops: float  # FLOP/s
    time_s: float
    bound: str


@dataclass(frozen=True)
class RooflineChart:
    title: str
    subtitle: str
    roofs: list[GpuRoofs]
    ops: list[Point]
    phases: list[Point]
    left_out: list[str]  # operators with no place on log axes, and why
    x_label: str = X_LABEL
    y_label: str = Y_LABEL

    def to_dict(self) -> dict:
        return asdict(self)

    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        xs = [p.arithmetic_intensity for p in self.ops + self.phases] + [f.ridge for r in self.roofs for f in r.flats]
        ys = [p.attained_flops / TERA for p in self.ops + self.phases] + [f.flops / TERA for r in self.roofs for f in r.flats]
        return style.decade_limits(xs, pad=2.0), style.decade_limits(ys, pad=1.5)

    def _phase_label_points(self) -> list[Point]:
        """The highest point of each phase: the one that carries the phase's name. With several GPUs
        the phase points sit close together, and a name on each would stack ("decode decode")."""
        top: dict[str, Point] = {}
        for p in self.phases:
            if p.phase not in top or p.attained_flops > top[p.phase].attained_flops:
                top[p.phase] = p
        return list(top.values())

    def figure(self):
        fig, ax = style.new_figure()
        (x0, x1), (y0, y1) = self.limits()
        style.log_axes(ax)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        labels: list[tuple[float, str, str]] = []
        many = len(self.roofs) > 1
        for i, r in enumerate(self.roofs):
            c = style.color(i)
            top = max(f.flops for f in r.flats)
            ridge_top = top / r.bandwidth
            ax.plot([x0, ridge_top], [x0 * r.bandwidth / TERA, top / TERA], color=c, linewidth=2,
                    label=_slope_label(r), gid=f"slope:{r.gpu}")
            for f in r.flats:
                ax.plot([f.ridge, x1], [f.flops / TERA] * 2, color=c, linewidth=1.0 if f.vector else 1.6,
                        linestyle=":" if f.vector else "-", gid=f"flat:{r.gpu}:{f.dtypes}")
                labels.append((f.flops / TERA, f"{r.gpu + ' ' if many else ''}{f.dtypes} {fmt_rate(f.flops)}", c))
            if r.derated:
                knee = r.achievable_flops / r.achievable_bandwidth
                ax.plot([x0, knee, x1], [x0 * r.achievable_bandwidth / TERA, r.achievable_flops / TERA, r.achievable_flops / TERA],
                        color=c, linewidth=1.2, linestyle="--", alpha=0.8)
        style.margin_labels(ax, labels)
        gpus = [r.gpu for r in self.roofs]
        for i, gpu in enumerate(gpus):
            c = style.color(i)
            for phase, marker in PHASE_MARKERS.items():
                pts = [p for p in self.ops if p.gpu == gpu and p.phase == phase]
                if pts:
                    ax.scatter([p.arithmetic_intensity for p in pts], [p.attained_flops / TERA for p in pts], s=30,
                               marker=marker, color=c, edgecolors="white", linewidths=0.6, alpha=0.85, zorder=3,
                               gid=f"ops:{gpu}:{phase}")
            for p in (q for q in self.phases if q.gpu == gpu):
                ax.scatter([p.arithmetic_intensity], [p.attained_flops / TERA], s=170, marker=PHASE_MARKERS[p.phase],
                           color=c, edgecolors="black", linewidths=1.4, zorder=4, gid=f"phase:{gpu}:{p.phase}")
        for p in self._phase_label_points():  # one label per phase, by its highest point, however many GPUs
            ax.annotate(p.phase, (p.arithmetic_intensity, p.attained_flops / TERA), xytext=(9, 4),
                        textcoords="offset points", fontsize=9, fontweight="bold", color="black")
        from matplotlib.lines import Line2D

        handles, _ = ax.get_legend_handles_labels()
        if any(r.derated for r in self.roofs):
            handles.append(Line2D([], [], color=style.GREY, linestyle="--", label="achievable: × this run's efficiencies"))
        for phase, marker in PHASE_MARKERS.items():
            handles.append(Line2D([], [], linestyle="", marker=marker, color=style.GREY, markersize=6, label=f"{phase} operators"))
        handles.append(Line2D([], [], linestyle="", marker="o", markerfacecolor=style.GREY, markeredgecolor="black",
                              markersize=11, label="phase totals"))
        # below the axes: inside, it would cover operators (low-intensity ones sit anywhere at the left)
        fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
        ax.set_xlabel(self.x_label, fontsize=style.FONT_SIZE)
        ax.set_ylabel(self.y_label, fontsize=style.FONT_SIZE)
        style.title(fig, ax, self.title, self.subtitle)
        return fig

    def plotly(self) -> dict:
        (x0, x1), (y0, y1) = self.limits()
        data: list[dict] = []
        labels: list[tuple[float, str, str]] = []
        many = len(self.roofs) > 1
        for i, r in enumerate(self.roofs):
            c = style.color(i)
            top = max(f.flops for f in r.flats)
            data.append({"type": "scatter", "mode": "lines", "x": [x0, top / r.bandwidth], "y": [x0 * r.bandwidth / TERA, top / TERA],
                         "name": _slope_label(r), "legendgroup": r.gpu,
                         "line": {"color": c, "width": 2.5}, "hoverinfo": "name"})
            for f in r.flats:
                data.append({"type": "scatter", "mode": "lines", "x": [f.ridge, x1], "y": [f.flops / TERA] * 2,
                             "name": f"{r.gpu} {f.dtypes}", "legendgroup": r.gpu, "showlegend": False,
                             "hovertemplate": f"{r.display_name} {f.dtypes}: {fmt_rate(f.flops)}<br>ridge {f.ridge:.0f} FLOP/B<extra></extra>",
                             "line": {"color": c, "width": 1.5, "dash": "dot" if f.vector else "solid"}})
                labels.append((f.flops / TERA, f"{r.gpu + ' ' if many else ''}{f.dtypes} {fmt_rate(f.flops)}", c))
            if r.derated:
                knee = r.achievable_flops / r.achievable_bandwidth
                data.append({"type": "scatter", "mode": "lines", "x": [x0, knee, x1],
                             "y": [x0 * r.achievable_bandwidth / TERA, r.achievable_flops / TERA, r.achievable_flops / TERA],
                             "name": f"{r.gpu} achievable ({r.compute_dtype})", "legendgroup": r.gpu,
                             "line": {"color": c, "width": 1.2, "dash": "dash"}, "hoverinfo": "name"})
        for i, r in enumerate(self.roofs):
            c = style.color(i)
            for phase, symbol in PLOTLY_SYMBOLS.items():
                pts = [p for p in self.ops if p.gpu == r.gpu and p.phase == phase]
                if pts:
                    data.append({"type": "scatter", "mode": "markers", "name": f"{phase} operators ({r.gpu})",
                                 "legendgroup": r.gpu, "x": [p.arithmetic_intensity for p in pts],
                                 "y": [p.attained_flops / TERA for p in pts], "text": [_hover(p) for p in pts],
                                 "hovertemplate": "%{text}<extra></extra>",
                                 "marker": {"symbol": symbol, "size": 8, "color": c, "opacity": 0.85,
                                            "line": {"color": "white", "width": 0.6}}})
            pts = [p for p in self.phases if p.gpu == r.gpu]
            labelled = self._phase_label_points()
            data.append({"type": "scatter", "mode": "markers+text", "name": f"phase totals ({r.gpu})", "legendgroup": r.gpu,
                         "x": [p.arithmetic_intensity for p in pts], "y": [p.attained_flops / TERA for p in pts],
                         "text": [p.phase if p in labelled else "" for p in pts], "textposition": "middle right",
                         "customdata": [_hover(p) for p in pts], "hovertemplate": "%{customdata}<extra></extra>",
                         "marker": {"symbol": [PLOTLY_SYMBOLS[p.phase] for p in pts], "size": 16, "color": c,
                                    "line": {"color": "black", "width": 1.5}}})
        true = [style.axis_fraction(y, y0, y1, log=True) for y, _, _ in labels]
        notes = [{"x": 1.005, "xref": "paper", "y": at, "yref": "paper", "text": text, "showarrow": False, "xanchor": "left",
                  "font": {"size": 10, "color": col}} for (_, text, col), at in zip(labels, style.spread(true, 0.06))]
        layout = style.plotly_layout(
            self.title, self.subtitle,
            xaxis=style.plotly_axis(self.x_label, log=True, range=[math.log10(x0), math.log10(x1)]),
            yaxis=style.plotly_axis(self.y_label, log=True, range=[math.log10(y0), math.log10(y1)]),
            annotations=notes,
        )
        layout["margin"] = {**layout["margin"], "r": 230 if many else 150}
        return {"data": data, "layout": layout}


def _slope_label(r) -> str:
    """The GPU's bandwidth and ridge point, in the legend: ridge labels on the chart would collide
    with each other and with the slopes of the other GPUs."""
    ridge = next((f.ridge for f in r.flats if r.compute_dtype in f.dtypes.split("/")), None)
    return f"{r.display_name}: {r.bandwidth / 1e12:.3g} TB/s" + (f", ridge {ridge:.0f} FLOP/B ({r.compute_dtype})" if ridge else "")


def _hover(p: Point) -> str:
    return (f"<b>{p.name}</b> ({p.phase}, {p.gpu})<br>{p.arithmetic_intensity:.3g} FLOP/B · "
            f"{fmt_rate(p.attained_flops)} · {p.time_s * 1e3:.3g} ms · {p.bound}-bound")


def _flats(peaks: dict[str, float], bandwidth: float) -> list[Flat]:
    by_value: dict[float, list[str]] = {}
    for dtype, flops in peaks.items():
        by_value.setdefault(flops, []).append(dtype)
    return [Flat("/".join(names), v, v / bandwidth) for v, names in sorted(by_value.items(), key=lambda kv: -kv[0])]


def build(inputs: Inputs) -> RooflineChart:
    roofs, ops, phases, left_out = [], [], [], []
    for s, e in zip(inputs.setups, inputs.estimates):
        g = s.gpu
        roofs.append(GpuRoofs(g.name, g.display_name, g.memory_bandwidth, _flats(g.peak_flops, g.memory_bandwidth),
                              s.prec.gemm_compute, float(s.roofs.gemm), float(s.roofs.bandwidth)))
        groups = {o.group for o in e.ops if o.group != "model"}
        for o in e.ops:
            label = o.name if len(groups) <= 1 or o.group == "model" else f"{o.name} ({o.group})"
            if o.flops <= 0 or o.bytes <= 0 or o.time_s <= 0:
                why = "a collective (no FLOPs or HBM bytes)" if o.bound == "communication" else "no FLOPs"
                left_out.append(f"{g.name} {o.phase} {label}: {why}")
                continue
            ops.append(Point(g.name, o.phase, label, o.arithmetic_intensity, o.flops / o.time_s, o.time_s, o.bound))
        for phase, ph in (("prefill", e.prefill), ("decode", e.decode)):
            phases.append(Point(g.name, phase, phase, ph.arithmetic_intensity, ph.flops / ph.time_s, ph.time_s, ph.bound))
    s = inputs.first
    return RooflineChart(f"Roofline: {s.model.name} on {gpus_label(inputs.setups)}", workload_label(s), roofs, ops, phases, left_out)
