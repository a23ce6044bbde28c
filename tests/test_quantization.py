"""Checkpoint formats read from config.json quantization_config, and what they do to memory."""

from dataclasses import replace

import pytest

from roofline.catalog import get_gpu, get_model
from roofline.cost.graph import step_ops
from roofline.errors import RooflineError
from roofline.estimates.estimate import run, setup
from roofline.estimates.timing import roofs
from roofline.specs.precision import resolve_precision
from roofline.specs.quantization import read_quantization


def q(cfg, is_moe=False):
    return read_quantization({"quantization_config": cfg}, is_moe)


@pytest.mark.parametrize("cfg,name,bits", [
    # DeepSeek-V3: e4m3 + one fp32 scale per 128 × 128 block = 8 + 32 / 16,384
    ({"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]}, "fp8-b128x128", 8 + 32 / 16384),
    ({"quant_method": "fp8", "activation_scheme": "static"}, "fp8", 8.0),
    ({"quant_method": "mxfp4"}, "mxfp4", 4 + 8 / 32),
    # AWQ 4-bit g128: fp16 scale + 4-bit zero per 128 = 4 + 20/128 = 4.15625
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, "int4-g128", 4.15625),
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": False}, "int4-g128", 4.125),
    ({"quant_method": "gptq", "bits": 4, "group_size": 32}, "int4-g32", 4 + 20 / 32),
    ({"quant_method": "gptq", "bits": 8, "group_size": -1}, "int8", 8.0),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float", "strategy": "channel"}}}}, "fp8", 8.0),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float", "group_size": 16}}}}, "fp4", 4.5),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int", "group_size": 128, "strategy": "group"}}}}, "int4-g128", 4.125),
    # bitsandbytes nf4 with double quantization: 4 + 8/64 + 32/(64 × 256) = 4.126953125
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True}, "nf4-bnb", 4.126953125),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "fp4"}, "fp4-bnb", 4.5),
    ({"quant_method": "bitsandbytes", "load_in_8bit": True}, "int8-llm.int8", 8.0),
])
def test_formats_and_their_bits(cfg, name, bits):
    got = q(cfg)
    assert got.weight.name == name and got.weight.bits == pytest.approx(bits, rel=1e-12)


def test_not_converted_modules():
    gpt_oss = ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]
    assert q({"quant_method": "mxfp4", "modules_to_not_convert": gpt_oss}, True).unconverted == ("attention",)
    assert q({"quant_method": "awq", "modules_to_not_convert": ["mlp"]}).unconverted == ("mlp",)
    assert q({"quant_method": "awq", "modules_to_not_convert": ["model.layers.0.mlp.down_proj"]}).notes
    assert read_quantization({"model_type": "llama"}) is None


def test_unknown_or_malformed_config_is_one_clear_error():
    with pytest.raises(RooflineError, match="quant_method 'hqq'"):
        q({"quant_method": "hqq"})
    with pytest.raises(RooflineError, match="bits"):
        q({"quant_method": "gptq", "bits": "four"})
    with pytest.raises(RooflineError, match="not a format"):
        q({"quant_method": "gptq", "bits": 5})


def checkpoint_setup(model, gpu, **kw):
    """setup(): the checkpoint's format is the default weight format."""
    return setup(model, gpu, **kw)


def test_gpt_oss_120b_weights_by_hand():
    # per layer: attention q,o 2 × 2880 × 64 × 64 + k,v 2 × 2880 × 8 × 64 = 26,542,080; × 36 = 955,514,880 in bf16
    # experts: 36 layers × 128 × 3 × 2880 × 2880 = 114,661,785,600 in mxfp4 (4.25 bits = 0.53125 B)
    # kept in bf16: embedding + lm_head 2 × 201,088 × 2880 + norms 36 × 2 × 2880 + 2880
    #               + routers 36 × (2880 × 128 + 128) + sinks 36 × 64 = 1,171,755,072
    # bytes = 114,661,785,600 × 0.53125 + (955,514,880 + 1,171,755,072) × 2 = 65,168,613,504
    e = run(checkpoint_setup("gpt-oss-120b", "h100-sxm"))
    assert e.memory.weights_bytes == 65_168_613_504
    assert e.memory.fits  # on one 80 GB (81,559 MiB) H100
    assert "checkpoint" in e.precision["label"] and "mxfp4" in e.precision["label"]
    assert any("quantization_config" in n for n in e.notes)


def test_gpt_oss_attention_stays_bf16_in_the_operator_graph():
    s = checkpoint_setup("gpt-oss-120b", "h100-sxm")
    ops = {o.name: o for o in step_ops(s.model, s.prec, s.par, "decode", 1, 1024, 256)}
    # qkv: 2880 × (64 × 64 + 2 × 8 × 64) = 14,745,600 weights + 5120 biases (attention_bias), × 2 B; not dequantized
    assert float(ops["qkv_proj"].weight_bytes) == (14_745_600 + 5_120) * 2 and float(ops["qkv_proj"].dequant) == 0
    assert float(ops["experts_down"].dequant) > 0  # mxfp4 unpacked to bf16 on Hopper (no fp4 tensor cores)


def test_deepseek_v3_fits_8_h200_in_fp8():
    # linear weights in fp8 with 128×128 block scales (8.002 bits), the rest bf16: ~85 GB per GPU at tp=8
    e = run(checkpoint_setup("deepseek-v3", "h200-sxm", tp=8))
    assert e.memory.fits and 80e9 < e.memory.weights_bytes < 90e9
    assert e.precision["compute_dtype"] == "fp8"  # W8A8 natively on Hopper
    assert not run(setup("deepseek-v3", "h200-sxm", tp=8, weight_dtype="bf16")).memory.fits  # the same model in bf16


def test_weight_dtype_overrides_the_checkpoint():
    e = run(checkpoint_setup("gpt-oss-120b", "h100-sxm", weight_dtype="bf16"))
    assert e.precision["weight_dtype"] == "bf16" and not e.memory.fits
    assert any("overrides the checkpoint" in n for n in e.notes)
    p = resolve_precision(get_gpu("h100"), checkpoint=get_model("deepseek-v3").quantization)
    assert p.weight_for("attention").name == "fp8-b128x128"  # nothing left unconverted


def test_mixed_formats_keep_model_dtype_activations_on_blackwell():
    p = resolve_precision(get_gpu("b200"), checkpoint=get_model("gpt-oss-20b").quantization)
    assert p.activation.name == "bf16" and p.weight_for("attention").name == "bf16"
    assert p.weight_only_for("experts") and not p.weight_only_for("attention")
