"""Invariants that must hold for any model, GPU and workload (hypothesis)."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roofline
from roofline.catalog import all_gpus, all_models, get_gpu

MODELS = ["llama-2-7b", "mistral-7b", "mixtral-8x7b", "gemma-2-9b", "deepseek-v2-lite", "gpt-oss-20b", "phi-2", "qwen3-30b-a3b"]
GPUS = ["a100", "h100", "l40s", "rtx-4090", "mi300x", "b200", "t4", "tpu-v5e"]
batches = st.integers(min_value=1, max_value=512)
lengths = st.integers(min_value=1, max_value=16384)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def est(model, gpu, **kw):
    return roofline.estimate(model, gpu, **kw)


@FAST
@given(model=st.sampled_from(MODELS), gpu=st.sampled_from(GPUS), b=batches, L=lengths, n=lengths,
       factor=st.floats(min_value=1.0, max_value=4.0))
def test_more_memory_bandwidth_is_never_slower(model, gpu, b, L, n, factor):
    g = get_gpu(gpu)
    fast = g.model_copy(update={"memory_bandwidth": g.memory_bandwidth * factor})
    a, f = est(model, g, batch_size=b, input_len=L, output_len=n), est(model, fast, batch_size=b, input_len=L, output_len=n)
    assert f.ttft_s <= a.ttft_s * (1 + 1e-12) and f.tpot_s <= a.tpot_s * (1 + 1e-12)


@FAST
@given(model=st.sampled_from(MODELS), gpu=st.sampled_from(GPUS), b=batches, L=lengths, factor=st.floats(min_value=1.0, max_value=4.0))
def test_more_compute_is_never_slower(model, gpu, b, L, factor):
    g = get_gpu(gpu)
    fast = g.model_copy(update={"peak_flops": {k: v * factor for k, v in g.peak_flops.items()}})
    a, f = est(model, g, batch_size=b, input_len=L, output_len=64), est(model, fast, batch_size=b, input_len=L, output_len=64)
    assert f.ttft_s <= a.ttft_s * (1 + 1e-12) and f.tpot_s <= a.tpot_s * (1 + 1e-12)


@FAST
@given(model=st.sampled_from(MODELS), gpu=st.sampled_from(GPUS), b=batches, L=lengths, n=lengths)
def test_bigger_workloads_never_cheaper(model, gpu, b, L, n):
    base = est(model, gpu, batch_size=b, input_len=L, output_len=n)
    more_b = est(model, gpu, batch_size=b + 1, input_len=L, output_len=n)
    more_L = est(model, gpu, batch_size=b, input_len=L + 1, output_len=n)
    assert more_b.tpot_s >= base.tpot_s and more_b.ttft_s >= base.ttft_s
    assert more_b.memory.total_bytes >= base.memory.total_bytes
    assert more_L.ttft_s >= base.ttft_s and more_L.memory.total_bytes >= base.memory.total_bytes
    assert more_b.decode_tokens_per_s >= base.decode_tokens_per_s * (1 - 1e-9)  # batching never costs throughput


@FAST
@given(model=st.sampled_from(all_models()), gpu=st.sampled_from([g.name for g in all_gpus()]), b=batches, L=lengths, n=lengths,
       ideal=st.booleans())
def test_every_number_is_finite(model, gpu, b, L, n, ideal):
    d = est(model, gpu, batch_size=b, input_len=L, output_len=n, ideal=ideal).to_dict()

    def walk(x):
        if isinstance(x, float):
            assert math.isfinite(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(d)
    assert d["ttft_s"] > 0 and d["tpot_s"] > 0 and d["memory"]["total_bytes"] > 0


@FAST
@given(model=st.sampled_from(MODELS), gpu=st.sampled_from(GPUS), b=batches, L=lengths)
def test_ideal_is_the_lower_bound(model, gpu, b, L):
    real, ideal = est(model, gpu, batch_size=b, input_len=L, output_len=32), est(model, gpu, batch_size=b, input_len=L, output_len=32, ideal=True)
    assert ideal.ttft_s <= real.ttft_s and ideal.tpot_s <= real.tpot_s
