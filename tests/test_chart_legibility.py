"""Charts read well: no text on top of other text, log axes labelled by decade, every GPU drawn,
legend entries that mean different things look different, precisions on a linear axis."""

import itertools
import math

import pytest

from roofline.plots import KINDS, build
from roofline.plots.inputs import Inputs

THREE = Inputs.of("llama-2-7b", "a100,h100,l40s", batch_size=16)


def drawn(chart):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = chart.figure()
    FigureCanvasAgg(fig).draw()
    return fig


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_text_sits_on_other_text(kind):
    extra = {"models": ["llama-2-7b", "llama-2-13b", "llama-2-70b"]} if kind == "precisions" else {}
    fig = drawn(build(kind, THREE, **extra))
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"


def test_roofline_names_each_phase_once():
    fig = drawn(build("roofline", THREE))
    names = [t.get_text() for t in fig.axes[0].texts]
    assert names.count("decode") == 1 and names.count("prefill") == 1


@pytest.mark.parametrize("kind", ["roofline", "batch", "prefill", "crossover"])
def test_log_axes_label_decades(kind):
    fig = drawn(build(kind, THREE))
    for ax in fig.axes:
        shared_x = ax is not fig.axes[-1]  # stacked charts label x on the bottom axes only
        for axis in ((ax.yaxis,) if shared_x else (ax.xaxis, ax.yaxis)):
            if axis.get_scale() != "log":
                continue
            lo, hi = sorted(axis.get_view_interval())
            decades = max(1.0, math.log10(hi / lo))
            minor = [t for t in axis.get_minorticklabels() if t.get_text()]
            assert len(minor) <= 2 * decades  # at most the 2× and 5× ticks of a short axis
            assert any(t.get_text() for t in axis.get_majorticklabels())


def test_plotly_log_axes_label_decades():
    fig = build("batch", THREE).plotly()
    for name in ("xaxis", "yaxis", "yaxis2"):
        axis = fig["layout"][name]
        assert axis["type"] == "log" and axis["dtick"] == 1


def test_crossover_draws_every_gpus_capacity():
    chart = build("crossover", Inputs.of("llama-2-7b", "a100,l40s,l4"))
    fig = drawn(chart)
    lines = {l.get_gid() for l in fig.axes[0].lines if (l.get_gid() or "").startswith("capacity:")}
    assert lines == {"capacity:a100-sxm-80gb", "capacity:l40s", "capacity:l4"}
    # Llama-2-7B bf16 at 1280 tokens per sequence: 524,288 B per token → 671 MB per sequence;
    # 24 GB - 13.5 GB weights - 0.5 GB overhead leaves room for ~14 sequences (activations aside)
    fits = {g["gpu"]: g["max_batch_fits"] for g in chart.gpus}
    assert fits["a100-sxm-80gb"] > fits["l40s"] > fits["l4"] > 0
    assert 10 <= fits["l4"] <= 15


def test_batch_step_time_and_throughput_look_different():
    data = build("batch", THREE).plotly()["data"]
    for gpu in ("a100-sxm-80gb", "h100-sxm", "l40s"):
        time = next(d for d in data if d["name"].startswith(f"{gpu} step time"))
        rate = next(d for d in data if d["name"] == f"{gpu} throughput")
        assert time["line"].get("dash", "solid") != rate["line"].get("dash", "solid")


def test_precisions_on_a_linear_axis():
    chart = build("precisions", THREE, models=["llama-2-7b", "llama-2-70b"])
    fig = drawn(chart)
    assert fig.axes[0].get_yscale() == "linear" and fig.axes[0].get_ylim()[0] == 0
    assert chart.plotly()["layout"]["yaxis"]["type"] == "linear"
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "llama-2-70b\n69.0B params" in labels  # 68,976,648,192 parameters, as people say it
