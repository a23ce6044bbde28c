"""Intervals of the costs (from the throughput's), of the planner's screened means (the static
estimate's cells), and the figures that have none (goodput, the plan's rent) with the reason."""

import pytest

from roofline import estimate
from roofline.catalog.prices import Price
from roofline.estimates.costs import cost_per_token, cost_range
from roofline.evidence import uncertainty
from roofline.planning import plan
from roofline.serving import simulate

# 80%: quantiles 0.1 and 0.9 of r = ln(predicted / measured)
LEVELS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
CELLS = {"levels": LEVELS, "cells": {
    "batched decode|1||16-bit": {"rows": 30, "sources": ["a", "b"], "quantiles": [-0.5, -0.2, -0.1, 0.0, 0.1, 0.3, 0.5]},
    "prefill|1": {"rows": 12, "sources": ["a", "b"], "quantiles": [-0.4, -0.1, 0.0, 0.0, 0.0, 0.4, 0.6]}}}
RATE_RANGE = {"low": 800.0, "high": 1250.0, "level": 0.8, "regime": "online serving",
              "basis": "online serving|throughput", "rows": 292}


def test_cost_interval_follows_the_throughput_interval_worked_by_hand():
    # $4/GPU-hour × 2 GPUs = $8/hour. At 1000 tokens/s an hour makes 3.6 M tokens:
    #   cost = 8 / 3.6 = $2.2222 per million.
    # The rate's 80% interval [800, 1250] tokens/s: the cheapest end is the fastest,
    #   low = 8 / (1250 × 3600 / 10⁶) = 8 / 4.5 = $1.7778;  high = 8 / (800 × 3600 / 10⁶) = 8 / 2.88 = $2.7778
    r = cost_range(4.0, 2, RATE_RANGE)
    assert (r["low"], r["high"]) == pytest.approx((1.777778, 2.777778), rel=1e-6)
    assert r["low"] < 2.222222 < r["high"]
    assert (r["level"], r["regime"], r["basis"], r["rows"]) == (0.8, "online serving", "online serving|throughput", 292)
    assert cost_range(4.0, 2, None) is None


def test_cost_block_carries_a_range_beside_each_cost_and_null_without_a_rate_interval():
    prices = {"h100-sxm": Price("h100-sxm", 4.0, "a test price")}
    c = cost_per_token("h100-sxm", 2, input_tokens_per_s=4000.0, output_tokens_per_s=1000.0, prices=prices,
                       output_rate_range=RATE_RANGE)
    assert c["usd_per_million_output_tokens"] == pytest.approx(8 / 3.6)
    assert (c["usd_per_million_output_tokens_range"]["low"], c["usd_per_million_output_tokens_range"]["high"]) == \
        pytest.approx((8 / 4.5, 8 / 2.88))
    assert c["usd_per_million_input_tokens"] == pytest.approx(8 / 14.4)  # 4000 tokens/s: 14.4 M an hour
    assert c["usd_per_million_input_tokens_range"] is None  # no input-rate interval given: none invented


def test_estimate_cost_range_contains_the_cost_and_inverts_the_throughput():
    e = estimate("llama-3.1-8b", "h100", batch_size=16)
    c, thr = e.cost, e.ranges["output_tokens_per_s_range"]
    for key in ("usd_per_million_output_tokens", "usd_per_million_input_tokens"):
        r = c[f"{key}_range"]
        assert r["low"] < c[key] < r["high"]
        assert r["basis"] == thr["basis"] and r["level"] == 0.8
    # cost × rate is the hourly rent either end: low cost at the high throughput
    rent = c["usd_per_hour"] / 3600 * 1e6
    assert c["usd_per_million_output_tokens_range"]["low"] * thr["high"] == pytest.approx(rent)
    assert c["usd_per_million_output_tokens_range"]["high"] * thr["low"] == pytest.approx(rent)


def test_simulation_cost_has_the_throughput_basis_and_goodput_none_with_the_reason():
    d = simulate("llama-3.1-8b", "h100-sxm", num_prompts=32, request_rate=4.0, input_len=256, output_len=32,
                 ttft_slo=0.5, tpot_slo=0.05).to_dict()
    c, thr = d["cost"], d["throughput_range"]["output_tokens_per_s"]
    r = c["usd_per_million_output_tokens_range"]
    assert r["low"] < c["usd_per_million_output_tokens"] < r["high"]
    assert (r["regime"], r["basis"]) == ("online serving", thr["basis"])
    assert r["low"] * thr["high"] == pytest.approx(c["usd_per_hour"] / 3600 * 1e6)
    g = d["goodput"]
    assert g["requests_per_s"] > 0 and g["requests_per_s_range"] is None and g["output_tokens_per_s_range"] is None
    assert uncertainty.GOODPUT_NO_BASIS in d["notes"]


def test_screened_means_take_the_static_cells_worked_by_hand():
    sit = {"gpus": "1", "link": "", "quantized": "16-bit"}
    means = {"ttft_s": 0.1, "tpot_s": 0.01, "e2e_s": 2.0}
    r = uncertainty.screen_ranges(means, sit, sit, batch=8.3, cells=CELLS)
    # TPOT at 8.3 sequences per replica: batched decode, r in [-0.2, 0.3] → time in [0.01 e^-0.3, 0.01 e^0.2]
    assert (r["tpot_s_range"]["low"], r["tpot_s_range"]["high"]) == pytest.approx((0.0074082, 0.0122140), rel=1e-5)
    assert r["tpot_s_range"]["basis"] == "batched decode|1||16-bit"
    assert (r["e2e_s_range"]["low"], r["e2e_s_range"]["high"]) == pytest.approx((1.4816364, 2.4428055), rel=1e-6)
    # TTFT: prefill, r in [-0.1, 0.4] → [0.1 e^-0.4, 0.1 e^0.1]
    assert (r["ttft_s_range"]["low"], r["ttft_s_range"]["high"]) == pytest.approx((0.0670320, 0.1105171), rel=1e-5)
    assert r["ttft_s_range"]["regime"] == "prefill" and r["ttft_s_range"]["basis"] == "prefill|1"
    # one sequence per replica is single-stream decode, which these cells do not hold: none borrowed
    r1 = uncertainty.screen_ranges(means, sit, sit, batch=1.0, cells=CELLS)
    assert r1["tpot_s_range"] is None and r1["e2e_s_range"] is None and r1["ttft_s_range"] is not None
    # disaggregated: no situation with a basis
    assert all(v is None for v in uncertainty.screen_ranges(means, None, None, 8, cells=CELLS).values())


def test_plan_screened_finalists_and_summary_carry_intervals_and_the_rent_none():
    r = plan("llama-3.1-8b", request_rate=4, input_len=1024, output_len=256, ttft_slo=0.5, tpot_slo=0.05,
             gpus="h100-sxm", max_gpus=2, disaggregate=False, simulate=False)
    assert r.chosen is not None and r.finalists
    for c in r.finalists:
        for fig in ("ttft_s", "tpot_s", "e2e_s"):
            rng = c.estimate[f"{fig}_range"]
            assert rng["low"] < c.estimate[fig] < rng["high"]
        assert c.estimate["ttft_s_range"]["regime"] == "prefill"
        assert c.estimate["tpot_s_range"]["regime"] in ("single-stream decode", "batched decode")
    assert "80%:" in r.summary
    d = r.to_dict()
    cost = d["chosen"]["cost"]
    assert cost["usd_per_million_output_tokens_range"] is None and "offered load" in cost["range_note"]
    assert d["finalists"][0]["estimate"]["tpot_s_range"]["basis"].startswith(("batched decode", "single-stream decode", "all"))
