"""One look for every chart, in matplotlib (PNG/SVG) and as Plotly figure specs (report, web page).

Colours are the Okabe–Ito palette, which stays distinguishable under the common colour-vision
deficiencies; yellow comes last because it vanishes on white. Matplotlib is imported only inside
the functions that draw, so importing this module costs nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import RooflineError

# Okabe & Ito, "Color Universal Design" (2008), ordered for contrast on white.
BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, BLACK, YELLOW = (
    "#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
PALETTE = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, BLACK, YELLOW)
GREY = "#6E6E6E"

FIGSIZE = (8.0, 5.0)  # inches; legible at 100% zoom at DPI
DPI = 150
FONT_SIZE = 10

GB_LABEL = "GB (10⁹ bytes)"

IMAGE_FORMATS = (".png", ".svg")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def check_output(path: str | Path, allowed: tuple[str, ...]) -> Path:
    """The output path, checked before any work: a known extension and a writable folder."""
    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise RooflineError(f"output '{p}' must end in {' or '.join(allowed)}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise RooflineError(f"cannot write '{p}': folder '{folder}' does not exist")
    if p.is_dir():
        raise RooflineError(f"cannot write '{p}': it is a folder")
    return p


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise RooflineError(f"cannot write '{path}': {e.strerror or e}") from None


def new_figure(rows: int = 1, height: float | None = None):
    """A matplotlib Figure (Agg-rendered, no pyplot state) and its axes, shared x when stacked."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise RooflineError("drawing PNG/SVG charts needs matplotlib: pip install 'roofline[plot]'") from None

    fig = Figure(figsize=(FIGSIZE[0], height or FIGSIZE[1]), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    for ax in axes:
        ax.grid(True, which="major", color="#D9D9D9", linewidth=0.8)
        ax.grid(True, which="minor", color="#EFEFEF", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=FONT_SIZE - 1)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, (axes[0] if rows == 1 else list(axes))


def title(fig, ax, text: str, subtitle: str = "") -> None:
    """Bold title over the figure; the workload as a grey line over the (top) axes."""
    fig.suptitle(text, fontsize=FONT_SIZE + 2, fontweight="bold")
    if subtitle:
        ax.set_title(subtitle, fontsize=FONT_SIZE - 1, color=GREY)


def spread(fractions: list[float], gap: float) -> list[float]:
    """Heights (0..1) pushed down, in order from the highest, until neighbours are `gap` apart:
    label positions that keep their order and never overlap."""
    order = sorted(range(len(fractions)), key=lambda k: -fractions[k])
    out = list(fractions)
    previous = None
    for k in order:
        if previous is not None and previous - out[k] < gap:
            out[k] = previous - gap
        previous = out[k]
    return out


def axis_fraction(y: float, lo: float, hi: float, log: bool) -> float:
    if log:
        return (math.log10(y) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return (y - lo) / (hi - lo)


def margin_labels(ax, labels: list[tuple[float, str, str]], gap: float = 0.042) -> None:
    """Texts in the right margin at given data heights, nudged apart so none overlap: labels for
    horizontal lines that would otherwise sit on the data. A moved label gets a leader line."""
    y0, y1 = ax.get_ylim()
    log = ax.get_yscale() == "log"
    true = [axis_fraction(y, y0, y1, log) for y, _, _ in labels]
    for (y, text, col), at, placed in zip(labels, true, spread(true, gap)):
        if abs(placed - at) > 0.005:
            ax.plot([1.0, 1.012], [at, placed], transform=ax.transAxes, color=col, linewidth=0.6, clip_on=False)
        ax.text(1.015, placed, text, transform=ax.transAxes, ha="left", va="center", fontsize=FONT_SIZE - 2, color=col,
                clip_on=False)


def tick_label(v: float) -> str:
    """Plain numbers where they are short (0.01, 250, 10000), powers of ten beyond."""
    if v <= 0 or not math.isfinite(v):
        return ""
    if 1e-3 <= v < 1e5:
        return f"{v:g}"
    exp = math.floor(math.log10(v))
    mant = v / 10**exp
    return f"$10^{{{exp}}}$" if abs(mant - 1) < 1e-9 else f"${mant:g}\\times10^{{{exp}}}$"


def log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Log scales with plain tick labels; on an axis spanning less than ~1.5 decades the 2× and
    5× minor ticks are labelled too, so a short axis never shows a single number."""
    from matplotlib.ticker import FuncFormatter

    for on, axis, limits in ((x, ax.xaxis, ax.get_xlim), (y, ax.yaxis, ax.get_ylim)):
        if not on:
            continue
        (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")

        def minor(v, _, limits=limits):
            lo, hi = limits()
            if hi / max(lo, 1e-300) > 30 or v <= 0:
                return ""
            mant = round(v / 10 ** math.floor(math.log10(v) + 1e-9), 6)
            return tick_label(v) if mant in (2, 5) else ""

        axis.set_major_formatter(FuncFormatter(lambda v, _: tick_label(v)))
        axis.set_minor_formatter(FuncFormatter(minor))


def save(fig, path: str | Path) -> Path:
    p = check_output(path, IMAGE_FORMATS)
    try:
        fig.savefig(p, format=p.suffix[1:].lower(), metadata=None)
    except OSError as e:
        raise RooflineError(f"cannot write '{p}': {e.strerror or e}") from None
    return p


def decade_limits(values, pad: float = 1.6) -> tuple[float, float]:
    """Log-axis limits on whole decades around the positive finite values."""
    vals = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not vals:
        return 0.1, 10.0
    lo, hi = min(vals) / pad, max(vals) * pad
    return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))


def spans_decades(values, ratio: float = 30.0) -> bool:
    vals = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return bool(vals) and max(vals) / min(vals) >= ratio


# Plotly: figures are plain dicts ({"data": [...], "layout": {...}}), so the web API and the
# report need only plotly.js, not the plotly Python package.

def plotly_axis(label: str, log: bool = False, kind: str | None = None, **extra) -> dict:
    """An axis; `kind` overrides the type ("category" for bars, "multicategory" for grouped bars).
    A log axis labels whole decades only (left alone, plotly labels every digit of a short axis:
    "2 3 4 5 6 7 8 9 10"); the digits between keep faint grid lines."""
    decades = {"dtick": 1, "minor": {"dtick": "D1", "showgrid": True, "gridcolor": "#F2F2F2"}} if log and not kind else {}
    return {"title": {"text": label}, "type": kind or ("log" if log else "linear"), "gridcolor": "#E5E5E5",
            "zeroline": False, "exponentformat": "SI", **decades, **extra}


def plotly_position(v: float, log: bool) -> float:
    """Annotations on a log axis are placed in decades (log10 of the value); shapes take the value."""
    return math.log10(v) if log else v


def plotly_layout(text: str, subtitle: str = "", **axes) -> dict:
    full = f"{text}<br><sup>{subtitle}</sup>" if subtitle else text
    return {
        "title": {"text": full, "x": 0.02, "xanchor": "left"},
        "font": {"size": 13, "family": "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"},
        "colorway": list(PALETTE),
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "margin": {"l": 70, "r": 30, "t": 80, "b": 130},
        # at the bottom of the whole figure, not at a fraction of the plot's height, so that on a short
        # chart it cannot slide up over the x-axis title (plotly widens the margin to fit it)
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "font": {"size": 11}},
        "hovermode": "closest",
        **axes,
    }


def plotly_vline(x: float, text: str, col: str, log: bool = True, yref: str = "y domain", xref: str = "x",
                 dash: str = "dot") -> tuple[dict, dict]:
    """A vertical marker line with its label: (shape, annotation)."""
    shape = {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "xref": xref, "yref": yref,
             "line": {"color": col, "width": 1.5, "dash": dash}}
    note = {"x": plotly_position(x, log), "y": 1, "xref": xref, "yref": yref, "text": text, "showarrow": False,
            "xanchor": "left", "yanchor": "top", "font": {"size": 11, "color": col}, "xshift": 4}
    return shape, note


def plotly_hline(y: float, text: str, col: str, log: bool = False, yref: str = "y", dash: str = "dash") -> tuple[dict, dict]:
    shape = {"type": "line", "x0": 0, "x1": 1, "y0": y, "y1": y, "xref": "paper", "yref": yref,
             "line": {"color": col, "width": 1.5, "dash": dash}}
    note = {"x": 1, "y": plotly_position(y, log), "xref": "paper", "yref": yref, "text": text, "showarrow": False,
            "xanchor": "right", "yanchor": "bottom", "font": {"size": 11, "color": col}}
    return shape, note


def listed(values) -> list:
    """NumPy arrays and scalars to JSON-ready Python lists of floats."""
    return [float(v) for v in values]


def plotly_band(x, low, high, color: str, name: str, group: str, yaxis: str = "y") -> list[dict]:
    """Two traces that shade an interval between `low` and `high` (the 80% error bars)."""
    edge = {"type": "scatter", "mode": "lines", "x": x, "yaxis": yaxis, "line": {"width": 0, "color": color},
            "legendgroup": group, "hoverinfo": "skip"}
    return [{**edge, "y": high, "showlegend": False, "name": f"{name} (high)"},
            {**edge, "y": low, "fill": "tonexty", "opacity": 0.2, "name": name}]
