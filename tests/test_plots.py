"""Charts: each kind renders to a real PNG/SVG with the expected title, axes, scales and points,
and its numbers are the core's."""

import json
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import roofline
from roofline.cli.main import run as cli
from roofline.errors import RooflineError
from roofline.estimates.result import clean
from roofline.plots import KINDS, build, build_all, style
from roofline.plots.inputs import Inputs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def collections(ax, prefix: str):
    return [c for c in ax.collections if (c.get_gid() or "").startswith(prefix)]


def lines(ax, prefix: str):
    return [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)]


def plottable(est) -> list:
    return [o for o in est.ops if o.flops > 0 and o.bytes > 0 and o.time_s > 0]


@pytest.fixture(scope="module")
def pair():
    return Inputs.of("llama-2-7b", "a100,h100", batch_size=8, input_len=1024, output_len=256)


def test_roofline_places_every_operator_and_both_phases(pair, tmp_path):
    chart = build("roofline", pair)
    fig = chart.figure()
    ax = fig.axes[0]
    assert fig._suptitle.get_text() == "Roofline: llama-2-7b on a100-sxm-80gb vs h100-sxm"
    assert ax.get_xlabel() == "Arithmetic intensity (FLOP/byte)"
    assert ax.get_ylabel() == "Attained performance (TFLOP/s)"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    ests = pair.estimates
    for gpu, est in zip(("a100-sxm-80gb", "h100-sxm"), ests):
        offsets = np.concatenate([c.get_offsets() for c in collections(ax, f"ops:{gpu}:")])
        expected = plottable(est)
        assert len(offsets) == len(expected) > 10
        # the points are (FLOPs / bytes, FLOPs / time) of the estimate's operator rows
        want = sorted((o.arithmetic_intensity, o.flops / o.time_s / 1e12) for o in expected)
        assert np.allclose(sorted(map(tuple, offsets)), want, rtol=1e-12)
        phases = collections(ax, f"phase:{gpu}:")
        assert len(phases) == 2
        decode = [c for c in phases if c.get_gid().endswith("decode")][0].get_offsets()[0]
        assert decode[0] == pytest.approx(est.decode.arithmetic_intensity)
        # one flat per distinct datasheet peak: A100 has fp32, tf32, bf16=fp16, int8
        flats = lines(ax, f"flat:{gpu}:")
        assert len(flats) == len(set(roofline.get_gpu(gpu).peak_flops.values()))
    assert len(lines(ax, "slope:")) == 2
    out = style.save(fig, tmp_path / "roofline.png")
    w, h = png_size(out)
    assert (w, h) == (style.FIGSIZE[0] * style.DPI, style.FIGSIZE[1] * style.DPI)
    assert chart.left_out == [f"{g} {ph} embedding: no FLOPs" for g in ("a100-sxm-80gb", "h100-sxm") for ph in ("prefill", "decode")]


def test_roofline_leaves_out_collectives_with_a_reason():
    chart = build("roofline", Inputs.of("llama-3-70b", "h100", tp=4, batch_size=4))
    assert any("tp_all_reduce" in x and "collective" in x for x in chart.left_out)
    assert all(p.attained_flops > 0 and p.arithmetic_intensity > 0 for p in chart.ops)


def test_roofline_svg_is_valid_and_titled(tmp_path):
    chart = build("roofline", Inputs.of("mistral-7b", "l40s", batch_size=4))
    out = style.save(chart.figure(), tmp_path / "r.svg")
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    text = out.read_text()
    assert "Roofline: mistral-7b on NVIDIA L40S" in text
    assert "Arithmetic intensity (FLOP/byte)" in text


def test_memory_bars_stack_to_the_estimate(tmp_path):
    inputs = Inputs.of("llama-3.1-70b", "h100", tp=2, batch_size=1, input_len=1024, output_len=256)
    chart = build("memory", inputs, batches=[1, 16, 64], input_lens=[1024, 8192])
    fig = chart.figure()
    ax = fig.axes[0]
    assert fig._suptitle.get_text() == "Memory per GPU: llama-3.1-70b"
    assert ax.get_ylabel() == "Memory per GPU, GB (10⁹ bytes)"
    assert len([p for c in ax.containers for p in c.patches]) == 4 * 6  # four parts × (3 batches × 2 prompt lengths)
    assert len(chart.settings) == 6
    for st in chart.settings:
        e = roofline.estimate("llama-3.1-70b", "h100", tp=2, batch_size=st.batch, input_len=st.input_len, output_len=st.output_len)
        assert st.total == pytest.approx(e.memory.total_bytes, rel=1e-12)
    tops = {}
    for c in ax.containers:
        for i, p in enumerate(c.patches):
            tops[i] = max(tops.get(i, 0), p.get_y() + p.get_height())
    assert [tops[i] for i in range(6)] == pytest.approx([s.total / 1e9 for s in chart.settings])
    style.save(fig, tmp_path / "m.png")


def test_memory_default_settings_end_at_the_largest_batch_that_fits():
    chart = build("memory", Inputs.of("llama-2-7b", "a100", batch_size=8))
    assert [s.batch for s in chart.settings][:2] == [1, 8]
    last = chart.settings[-1]
    assert last.total <= chart.capacities[0].bytes
    assert roofline.estimate("llama-2-7b", "a100", batch_size=last.batch + 1).memory.fits is False


def test_memory_caps_settings():
    with pytest.raises(RooflineError, match="at most"):
        build("memory", Inputs.of("llama-2-7b", "a100"), batches=list(range(1, 30)))


def test_crossover_marks_where_kv_dominates(tmp_path):
    chart = build("crossover", Inputs.of("llama-2-7b", "a100", input_len=1024, output_len=256))
    fig = chart.figure()
    ax = fig.axes[0]
    assert fig._suptitle.get_text() == "Weights vs KV cache: llama-2-7b"
    assert ax.get_xlabel() == "Batch size (sequences)"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert chart.crossover_batch == 21
    marker = lines(ax, "marker:crossover")[0]
    assert marker.get_xdata()[0] == 21
    kv = lines(ax, "kv")[0]
    assert len(kv.get_xdata()) == len(chart.batch)
    i = chart.batch.index(21.0)
    assert chart.kv_cache[i] >= chart.weights[i] > chart.kv_cache[i - 1]
    style.save(fig, tmp_path / "c.svg")


def test_batch_chart_marks_the_critical_batch(pair, tmp_path):
    chart = build("batch", pair, max_batch=1024, points=128)
    fig = chart.figure()
    top, bottom = fig.axes[:2]
    assert fig._suptitle.get_text().startswith("Decode vs batch size: llama-2-7b")
    assert top.get_ylabel() == "Decode step time (ms)"
    assert bottom.get_ylabel() == "Decode throughput (tokens/s)"
    assert bottom.get_xlabel() == "Batch size (sequences)"
    for s, e in zip(chart.series, pair.estimates):
        assert s.critical_batch == e.critical_batch_size
        crit = lines(top, f"critical:{s.gpu}")[0]
        assert crit.get_xdata()[0] == e.critical_batch_size
        curve = lines(top, f"time:{s.gpu}")[0]
        assert len(curve.get_xdata()) == len(s.batch) <= 128
        current = lines(top, f"current:{s.gpu}:time")[0]
        assert current.get_ydata()[0] == pytest.approx(e.tpot_s * 1e3)
        assert lines(bottom, f"current:{s.gpu}:rate")[0].get_ydata()[0] == pytest.approx(e.decode_tokens_per_s)
    a100, h100 = chart.series
    assert h100.tokens_per_s[0] > a100.tokens_per_s[0]  # more bandwidth, faster memory-bound decode
    style.save(fig, tmp_path / "b.png")


def test_prefill_chart_marks_the_ridge_crossing(tmp_path):
    inputs = Inputs.of("llama-2-7b", "a100", dtype="fp16", batch_size=1, input_len=2048)
    chart = build("prefill", inputs, max_input_len=4096)
    fig = chart.figure()
    top, bottom = fig.axes[:2]
    assert fig._suptitle.get_text() == "Prefill vs prompt length: llama-2-7b on NVIDIA A100 80GB SXM"
    assert bottom.get_ylabel() == "Time to first token (ms)"
    assert bottom.get_xlabel() == "Prompt length (tokens per sequence)"
    s = chart.series[0]
    e = inputs.estimates[0]
    assert s.ridge_point == pytest.approx(e.ridge_point_flop_per_byte)
    marker = lines(top, "marker:crossing")[0]
    assert marker.get_xdata()[0] == s.ridge_crossing
    below = [ai for L, ai in zip(s.input_len, s.arithmetic_intensity) if L < s.ridge_crossing]
    above = [ai for L, ai in zip(s.input_len, s.arithmetic_intensity) if L >= s.ridge_crossing]
    assert max(below) < s.ridge_point <= min(above)
    assert lines(bottom, "current:")[0].get_ydata()[0] == pytest.approx(e.ttft_s * 1e3)
    style.save(fig, tmp_path / "p.png")


def test_precisions_chart_compares_sizes_and_formats(tmp_path):
    inputs = Inputs.of("llama-3.1-8b", "h100", batch_size=1, input_len=4096, output_len=256)
    chart = build("precisions", inputs, models=["llama-3.1-70b", "llama-3.1-8b"], weight_dtypes=["auto", "fp8", "int4"])
    fig = chart.figure()
    ax = fig.axes[0]
    assert chart.models == ["llama-3.1-8b", "llama-3.1-70b"]  # sorted by size
    assert chart.dtypes == ["bf16", "fp8", "int4"]
    assert len([p for c in ax.containers for p in c.patches]) == 2 * 3 * 3  # models × formats × stacked parts
    by = {(b.model, b.weight_dtype): b for b in chart.bars}
    ratio = by["llama-3.1-70b", "int4"].weights / by["llama-3.1-70b", "bf16"].weights
    assert 4.125 / 16 < ratio < 0.3  # linear layers at 4.125 bits, embeddings stay bf16
    assert by["llama-3.1-70b", "int4"].kv_cache == by["llama-3.1-70b", "bf16"].kv_cache
    # a linear axis, so each stacked piece reads at its true size: 0 at the bottom
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    assert [c.bytes for c in chart.capacities] == sorted(c.bytes for c in chart.capacities)
    assert ax.get_ylabel() == "Memory per GPU, GB (10⁹ bytes)"
    style.save(fig, tmp_path / "x.png")


def test_every_plotly_figure_is_clean_json(pair):
    for kind, chart in build_all(pair).items():
        fig = chart.plotly()
        text = json.dumps(clean(fig), allow_nan=False)
        assert fig["layout"]["title"]["text"].startswith(chart.title)
        assert fig["data"], kind
        json.dumps(clean(chart.to_dict()), allow_nan=False)
        assert "NaN" not in text and "Infinity" not in text
    roof = build("roofline", pair).plotly()
    n_ops = sum(len(t["x"]) for t in roof["data"] if t["name"].startswith(("prefill operators", "decode operators")))
    assert n_ops == sum(len(plottable(e)) for e in pair.estimates)


def test_unknown_kind_is_a_user_error():
    with pytest.raises(RooflineError, match="unknown plot kind 'pie'.*roofline, memory"):
        build("pie", Inputs.of("llama-2-7b", "a100"))
    assert set(KINDS) == {"roofline", "memory", "crossover", "batch", "prefill", "precisions"}


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        cli(list(args))
    return exc.value.code, capsys.readouterr().err


def test_cli_writes_each_kind(tmp_path, capsys):
    for kind in KINDS:
        model = "llama-2-7b,llama-2-13b" if kind == "precisions" else "llama-2-7b"
        out = tmp_path / f"{kind}.png"
        cli(["plot", kind, model, "--gpu", "a100", "-b", "4", "-o", str(out)])
        height = 6.0 if kind in ("batch", "prefill") else style.FIGSIZE[1]  # two stacked panels are taller
        assert png_size(out) == (style.FIGSIZE[0] * style.DPI, height * style.DPI)
        assert f"wrote {out}" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["plot", "pie", "llama-2-7b", "-o", "{tmp}/x.png"], "unknown plot kind 'pie'"),
    (["plot", "roofline", "llama-2-7b", "-o", "{tmp}/x.jpg"], "must end in .png or .svg"),
    (["plot", "roofline", "llama-2-7b", "-o", "{tmp}/missing/x.png"], "does not exist"),
    (["plot", "roofline", "llama-2-7b", "-b", "1,2", "-o", "{tmp}/x.png"], "a comma list only for `plot memory`"),
    (["plot", "roofline", "llama-2-7b,llama-2-13b", "-o", "{tmp}/x.png"], "takes one model"),
    (["plot", "memory", "llama-2-7b", "-b", "two", "-o", "{tmp}/x.png"], "whole numbers"),
    (["plot", "batch", "llama-2-7b", "-b", "0", "-o", "{tmp}/x.png"], "batch size must be at least 1"),
    (["plot", "roofline", "no-such-model", "-o", "{tmp}/x.png"], "unknown model"),
    (["report", "llama-2-7b", "-o", "{tmp}/r.pdf"], "must end in .html"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    code, err = run_cli(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.glob("x.*"))


def test_unwritable_path_is_a_user_error(tmp_path, capsys):
    (tmp_path / "dir.png").mkdir()
    code, err = run_cli(capsys, "plot", "roofline", "llama-2-7b", "-o", str(tmp_path / "dir.png"))
    assert code == 2 and "is a folder" in err


def test_help_imports_no_plotting_or_web_library():
    # `roofline --help` stays fast because these load only inside the commands that use them
    import subprocess
    import sys

    heavy = ["matplotlib", "plotly", "fastapi", "starlette", "uvicorn", "playwright"]
    code = ("import sys\nfrom roofline.cli.main import run\ntry:\n    run(['plot', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))")
    out = subprocess.run([sys.executable, "-c", code, *heavy], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_margin_labels_keep_order_and_never_overlap():
    placed = style.spread([0.50, 0.52, 0.90, 0.51], gap=0.05)
    assert placed[2] == 0.90 and placed[1] == 0.52  # the highest of a cluster stays put
    assert placed[3] == pytest.approx(0.47) and placed[0] == pytest.approx(0.42)
    ordered = sorted(placed, reverse=True)
    assert all(a - b >= 0.05 - 1e-12 for a, b in zip(ordered, ordered[1:]))


@pytest.mark.parametrize("value, label", [(0.01, "0.01"), (250, "250"), (10000, "10000"), (1e6, "$10^{6}$"),
                                          (2e12, "$2\\times10^{12}$"), (0, "")])
def test_tick_labels_are_plain_where_short(value, label):
    assert style.tick_label(value) == label
