"""Quantization: storage widths, which peak the GEMMs run at, weight-only fallbacks, and their effects."""

import pytest

import roofline
from roofline.catalog import get_gpu
from roofline.errors import RooflineError
from roofline.specs.precision import resolve_precision


def test_int4_g128_weights_exact():
    # Llama-2-7B: 6,738,415,616 params; embedding and lm_head 2 × 32000 × 4096 = 262,144,000 and norms
    # 32 × 2 × 4096 + 4096 = 266,240 stay bf16; the other 6,476,005,376 are int4 g128 at 4.125 bits:
    # 6,476,005,376 × 4.125 / 8 + (262,144,000 + 266,240) × 2 = 3,339,190,272 + 524,820,480
    e = roofline.estimate("llama-2-7b", "a100", weight_dtype="int4")
    assert e.memory.weights_bytes == 3_864_010_752
    assert e.precision["weight_bits"] == 4.125


def test_weight_bits_any_width():
    # GGUF Q4_0: 4.5 bits per weight: 6,476,005,376 × 4.5 / 8 + 524,820,480
    e = roofline.estimate("llama-2-7b", "a100", weight_bits=4.5)
    assert e.memory.weights_bytes == 6_476_005_376 * 4.5 / 8 + 524_820_480
    assert e.precision["weight_only"]  # packed below bf16: unpacked inside each GEMM
    assert any("weight-only" in n for n in e.notes)


def test_w8a8_int8_uses_int8_peak():
    e = roofline.estimate("llama-2-7b", "a100", weight_dtype="int8", activation_dtype="int8")
    assert e.precision["compute_dtype"] == "int8" and e.gpu["peak_flops"] == 624e12
    assert not e.precision["weight_only"]


def test_fp8_native_on_h100_uses_fp8_peak():
    e = roofline.estimate("llama-2-7b", "h100", weight_dtype="fp8")
    assert e.precision["compute_dtype"] == "fp8" and e.gpu["peak_flops"] == 1979e12


def test_fp8_on_a100_runs_weight_only_and_says_so():
    e = roofline.estimate("llama-2-7b", "a100", weight_dtype="fp8")
    assert e.precision["weight_only"] and e.precision["compute_dtype"] == "bf16"
    assert any("no fp8 tensor cores" in n for n in e.notes)


def test_fp4_weight_only_on_h100_native_on_b200():
    h = roofline.estimate("llama-2-7b", "h100", weight_dtype="fp4")
    assert h.precision["weight_only"] and any("no fp4 tensor cores" in n for n in h.notes)
    b = roofline.estimate("llama-2-7b", "b200", weight_dtype="fp4")
    assert b.precision["compute_dtype"] == "fp4" and b.gpu["peak_flops"] == 9000e12


def test_fp8_activations_refused_without_fp8_tensor_cores():
    with pytest.raises(RooflineError, match="cannot multiply fp8"):
        resolve_precision(get_gpu("a100"), weight_dtype="fp8", activation_dtype="fp8")


def test_int4_speeds_up_decode_not_prefill_and_lowers_critical_batch():
    kw = dict(input_len=2048, output_len=128)
    bf, q4 = (roofline.estimate("llama-2-7b", "a100", weight_dtype=w, **kw) for w in (None, "int4"))
    assert q4.tpot_s < bf.tpot_s  # calibrated: dequantization eats part of the gain
    assert q4.ttft_s >= bf.ttft_s * 0.95  # prefill is compute-bound: no faster (the unpacking costs extra)
    # the pure roofline: a step streams the weights and the KV cache. bf16: (6.738e9 − 0.131e9 embedding
    # rows not read) × 2 B = 13.21 GB; int4: 6.476e9 × 4.125/8 + lm_head 0.262 GB = 3.60 GB. KV at a mean
    # context of ~2,111 tokens × 524,288 B = 1.107 GB either way: (13.21 + 1.107) / (3.60 + 1.107) = 3.04
    ibf, iq4 = (roofline.estimate("llama-2-7b", "a100", weight_dtype=w, ideal=True, **kw) for w in (None, "int4"))
    assert ibf.tpot_s / iq4.tpot_s == pytest.approx(3.04, rel=0.02)
    # weight-only GEMMs still multiply in bf16 while reading 4.125/16 of the bytes: compute-bound ~3.9× sooner
    assert q4.critical_batch_size < bf.critical_batch_size / 3


def test_w8a8_keeps_the_critical_batch():
    # int8 peak is 2× bf16 and int8 weights are half the bytes: FLOP per weight byte at the ridge is unchanged
    bf = roofline.estimate("llama-2-7b", "a100")
    w8a8 = roofline.estimate("llama-2-7b", "a100", weight_dtype="int8", activation_dtype="int8")
    assert w8a8.critical_batch_size == pytest.approx(bf.critical_batch_size, rel=0.1)
    assert w8a8.tpot_s < bf.tpot_s


def test_fp8_kv_cache_halves_kv_and_speeds_long_context_decode():
    bf = roofline.estimate("llama-2-7b", "h100", batch_size=32, input_len=4096, output_len=256)
    f8 = roofline.estimate("llama-2-7b", "h100", batch_size=32, input_len=4096, output_len=256, kv_cache_dtype="fp8")
    assert f8.memory.kv_cache_bytes == bf.memory.kv_cache_bytes / 2
    assert f8.tpot_s < bf.tpot_s * 0.8  # at 32 × 4k tokens the KV read dominates the step
