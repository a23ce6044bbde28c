"""One scenario, one evaluation: every surface answers the same question.

Over a matrix of architectures, splits, formats and speculation, each sweep, grid cell and chart
value taken at the estimate's own point equals the estimate's value; the largest batch is one
number everywhere and the trace's arithmetic evaluates to it; the estimate's fewest GPUs is the
count the parallel planner settles on.
"""

import re

import numpy as np
import pytest

import roofline
from roofline.estimates.capacity import largest_batch
from roofline.estimates.parallel_plan import plan
from roofline.estimates.sweep import decode_sweep, max_batch_that_fits, memory_sweep, prefill_sweep
from roofline.plots import build
from roofline.plots.inputs import Inputs
from roofline.scenario import Scenario

REL = 1e-9
MATRIX = [
    pytest.param("llama-2-7b", "a100", dict(batch_size=8), id="dense-mha"),
    pytest.param("llama-3.1-8b", "h100", dict(batch_size=16, input_len=2048), id="gqa"),
    pytest.param("deepseek-v2-lite", "h100", dict(batch_size=12, tp=2), id="moe-shared-mla-tp"),
    pytest.param("gemma-2-9b", "l40s", dict(batch_size=4, input_len=6000), id="sliding-window"),
    pytest.param("llama-4-scout", "h200", dict(batch_size=8, tp=4, input_len=12000), id="chunked-attention"),
    pytest.param("mixtral-8x7b", "h100", dict(batch_size=64, tp=2, dp=2, enable_expert_parallel=True), id="moe-ep-dp"),
    pytest.param("llama-3-70b", "a100", dict(batch_size=16, tp=2, pp=2), id="pipeline"),
    pytest.param("llama-3-70b", "h100", dict(batch_size=6, pp=4, num_micro_batches=3, weight_dtype="fp8"), id="pipeline-m3"),
    pytest.param("llama-3.1-8b", "h100", dict(batch_size=16, input_len=2048, pp=2), id="pp2"),
    pytest.param("llama-3.1-8b", "h100", dict(batch_size=16, speculative_model="mtp", num_speculative_tokens=3,
                                              acceptance_rate=0.7), id="mtp"),
    pytest.param("llama-3-70b", "h100", dict(batch_size=4, tp=4, speculative_model="llama-3-8b",
                                             num_speculative_tokens=4, acceptance_rate=0.6), id="draft-model"),
    pytest.param("llama-2-13b", "a100", dict(batch_size=5, weight_dtype="int4"), id="weight-only"),
    pytest.param("mistral-7b", "h100", dict(batch_size=9, weight_dtype="int8", activation_dtype="int8", dp=3), id="w8a8-dp"),
]


def close(a, b) -> bool:
    return float(a) == pytest.approx(float(b), rel=REL)


@pytest.mark.parametrize("model,gpu,kw", MATRIX)
def test_sweeps_and_grid_at_the_estimates_point(model, gpu, kw):
    sc = Scenario.of(model, gpu, **kw)
    s, e = sc.setup(), sc.estimate()
    b, L, O = e.workload["batch_size"], e.workload["input_len"], e.workload["output_len"]
    d = decode_sweep(s, np.array([1.0, b, 2.0 * b]))
    assert close(d.step_time_s[1], e.tpot_s)
    p = prefill_sweep(s, np.array([16.0, L]))
    assert close(p.ttft_s[1], e.ttft_s)
    m = memory_sweep(s, b)
    assert close(m.total_bytes, e.memory.total_bytes) and close(m.kv_cache_bytes, e.memory.kv_cache_bytes)
    opts = {k: v for k, v in kw.items() if k not in ("batch_size", "input_len", "output_len")}
    g = roofline.grid(model, [gpu], batch_sizes=[1, b], input_lens=[L], output_lens=[O], **opts)
    for got, want in ((g.ttft_s, e.ttft_s), (g.tpot_s, e.tpot_s), (g.memory_bytes, e.memory.total_bytes),
                      (g.output_tokens_per_s, e.output_tokens_per_s), (g.e2e_latency_s, e.e2e_latency_s)):
        assert close(got[0, 1, 0, 0], want)
    assert bool(g.fits[0, 1, 0, 0]) == e.memory.fits


@pytest.mark.parametrize("model,gpu,kw", MATRIX)
def test_charts_at_the_estimates_point(model, gpu, kw):
    inputs = Inputs.of(model, gpu, **kw)
    e = inputs.estimates[0]
    batch = build("batch", inputs, points=64).series[0]
    assert close(batch.step_time_at_batch_s, e.tpot_s)
    assert close(batch.tokens_per_s_at_batch, e.decode_tokens_per_s)
    assert batch.max_batch_fits == e.capacity.max_batch_size
    prefill = build("prefill", inputs, points=64).series[0]
    assert close(prefill.ttft_at_input_len_s, e.ttft_s)
    cross = build("crossover", inputs, points=64)
    assert cross.max_batch_fits == e.capacity.max_batch_size
    mem = build("memory", inputs).settings
    mine = [x for x in mem if x.batch == e.workload["batch_size"] and x.input_len == e.workload["input_len"]][0]
    assert close(mine.weights + mine.kv_cache + mine.activations + mine.overhead, e.memory.total_bytes)
    phases = {p.phase: p for p in build("roofline", inputs).phases}
    for name, ph in (("prefill", e.prefill), ("decode", e.decode)):
        assert close(phases[name].time_s, ph.time_s)
        assert close(phases[name].attained_flops, ph.flops / ph.time_s)


def _trace_line(e, name: str) -> str:
    return next(line.strip() for line in e.explain().render().splitlines() if line.strip().startswith(name + " ="))


@pytest.mark.parametrize("model,gpu,kw", MATRIX)
def test_largest_batch_is_one_number(model, gpu, kw):
    sc = Scenario.of(model, gpu, **kw)
    s, e = sc.setup(), sc.estimate()
    n = e.capacity.max_batch_size
    assert n == largest_batch(s) == max_batch_that_fits(s) == e.to_dict()["memory"]["max_batch_size"]
    line = _trace_line(e, "largest batch")
    arithmetic, result = line.rsplit("=", 2)[-2:]
    assert int(result) == n
    expr = arithmetic.replace("⌊", "math.floor(").replace("⌋", ")").replace("×", "*").replace("−", "-")
    assert eval(expr, {"math": __import__("math")}) == n
    # the boundary itself: n fits and n + dp (one more sequence per replica) does not
    if n:
        assert memory_sweep(s, n).fits and not memory_sweep(s, n + s.par.dp).fits


def test_largest_batch_in_the_table_and_on_the_web():
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from roofline.cli.main import app
    from roofline.web.app import create_app

    kw = dict(speculative_model="mtp", num_speculative_tokens=3, acceptance_rate=0.7, batch_size=16, input_len=2048)
    n = roofline.estimate("llama-3.1-8b", "h100", **kw).capacity.max_batch_size
    out = CliRunner().invoke(app, ["estimate", "llama-3.1-8b", "--gpu", "h100", "-b", "16", "--input-len", "2048",
                                   "--speculative-model", "mtp", "--num-speculative-tokens", "3", "--acceptance-rate", "0.7"],
                             env={"COLUMNS": "200"})
    assert re.search(rf"largest static batch\s+{n}\b", out.output), out.output
    web = TestClient(create_app()).post("/api/estimate", json={"model": "llama-3.1-8b", "gpu": "h100", **kw}).json()
    assert web["memory"]["max_batch_size"] == n


@pytest.mark.parametrize("model,gpu,kw", [
    ("llama-3-70b", "a100", dict(batch_size=512, input_len=4096, output_len=512)),
    ("llama-2-70b", "a100", dict(dtype="fp16")),
    ("mixtral-8x7b", "l40s", dict(batch_size=32)),
    ("llama-3.1-405b", "h100", dict(input_len=4096, output_len=256)),
])
def test_fewest_gpus_is_the_planners_count(model, gpu, kw):
    e = roofline.estimate(model, gpu, **kw)
    p = plan(model, gpu, **kw)
    assert e.capacity.min_gpus == p.num_gpus
    fitting = [r for r in p.rows if r.fits]
    assert fitting and any((r.split.tp, r.split.pp, r.split.dp) == (e.capacity.min_gpus_tp, e.capacity.min_gpus_pp,
                                                                      e.capacity.min_gpus_dp) for r in fitting)


def test_fewest_gpus_by_hand():
    # llama-3-70b on A100-80GB, batch 512 × (4096 + 512) tokens: KV per token 80 layers × 8 heads × 256 × 2 B
    # = 327,680 B, so 512 × 4608 tokens hold 773 GB of KV cache; a single 4-GPU TP group holds 141 GB of
    # weights and ~4 × 80 GB in all — 8 replicas of TP=4 split the batch into 64 sequences each: 32 GPUs.
    e = roofline.estimate("llama-3-70b", "a100", batch_size=512, input_len=4096, output_len=512)
    assert 512 * 4608 * 327_680 == pytest.approx(773e9, rel=0.001)
    assert e.capacity.min_gpus == 32


def test_batch_chart_band_is_the_estimates_interval():
    inputs = Inputs.of("llama-3.1-8b", "h100", batch_size=16)
    series = build("batch", inputs, points=64).series[0]
    for b in (series.batch[0], series.batch[20]):  # batch 1 (single-stream) and a batched point
        i = series.batch.index(b)
        r = roofline.estimate("llama-3.1-8b", "h100", batch_size=int(b)).ranges["tpot_s_range"]
        assert close(series.step_time_low_s[i], r["low"]) and close(series.step_time_high_s[i], r["high"])
