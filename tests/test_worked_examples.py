"""Every worked figure of the two primers' rules of thumb, as the tool computes it (docs/worked-examples.md)."""

import pytest

import roofline
from roofline.catalog import get_gpu, get_model
from roofline.estimates.formulas import formulas

F = {f.key: f for f in formulas()}


def test_llama7b_decode_is_7ms_on_a100():
    # 14 GB / 2 TB/s = 7 ms; exactly: 13.48 GB / 2.039 TB/s = 6.61 ms
    assert F["decode_time"].value == pytest.approx(6.61e-3, rel=0.01)
    e = roofline.estimate("llama-2-7b", "a100", dtype="fp16", input_len=16, output_len=2, ideal=True)
    # the step reads every weight but the embedding table (one row per token): 13.2 GB -> 6.5 ms
    assert e.tpot_s == pytest.approx(6.5e-3, rel=0.02)
    assert e.tpot_s == pytest.approx(7e-3, rel=0.1)
    assert e.decode.bound == "memory"


def test_compute_time_per_token_is_0045ms():
    assert F["decode_compute"].value == pytest.approx(0.045e-3, rel=0.05)


def test_150x_gap_and_ridge_156():
    assert F["gap"].value == pytest.approx(150, rel=0.05)
    assert F["ridge"].value == pytest.approx(156, rel=0.02)
    assert get_gpu("a100").ridge_point("bf16") == pytest.approx(153.0, rel=0.001)
    e = roofline.estimate("llama-2-7b", "a100", dtype="fp16")
    assert e.ridge_point_flop_per_byte == pytest.approx(153.0, rel=0.001)


def test_decode_ai_is_one_at_batch_one():
    e = roofline.estimate("llama-2-7b", "a100", dtype="fp16", batch_size=1, input_len=8, output_len=2, ideal=True)
    assert e.decode.arithmetic_intensity == pytest.approx(1.0, rel=0.03)


def test_decode_saturates_near_batch_156():
    # weights alone give 156; the tool also counts activation traffic: 165 at 2.0 TB/s (the primer's "~164")
    assert F["critical_batch"].value == pytest.approx(164, abs=2)
    e = roofline.estimate("llama-2-7b", "a100", dtype="fp16", ideal=True)
    assert 150 <= e.critical_batch_size <= 170


def test_decode_step_flat_while_memory_bound():
    t1 = roofline.estimate("llama-2-7b", "a100", dtype="fp16", batch_size=1, input_len=8, output_len=2, ideal=True).tpot_s
    t64 = roofline.estimate("llama-2-7b", "a100", dtype="fp16", batch_size=64, input_len=8, output_len=2, ideal=True).tpot_s
    assert t64 / t1 < 1.1  # ~7 ms per step at batch 1 and 64: throughput scales for free


def test_throughput_plateau_22k():
    assert F["plateau"].value == pytest.approx(22_000, rel=0.06)


def test_prefill_crossing_is_below_200_not_300_400():
    # The primer's ~300-400 contradicts its own AI ≈ seq_len; the tool finds ~176 (docs/worked-examples.md)
    assert 150 <= F["prefill_crossing"].value <= 200


def test_2048_prefill_is_90ms_not_9ms():
    e = roofline.estimate("llama-2-7b", "a100", dtype="fp16", input_len=2048, output_len=1, ideal=True)
    assert e.ttft_s == pytest.approx(0.09, rel=0.05)  # the primer's "about 9 ms" is 10x too low
    assert e.prefill.bound == "compute"


def test_70b_fp16_needs_two_a100_or_four_a6000():
    w = roofline.estimate("llama-2-70b", "a100", dtype="fp16").memory.weights_bytes
    assert w == pytest.approx(138e9, rel=0.01)  # "70B × 2 bytes = 140 GB"
    one = roofline.estimate("llama-2-70b", "a100", dtype="fp16", input_len=4096, output_len=256)
    assert not one.memory.fits
    two = roofline.estimate("llama-2-70b", "a100", dtype="fp16", tp=2, input_len=4096, output_len=256)
    assert two.memory.fits
    four = roofline.estimate("llama-2-70b", "rtx-a6000", dtype="fp16", tp=4, input_len=4096, output_len=256)
    assert four.memory.fits
    three_a6000 = roofline.estimate("llama-2-70b", "rtx-a6000", dtype="fp16", tp=2, input_len=4096, output_len=256)
    assert not three_a6000.memory.fits


def test_70b_int4_fits_one_a100():
    e = roofline.estimate("llama-2-70b", "a100", weight_dtype="int4", input_len=4096, output_len=256)
    assert e.memory.fits
    assert e.memory.weights_bytes == pytest.approx(68.98e9 * 0.9 * 4.125 / 8 + 68.98e9 * 0.1 * 0, rel=0.15)


def test_h100_vs_a100_decode_is_bandwidth_ratio():
    a = roofline.estimate("llama-2-7b", "a100", input_len=16, output_len=2, ideal=True)
    h = roofline.estimate("llama-2-7b", "h100", input_len=16, output_len=2, ideal=True)
    assert a.tpot_s / h.tpot_s == pytest.approx(3.35 / 2.039, rel=0.02)  # rule of thumb: 3.35 / 2.0
    # prefill is compute-bound: its speed-up follows the FLOP/s ratio instead
    a = roofline.estimate("llama-2-7b", "a100", input_len=2048, output_len=1, ideal=True)
    h = roofline.estimate("llama-2-7b", "h100", input_len=2048, output_len=1, ideal=True)
    assert a.ttft_s / h.ttft_s == pytest.approx(989.5 / 312, rel=0.05)


def test_fp8_is_6x_a100():
    assert F["fp8_speedup"].value == pytest.approx(6.3, rel=0.02)


def test_sram_20mb_and_4000x():
    assert F["sram"].value == pytest.approx(4000, rel=0.1)


def test_kv_dominates_at_production_batch():
    e = roofline.estimate("llama-2-7b", "a100", batch_size=32, input_len=1024, output_len=1024)
    assert e.memory.kv_cache_bytes > e.memory.weights_bytes
    e1 = roofline.estimate("llama-2-7b", "a100", batch_size=1, input_len=1024, output_len=1024)
    assert e1.memory.weights_bytes / e1.memory.total_bytes > 0.8  # at batch 1 weights dominate


def test_quantization_helps_decode_more_than_prefill():
    bf = roofline.estimate("llama-2-7b", "a100", input_len=2048, output_len=128, ideal=True)
    q4 = roofline.estimate("llama-2-7b", "a100", weight_dtype="int4", input_len=2048, output_len=128, ideal=True)
    assert bf.tpot_s / q4.tpot_s > 3.0
    assert bf.ttft_s / q4.ttft_s < 1.1


def test_70b_gqa_kv_is_small():
    assert get_model("llama-2-70b").attention.num_kv_heads == 8
