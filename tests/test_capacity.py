"""Largest batch for a context, longest context for a batch, fewest GPUs that fit."""

import pytest

import roofline


def fits(**kw):
    return roofline.estimate("llama-2-7b", "a100", **kw).memory.fits


@pytest.mark.parametrize("input_len,output_len", [(512, 128), (2048, 256), (8000, 1)])
def test_max_batch_is_the_boundary(input_len, output_len):
    b = roofline.estimate("llama-2-7b", "a100", input_len=input_len, output_len=output_len).capacity.max_batch_size
    assert b > 0
    assert fits(batch_size=b, input_len=input_len, output_len=output_len)
    assert not fits(batch_size=b + 1, input_len=input_len, output_len=output_len)


def test_max_batch_by_hand():
    # (81,920 MiB = 85.9e9 B − 13.48e9 weights − 0.5e9 overhead) / (2304 × 524,288 B KV + activations per sequence)
    e = roofline.estimate("llama-2-7b", "a100", batch_size=1, input_len=2048, output_len=256)
    per_seq = e.memory.kv_cache_bytes + e.memory.activation_bytes
    assert e.memory.kv_cache_bytes == 2304 * 524_288
    assert e.capacity.max_batch_size == int((81_920 * 2**20 - e.memory.weights_bytes - 0.5e9) // per_seq)


@pytest.mark.parametrize("batch", [1, 16, 64])
def test_max_context_is_the_boundary(batch):
    c = roofline.estimate("llama-2-7b", "a100", batch_size=batch, output_len=256).capacity.max_context_len_by_memory
    assert fits(batch_size=batch, input_len=c - 256, output_len=256)
    assert not fits(batch_size=batch, input_len=c - 255, output_len=256)


def test_nothing_fits_is_zero_not_an_error():
    cap = roofline.estimate("llama-2-70b", "a100", dtype="fp16").capacity
    assert cap.max_batch_size == 0 and cap.max_context_len == 0


@pytest.mark.parametrize("model,gpu,kw,expected", [
    ("llama-2-70b", "a100", dict(dtype="fp16", input_len=4096, output_len=256), {"num_gpus": 2, "tp": 2, "pp": 1}),
    ("llama-2-70b", "rtx-a6000", dict(dtype="fp16", input_len=4096, output_len=256), {"num_gpus": 4, "tp": 4, "pp": 1}),
    ("llama-2-70b", "a100", dict(weight_dtype="int4", input_len=4096, output_len=256), {"num_gpus": 1, "tp": 1, "pp": 1}),
    ("llama-3.1-405b", "h100", dict(input_len=4096, output_len=256), {"num_gpus": 16, "tp": 8, "pp": 2}),
    # 671B parameters in fp8 ≈ 671 GB: over 8 × 141 GB with experts spread by expert parallelism and
    # the (small, MLA) attention replicated per data-parallel rank, as DeepSeek serves it
    ("deepseek-v3", "h200", dict(weight_dtype="fp8", input_len=4096, output_len=256), {"num_gpus": 8, "tp": 1, "pp": 1, "dp": 8, "ep": 8}),
])
def test_fewest_gpus(model, gpu, kw, expected):
    cap = roofline.estimate(model, gpu, **kw).capacity
    got = {"num_gpus": cap.min_gpus, "tp": cap.min_gpus_tp, "pp": cap.min_gpus_pp, "dp": cap.min_gpus_dp, "ep": cap.min_gpus_ep}
    assert {k: got[k] for k in expected} == expected


def test_capacity_in_json():
    d = roofline.estimate("llama-2-7b", "h100").to_dict()
    assert {"max_batch_size", "max_context_len", "min_gpus", "min_gpus_tp", "min_gpus_pp"} <= set(d["memory"])


def test_context_capped_by_the_window():
    cap = roofline.estimate("llama-2-7b", "a100").capacity
    assert cap.max_context_len == 4096 and cap.max_context_len_by_memory > 100_000
