"""Sweeps over batch and prompt length: one vectorized pass agrees with point-by-point estimates."""

import numpy as np
import pytest

import roofline
from roofline.catalog import get_gpu, get_model
from roofline.errors import RooflineError
from roofline.estimates.estimate import setup
from roofline.estimates.formulas import _prefill_crossing
from roofline.estimates.sweep import (MAX_POINTS, batch_grid, decode_sweep, integer_grid, kv_crossover_batch,
                                      length_grid, max_batch_that_fits, memory_sweep, prefill_ridge_crossing,
                                      prefill_sweep)

OPTS = dict(dtype="fp16", input_len=1024, output_len=256)


def test_integer_grid_is_every_integer_when_short():
    assert integer_grid(10, points=64).tolist() == list(range(1, 11))


def test_integer_grid_is_log_spaced_and_bounded_when_long():
    g = integer_grid(1_000_000, points=200)
    assert g[0] == 1 and g[-1] == 1_000_000
    assert len(g) <= 200 and np.all(np.diff(g) > 0) and np.all(g == np.round(g))
    ratios = g[1:][g[1:] > 1000] / g[:-1][g[1:] > 1000]
    assert ratios.max() / ratios.min() < 1.01  # evenly spaced in log once past the integers


@pytest.mark.parametrize("points", [1, MAX_POINTS + 1])
def test_grid_size_is_capped(points):
    with pytest.raises(RooflineError, match="sweep"):
        integer_grid(100, points=points)


def test_grid_ranges_are_checked():
    with pytest.raises(RooflineError):
        batch_grid(0)
    with pytest.raises(RooflineError):
        length_grid(10**9)


@pytest.mark.parametrize("gpu", ["a100", "h100"])
def test_decode_sweep_matches_estimates(gpu):
    s = setup("llama-2-7b", gpu, **OPTS)
    d = decode_sweep(s, np.array([1.0, 8.0, 64.0, 300.0]))
    for b, t, rate in zip(d.batch, d.step_time_s, d.tokens_per_s):
        e = roofline.estimate("llama-2-7b", gpu, batch_size=int(b), **OPTS)
        assert t == pytest.approx(e.tpot_s, rel=1e-9)
        assert rate == pytest.approx(e.decode_tokens_per_s, rel=1e-9)
    assert d.critical_batch == roofline.estimate("llama-2-7b", gpu, **OPTS).critical_batch_size


def test_decode_step_flat_then_rising_for_short_context():
    # the primers' picture: memory-bound steps barely move, compute-bound ones grow with the batch
    s = setup("llama-2-7b", "a100", dtype="fp16", input_len=8, output_len=2, ideal=True)
    d = decode_sweep(s, np.array([1.0, 64.0, 1024.0, 2048.0]))
    t = dict(zip(d.batch.astype(int), d.step_time_s))
    assert t[64] / t[1] < 1.1
    assert t[2048] / t[1024] > 1.8


def test_prefill_sweep_matches_estimates():
    s = setup("llama-2-7b", "a100", batch_size=2, **OPTS)
    p = prefill_sweep(s, np.array([16.0, 512.0, 4096.0]))
    for L, t in zip(p.input_len, p.ttft_s):
        e = roofline.estimate("llama-2-7b", "a100", batch_size=2, dtype="fp16", input_len=int(L), output_len=256)
        assert t == pytest.approx(e.ttft_s, rel=1e-9)


def test_prefill_crossing_agrees_with_the_formula_and_brackets_the_ridge():
    s = setup("llama-2-7b", "a100", dtype="fp16", batch_size=1, output_len=1, ideal=True)
    cross = prefill_ridge_crossing(s)
    assert cross == _prefill_crossing(get_model("llama-2-7b"), get_gpu("a100"))
    p = prefill_sweep(s, np.array([cross - 1.0, float(cross)]))
    ridge = get_gpu("a100").ridge_point("fp16")
    assert p.arithmetic_intensity[0] < ridge <= p.arithmetic_intensity[1]


def test_batch_multiplies_prefill_tokens():
    # a batch of 8 reuses each weight 8 × L times, so it crosses at ~1/8 of the length
    one = prefill_ridge_crossing(setup("llama-2-7b", "a100", dtype="fp16", batch_size=1))
    eight = prefill_ridge_crossing(setup("llama-2-7b", "a100", dtype="fp16", batch_size=8))
    assert eight == pytest.approx(one / 8, abs=2)


def test_memory_sweep_matches_estimates():
    s = setup("llama-3-8b", "h100", **OPTS)
    m = memory_sweep(s, np.array([1.0, 16.0]), np.array([512.0, 4096.0]), 128.0)
    for k, (b, L) in enumerate([(1, 512), (16, 4096)]):
        e = roofline.estimate("llama-3-8b", "h100", dtype="fp16", batch_size=b, input_len=L, output_len=128)
        assert m.total_bytes[k] == pytest.approx(e.memory.total_bytes, rel=1e-12)
        assert m.kv_cache_bytes[k] == pytest.approx(e.memory.kv_cache_bytes, rel=1e-12)
        assert bool(m.fits[k]) == e.memory.fits


def test_memory_sweep_broadcasts():
    s = setup("llama-2-7b", "a100", **OPTS)
    m = memory_sweep(s, np.array([[1.0], [2.0]]), np.array([100.0, 200.0, 300.0]))
    assert m.total_bytes.shape == (2, 3)
    assert m.kv_cache_bytes[1, 2] == pytest.approx(2 * 3 * m.kv_cache_bytes[0, 0] * (300 + 256) / (100 + 256) / 3)


def test_max_batch_that_fits_is_the_edge():
    s = setup("llama-2-7b", "a100", **OPTS)
    b = max_batch_that_fits(s)
    assert b > 1
    assert roofline.estimate("llama-2-7b", "a100", batch_size=b, **OPTS).memory.fits
    assert not roofline.estimate("llama-2-7b", "a100", batch_size=b + 1, **OPTS).memory.fits


def test_max_batch_zero_when_weights_do_not_fit():
    assert max_batch_that_fits(setup("llama-2-70b", "a100", **OPTS)) == 0


def test_kv_crossover_is_where_kv_overtakes_weights():
    s = setup("llama-2-7b", "a100", **OPTS)
    b = kv_crossover_batch(s)
    m = memory_sweep(s, np.array([b - 1.0, float(b)]))
    assert m.kv_cache_bytes[0] < m.weights_bytes[0] <= m.kv_cache_bytes[1]
    # Llama-2-7B: 0.5 MB of KV per token, 1280 tokens per sequence, 13.5 GB of weights -> batch 21
    assert b == 21
