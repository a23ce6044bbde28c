"""KV cache bytes per token and per sequence, pinned to hand calculations from each config."""

import pytest

import roofline
from roofline.catalog import get_gpu, get_model
from roofline.estimates.memory import kv_bytes_per_token, kv_cache_bytes
from roofline.specs.parallel import Parallel
from roofline.specs.precision import resolve_precision

A100 = get_gpu("a100")
BF16 = resolve_precision(A100, "bf16")
FP16 = resolve_precision(A100, "fp16")


def per_token(name, prec=BF16, **par):
    return kv_bytes_per_token(get_model(name), prec, Parallel(**par))


def test_llama2_7b_fp16():
    # MHA: 32 layers × 32 KV heads × (128 + 128) (K and V) × 2 B = 524,288
    assert per_token("llama-2-7b", FP16) == 524_288


def test_llama3_70b_bf16():
    # GQA: 80 layers × 8 KV heads × (128 + 128) × 2 B = 327,680
    assert per_token("llama-3-70b") == 327_680


def test_mixtral_8x7b_bf16():
    # GQA: 32 layers × 8 KV heads × (128 + 128) × 2 B = 131,072
    assert per_token("mixtral-8x7b") == 131_072


def test_deepseek_v3_mla_bf16():
    # MLA caches one latent (kv_lora_rank 512) + one shared rope key (64) per layer: 61 × 576 × 2 B = 70,272
    assert per_token("deepseek-v3") == 70_272


def test_gemma2_9b_sliding_window_at_8k():
    # 42 layers alternate sliding (window 4096) and global; 8 KV heads × (256 + 256) × 2 B = 8,192 B per layer-token.
    # At 8,192 tokens: 21 global × 8192 × 8192 + 21 sliding × 4096 × 8192 = 1,409,286,144 + 704,643,072
    m = get_model("gemma-2-9b")
    assert kv_cache_bytes(m, BF16, Parallel(), 1, 8192) == 2_113_929_216
    e = roofline.estimate("gemma-2-9b", "a100", batch_size=1, input_len=8000, output_len=192)
    assert e.memory.kv_cache_bytes == 2_113_929_216
    # without the windows it would be 42 × 8192 × 8192 = 2,818,572,288
    assert e.memory.kv_cache_bytes < 42 * 8192 * 8192


def test_mistral_window_caps_every_layer():
    # Mistral-7B v0.1: sliding window 4096 on all 32 layers; 8 KV heads × 256 × 2 B = 4,096 B per layer-token.
    # At 8,192 tokens each layer keeps 4,096: 32 × 4096 × 4096 = 536,870,912 (half of the uncapped 1,073,741,824)
    assert kv_cache_bytes(get_model("mistral-7b"), BF16, Parallel(), 1, 8192) == 536_870_912


def test_gpt_oss_hybrid_layers():
    # gpt-oss-20b: 24 layers alternating sliding (128 tokens) and full attention, 8 KV heads × 64 dims.
    # Per layer-token: 8 × (64 + 64) × 2 B = 2,048 B. At 4,096 tokens: 12 × 4096 × 2048 + 12 × 128 × 2048
    m = get_model("gpt-oss-20b")
    assert kv_cache_bytes(m, BF16, Parallel(), 1, 4096) == 12 * 4096 * 2048 + 12 * 128 * 2048


def test_tensor_parallel_splits_kv_heads_then_replicates():
    # 8 KV heads: tp=2 holds 4 per GPU (163,840 B); past 8 each GPU holds one replicated head (40,960 B)
    assert per_token("llama-3-70b", tp=2) == 163_840
    assert per_token("llama-3-70b", tp=8) == 40_960
    assert per_token("llama-3-70b", tp=16) == 40_960


def test_mla_latent_replicated_under_tp():
    # the latent is shared by all heads, so every tensor-parallel rank keeps the whole 70,272 B
    assert per_token("deepseek-v3", tp=8) == 70_272


def test_pipeline_splits_layers():
    # pp=2 of 32 layers: 16 per stage -> half of 524,288
    assert per_token("llama-2-7b", FP16, pp=2) == 262_144
    # uneven: pp=3 of 32 layers, the fullest stage has 11: 11 × 32 × 256 × 2
    assert per_token("llama-2-7b", FP16, pp=3) == 11 * 32 * 256 * 2


@pytest.mark.parametrize("kv,expected", [("fp8", 262_144), ("int8", 262_144), ("int4", 135_168)])
def test_quantized_kv_cache(kv, expected):
    # 32 × 32 × 256 values per token × 1 B (fp8/int8) or × 4.125/8 B (int4 with one fp16 scale per 128)
    prec = resolve_precision(get_gpu("h100"), "fp16", kv_cache_dtype=kv)
    assert per_token("llama-2-7b", prec) == expected
