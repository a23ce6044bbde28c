"""KV capacity as serving engines size it, checked against hand calculations."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from roofline.errors import RooflineError
from roofline.estimates.estimate import setup
from roofline.estimates.kv_capacity import kv_capacity

MiB = 2**20


def _kv(model="llama-3.1-8b", gpu="h100", i=2048, o=256, engine="vllm", overrides=None, **kw):
    s = setup(model, gpu, input_len=i, output_len=o, **kw)
    return kv_capacity(s.model, s.prec, s.par, s.gpu, i, o, engine=engine, overrides=overrides)


def test_llama_3_1_8b_h100_vllm_by_hand():
    # vLLM 0.11 `vllm serve` on an H100 80GB (81,559 MiB = 85,520,809,984 B):
    #   budget      = 85,520,809,984 × 0.9                                   = 76,968,728,985.6
    #   weights     = 8,030,261,248 params × 2 B                             = 16,060,522,496
    #   activations = 8192 tokens × (2 × 4096 + 3 × 14,336) × 2 B            =    838,860,800
    #                 + fp32 logits of min(1024, 8192) rows: 1024 × 128,256 × 4 =  525,336,576
    #   workspaces  = 32 MiB                                                 =     33,554,432
    #   KV          = 76,968,728,985.6 − 16,060,522,496 − 1,364,197,376 − 33,554,432 = 59,510,454,681.6
    #   per token   = 32 layers × 8 KV heads × (128 + 128) × 2 B = 131,072; block of 16 = 2,097,152 B
    #   blocks      = ⌊59,510,454,681.6 / 2,097,152⌋ = 28,376 → 454,016 tokens
    #   per request = 2304 tokens = 144 blocks → ⌊28,376 / 144⌋ = 197 concurrent requests
    k = _kv()
    assert k.weights_bytes == 16_060_522_496
    act = next(i for i in k.items if i.name == "activation_peak")
    assert act.bytes == 838_860_800 + 525_336_576 and act.in_budget
    assert k.kv_bytes_per_token == 131_072
    assert k.kv_capacity_tokens == 28_376 * 16
    assert k.max_concurrency == 197
    assert k.max_num_seqs == 1024 and k.settings["max_num_batched_tokens"] == 8192
    # the static-batch view (all 2304-token prompts prefilled at once) held far fewer
    context = next(i for i in k.items if i.name == "cuda_context")
    assert not context.in_budget  # created before vLLM's memory snapshot: it sits in the 10% margin


def test_a100_takes_the_small_token_budget():
    # vLLM ≥ 0.9 puts every A100 in the small branch: 2048 tokens, 256 sequences (engines.csv)
    k = _kv(gpu="a100")
    assert k.settings["max_num_batched_tokens"] == 2048 and k.max_num_seqs == 256
    # activations: 2048 × 51,200 × 2 + 256 × 128,256 × 4 = 209,715,200 + 131,334,144
    assert next(i.bytes for i in k.items if i.name == "activation_peak") == 209_715_200 + 131_334_144


def test_sglang_fraction_and_pool_by_hand():
    # SGLang 0.5.5 on 81,559 MiB, TP1: reserved = 512 + 1.5 × 8192 + 2 × 256 + 128 × 1 = 13,440 MiB
    #   mem_fraction_static = round((81,559 − 13,440) / 81,559, 3) = round(0.83521, 3) = 0.835
    #   pool = (85,520,809,984 − 0.5e9) × 0.835 − 16,060,522,496 = 54,931,853,840.6 B
    #   tokens (page 1) = ⌊54,931,853,840.6 / 131,072⌋ = 419,096; requests = ⌊419,096 / 2304⌋ = 181
    k = _kv(engine="sglang")
    assert k.memory_fraction == 0.835
    assert k.kv_capacity_tokens == 419_096
    assert k.max_concurrency == 181


def test_tensor_parallel_adds_communication_buffers_and_splits_kv():
    k1, k4 = _kv("llama-3.1-70b", tp=8), _kv("llama-3.1-70b", tp=4)
    assert any(i.name == "communication_buffers" for i in k4.items)
    assert not any(i.name == "communication_buffers" for i in _kv().items)
    # 8 KV heads: at tp=8 each GPU holds 1 head of 80 layers: 80 × 1 × 256 × 2 B = 40,960 B per token
    assert k1.kv_bytes_per_token == 40_960


def test_overrides_and_bad_settings():
    lo = _kv(overrides={"gpu_memory_utilization": 0.5})
    hi = _kv(overrides={"gpu_memory_utilization": 0.95})
    assert lo.max_concurrency < hi.max_concurrency
    with pytest.raises(RooflineError, match="no setting"):
        _kv(overrides={"gpu_mem": 0.5})
    with pytest.raises(RooflineError, match=r"\(0, 1\]"):
        _kv(overrides={"gpu_memory_utilization": 1.5})
    with pytest.raises(RooflineError, match="positive"):
        _kv(overrides={"max_num_batched_tokens": float("nan")})


def test_no_room_is_a_result_not_an_error():
    k = _kv("llama-2-70b", "a100", dtype="fp16")
    assert k.max_concurrency == 0 and k.kv_capacity_tokens == 0 and k.notes
    d = k.to_dict()
    assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in d.values())


@settings(max_examples=25, deadline=None)
@given(i=st.integers(1, 32_000), o=st.integers(1, 8_000),
       engine=st.sampled_from(["vllm", "sglang", "tensorrt-llm", "llama-cpp"]))
def test_concurrency_fits_and_one_more_does_not(i, o, engine):
    k = _kv(i=i, o=o, engine=engine)
    assert k.max_concurrency * k.kv_bytes_per_request <= k.kv_capacity_bytes
    assert (k.max_concurrency + 1) * k.kv_bytes_per_request > k.kv_capacity_bytes
    assert k.kv_bytes_per_request >= (i + o) * k.kv_bytes_per_token  # whole blocks round up


@pytest.mark.parametrize("gpu", ["h100-sxm", "a100-sxm-80gb"])
def test_every_catalog_model_gives_a_finite_answer(gpu):
    from roofline.catalog import all_models
    from roofline.estimates.kv_capacity import kv_capacity_for

    for name in all_models():
        d = kv_capacity_for(setup(name, gpu, input_len=1024, output_len=256)).to_dict()
        assert isinstance(d["max_concurrency"], int) and d["max_concurrency"] >= 0, name
        assert d["kv_capacity_bytes"] >= 0 and d["kv_capacity_tokens"] % d["block_size"] == 0, name
        assert all(math.isfinite(v) for v in (d["kv_capacity_bytes"], d["weights_bytes"], d["memory_fraction"])), name
