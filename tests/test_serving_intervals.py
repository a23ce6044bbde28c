"""Error bars of the serving simulator and the interval method (benchmarks/intervals.py), and the
front end a serving run's requests go through."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from roofline.cli.main import run as cli
from roofline.errors import RooflineError
from roofline.evidence import uncertainty
from roofline.serving import simulate
from roofline.serving.engines import overheads_for

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import intervals  # noqa: E402

LEVELS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
CELLS = {"levels": LEVELS, "cells": {
    "online serving|ttft_s|p99": {"rows": 9, "sources": ["a", "b"], "quantiles": [-0.5, -0.4, -0.2, 0.0, 0.2, 0.3, 0.5]},
    "online serving|ttft_s": {"rows": 30, "sources": ["a", "b"], "quantiles": [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]},
    "online serving|throughput": {"rows": 12, "sources": ["a", "b"], "quantiles": [-0.5, -0.4, -0.2, 0.0, 0.2, 0.3, 0.5]}}}


def test_serving_interval_inverts_the_statistics_own_cell_then_the_figures():
    # TTFT p99: its own cell, r in [-0.4, 0.3] for 80%: measured time in [v e^-0.3, v e^0.4]
    iv = uncertainty.serving_interval("ttft_s", "p99", 1.0, "online serving", 0.8, cells=CELLS)
    assert (iv["low"], iv["high"]) == pytest.approx((0.7408182, 1.4918247)) and iv["basis"] == "online serving|ttft_s|p99"
    # TTFT p90 was measured by no source: the figure's cell (its measured statistics pooled)
    iv = uncertainty.serving_interval("ttft_s", "p90", 2.0, "online serving", 0.8, cells=CELLS)
    assert (iv["low"], iv["high"]) == pytest.approx((2 * 0.8187308, 2 * 1.2214028)) and iv["basis"] == "online serving|ttft_s"
    # a rate: measured = v e^r, r in [-0.4, 0.3]
    iv = uncertainty.serving_interval("throughput", "", 100.0, "online serving", 0.8, cells=CELLS)
    assert (iv["low"], iv["high"]) == pytest.approx((67.032005, 134.985881))


def test_no_serving_interval_without_a_basis_and_none_borrowed():
    # no TPOT cell: TTFT's or the static regimes' errors are never taken instead
    assert uncertainty.serving_interval("tpot_s", "mean", 0.01, "online serving", 0.8, cells=CELLS) is None
    assert uncertainty.serving_interval("ttft_s", "p50", 0.1, "max-throughput serving", 0.8, cells=CELLS) is None
    static = {"levels": LEVELS, "cells": {"all": {"rows": 200, "sources": ["a", "b"], "quantiles": [0.0] * 7}}}
    assert uncertainty.serving_interval("ttft_s", "p50", 0.1, "online serving", 0.8, cells=static) is None


def test_predictive_quantiles_of_sources_with_one_offset():
    # two sources with the same median 0.1: no spread between them (τ = 0), so an unseen source's r
    # is 0.1 plus the deviations -0.1, 0, +0.1 (each source's rows weigh alike): its median 0.1,
    # quantiles at the middle of each third's weight: 0.05 → 0.0 (the lowest third), 0.95 → 0.2
    rows = [{"source": "a", "r": r} for r in (0.0, 0.1, 0.2)] + [{"source": "b", "r": r} for r in (0.2, 0.0, 0.1)]
    q = intervals.predictive_quantiles(rows, [0.05, 0.5, 0.95])
    assert q == pytest.approx([0.0, 0.1, 0.2], abs=1e-9)


def test_predictive_quantiles_widen_with_the_spread_between_sources():
    # sources whose rows all agree (no scatter) at r = 0 and r = 0.2: μ = 0.1, τ = 0.1414; one more
    # source's offset is μ + τ·√(1 + 1/2)·t₁ (Student's t, 1 degree of freedom): its median 0.1 and
    # its 0.75 quantile 0.1 + 0.1732 × tan(π/4) = 0.2732 (within the 64-point grid's resolution)
    rows = [{"source": "a", "r": 0.0}] * 4 + [{"source": "b", "r": 0.2}] * 4
    q50, q75 = intervals.predictive_quantiles(rows, [0.5, 0.75])
    assert q50 == pytest.approx(0.1, abs=1e-9)
    assert q75 == pytest.approx(0.1 + 0.2 / math.sqrt(2) * math.sqrt(1.5), abs=0.01)
    pooled = np.quantile([0.0] * 4 + [0.2] * 4, 0.75)  # pooling the rows would say 0.2
    assert q75 > pooled


def test_coverage_counts_each_source_against_the_others():
    # three sources of 8 rows each: a and b err by 0 (r = 0), c by r = 1 (predicted 2.7× too long).
    # Left out, a and b are covered by intervals from {b or a, c}; c by the interval from a and b,
    # which agree exactly (τ = 0, no scatter): [v, v], so c's measurement e·v is not covered.
    rows = []
    for src, r in (("a", 0.0), ("b", 0.0), ("c", 1.0)):
        for i in range(8):
            measured = 10.0
            rows.append({"source": src, "metric": "ttft", "regime": "prefill", "gpus": "1", "link": "", "quantized": "16-bit",
                         "measured": measured, "held_out": measured * math.exp(r), "r": r})
    cov = intervals.coverage(rows)
    assert cov == {"prefill": [24, 16, 0]}


def test_simulation_carries_ranges_beside_each_figure():
    d = simulate("llama-3.1-8b", "h100-sxm", num_prompts=64, max_concurrency=8, input_len=512, output_len=128).to_dict()
    for fig in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        assert set(d[f"{fig}_range"]) == {"mean", "p50", "p90", "p99"}
        for stat, r in d[f"{fig}_range"].items():
            assert r["level"] == 0.8 and r["regime"] == "online serving" and 0 < r["low"] < r["high"]
            assert r["basis"].startswith(f"online serving|{fig}")
    t, tr = d["throughput"], d["throughput_range"]
    assert set(tr) == set(t)
    for k, r in tr.items():  # the committed throughput and TPOT cells straddle r = 0: they hold the simulated value
        assert r["low"] <= t[k] <= r["high"]
    for stat in ("mean", "p50"):
        assert d["tpot_s_range"][stat]["low"] <= d["tpot_s"][stat] <= d["tpot_s_range"][stat]["high"]
    json.dumps(d, allow_nan=False)


def test_offline_simulation_has_a_throughput_range_and_says_what_has_none():
    d = simulate("llama-3.1-8b", "h100-sxm", num_prompts=64, input_len=512, output_len=128).to_dict()
    assert d["throughput_range"]["output_tokens_per_s"]["regime"] == "max-throughput serving"
    assert all(v is None for v in d["ttft_s_range"].values())  # one source (v0.14) measured offline TTFT
    assert any(n.startswith("no 80% interval for TTFT") for n in d["notes"])


def test_disaggregated_serving_gets_no_interval():
    d = simulate("llama-3.1-8b", "h100-sxm", num_prompts=32, request_rate=4.0, input_len=256, output_len=32,
                 disaggregate="1P1D").to_dict()
    assert all(v is None for v in d["ttft_s_range"].values()) and all(v is None for v in d["throughput_range"].values())
    assert any("disaggregated" in n and "no intervals" in n for n in d["notes"])


def test_front_end_request_times_and_the_default():
    ov, row = overheads_for("tensorrt-llm")
    assert row["frontend"] == "trtllm-serve" and ov.request_s == row["request_s"] > 0.01
    ov_t, row_t = overheads_for("tensorrt-llm", "triton")
    assert row_t["frontend"] == "triton" and ov_t.request_s < 0.01 and ov_t.step_s == ov.step_s
    assert overheads_for("tensorrt-llm", "trtllm-bench")[0].request_s == 0.0  # assumed: in-process, no server
    with pytest.raises(RooflineError, match="no request time is known for vLLM behind 'triton'"):
        overheads_for("vllm", "triton")


def test_front_end_shifts_ttft_by_the_difference_of_request_times():
    # Poisson arrivals: every request reaches the engine request_s after it is sent, so the schedule
    # is the same and each TTFT moves by exactly the difference of the two front ends' request times
    kw = dict(num_prompts=40, request_rate=2.0, input_len=256, output_len=16, engine="trtllm")
    a = simulate("llama-3.1-8b", "h100-sxm", **kw).to_dict()
    b = simulate("llama-3.1-8b", "h100-sxm", frontend="triton", **kw).to_dict()
    diff = overheads_for("tensorrt-llm")[0].request_s - overheads_for("tensorrt-llm", "triton")[0].request_s
    assert a["ttft_s"]["mean"] - b["ttft_s"]["mean"] == pytest.approx(diff, rel=1e-6)
    assert b["overheads"]["frontend"] == "triton"


def test_unknown_front_end_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli(["simulate", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-len", "64", "--output-len", "8", "--frontend", "nginx"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nginx" in err


def test_serving_chart_shades_the_intervals():
    from roofline.plots import build

    c = build("serving", "llama-3.1-8b", gpu="h100", input_len=256, output_len=64, num_prompts=40, concurrencies=(1, 4, 16))
    low, high = c.bands["tokens_per_s_per_gpu"]
    assert all(lo <= v <= hi for lo, v, hi in zip(low, c.tokens_per_s_per_gpu, high))
    assert c.bands["ttft_p99_s"] is not None and c.bands["tpot_p50_s"] is not None
    names = [t.get("name", "") for t in c.plotly()["data"]]
    assert "TTFT p99: 80% interval" in names and "tokens/s per GPU: 80% interval" in names
    fig = c.figure()
    assert any(str(a.get_gid()).startswith("band:") for ax in fig.axes for a in ax.collections)


def test_web_simulate_answers_with_the_ranges():
    from fastapi.testclient import TestClient

    from roofline.web.app import create_app

    r = TestClient(create_app()).post("/api/simulate", json={"model": "llama-3.1-8b", "gpu": "h100", "num_prompts": 60,
                                                              "request_rate": 4})
    d = r.json()
    assert r.status_code == 200 and d["ttft_s_range"]["p90"]["basis"] == "online serving|ttft_s"
    assert d["throughput_range"]["output_tokens_per_s"]["low"] < d["throughput"]["output_tokens_per_s"]
