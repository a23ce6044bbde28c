"""The vectorized grid agrees with point estimates everywhere, formats and splits included."""

import numpy as np
import pytest

import roofline
from roofline.errors import RooflineError


@pytest.mark.parametrize("kw", [
    dict(),
    dict(weight_dtype="fp8"),  # native fp8 on H100, weight-only on A100: formats differ along the GPU axis
    dict(tp=2, weight_dtype="int4", kv_cache_dtype="fp8"),
    dict(ideal=True),
])
def test_grid_matches_estimate(kw):
    gpus = ["a100", "h100", "l40s"]
    g = roofline.grid("mistral-7b", gpus, batch_sizes=[1, 7, 64], input_lens=[100, 5000], output_lens=[1, 300], **kw)
    assert g.shape == (3, 3, 2, 2)
    for gi, name in enumerate(gpus):
        for bi, b in enumerate([1, 7, 64]):
            for ii, L in enumerate([100, 5000]):
                for oi, n in enumerate([1, 300]):
                    e = roofline.estimate("mistral-7b", name, batch_size=b, input_len=L, output_len=n, **kw)
                    assert g.tpot_s[gi, bi, ii, oi] == pytest.approx(e.tpot_s, rel=1e-9)
                    assert g.ttft_s[gi, bi, ii, 0] == pytest.approx(e.ttft_s, rel=1e-9)
                    assert g.memory_bytes[gi, bi, ii, oi] == pytest.approx(e.memory.total_bytes, rel=1e-9)
                    assert g.fits[gi, bi, ii, oi] == e.memory.fits
                    assert g.output_tokens_per_s[gi, bi, ii, oi] == pytest.approx(e.output_tokens_per_s, rel=1e-9)


def test_best_respects_targets():
    g = roofline.grid("llama-2-7b", ["a100", "h100"], batch_sizes=np.arange(1, 129), input_lens=[1024], output_lens=[256])
    best = g.best(max_tpot_s=0.012)
    assert best["gpu"] == "h100-sxm" and best["tpot_s"] <= 0.012
    e = roofline.estimate("llama-2-7b", "h100", batch_size=best["batch_size"], input_len=1024, output_len=256)
    assert e.memory.fits and e.tpot_s == pytest.approx(best["tpot_s"])
    assert g.best(max_tpot_s=1e-6) is None


def test_grid_rejects_bad_axes():
    with pytest.raises(RooflineError):
        roofline.grid("llama-2-7b", ["a100"], batch_sizes=[0, 1], input_lens=[1], output_lens=[1])
    with pytest.raises(RooflineError):
        roofline.grid("llama-2-7b", ["a100"], batch_sizes=[1.5], input_lens=[1], output_lens=[1])
    with pytest.raises(RooflineError, match="cap"):
        roofline.grid("llama-2-7b", ["a100"] * 100, batch_sizes=range(1, 1001), input_lens=range(1, 1001), output_lens=[1])


def test_grid_ranges_are_the_estimates():
    # the grid's interval at each cell is the estimate's own interval there (same regime and situation)
    g = roofline.grid("llama-3.1-8b", ["a100", "h100"], batch_sizes=[1, 16], input_lens=[1024], output_lens=[256], tp=2)
    for figure in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s"):
        low, high = g.range(figure)
        for gi, name in enumerate(["a100", "h100"]):
            for bi, b in enumerate([1, 16]):
                r = roofline.estimate("llama-3.1-8b", name, batch_size=b, input_len=1024, output_len=256,
                                      tp=2).ranges[f"{figure}_range"]
                assert low[gi, bi, 0, 0] == pytest.approx(r["low"], rel=1e-9)
                assert high[gi, bi, 0, 0] == pytest.approx(r["high"], rel=1e-9)
                assert low[gi, bi, 0, 0] < high[gi, bi, 0, 0]
