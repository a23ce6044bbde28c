"""`--ideal` is the physical limit of a phase: everything fused and overlapped (issue 8, section 3)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roofline
from roofline.catalog.models import all_models
from roofline.cost.ops import Op
from roofline.estimates.timing import OpTime, StepTime


def test_limit_is_max_of_summed_resources_not_sum_of_per_op_maxima():
    # Hand calculation. Roofs: GEMM 1e15 FLOP/s, attention 0.5e15 FLOP/s, bandwidth 2e12 B/s.
    #   GEMM:      2e12 FLOP / 1e15    = 2.0 ms compute; 1e9 B / 2e12 = 0.5 ms memory -> 2.0 ms alone
    #   attention: 0.25e12 FLOP / 0.5e15 = 0.5 ms compute; 3e9 B / 2e12 = 1.5 ms memory -> 1.5 ms alone
    # per-operator sum = 2.0 + 1.5 = 3.5 ms
    # limit = max(tensor 2.0 + 0.5 = 2.5 ms, memory 0.5 + 1.5 = 2.0 ms) = 2.5 ms
    gemm = Op("qkv", "gemm", 2e12, 1e9)
    attn = Op("attention", "attention", 0.25e12, 3e9)
    unfused = [OpTime(gemm, 2e-3, 0.5e-3, 0.0, 0.0), OpTime(attn, 0.5e-3, 1.5e-3, 0.0, 0.0)]
    fused = [OpTime(gemm, 2e-3, 0.5e-3, 0.0, 0.0, fused=True), OpTime(attn, 0.5e-3, 1.5e-3, 0.0, 0.0, fused=True)]
    a, b = StepTime(unfused), StepTime(fused)
    assert a.op_sum_time == pytest.approx(3.5e-3) and a.time == pytest.approx(3.5e-3)
    assert a.limit_time == pytest.approx(2.5e-3)
    assert b.time == pytest.approx(2.5e-3) and b.op_sum_time == pytest.approx(3.5e-3)
    assert b.compute_bound_time == pytest.approx(2.5e-3) and b.memory_bound_time == 0


def test_vector_alus_overlap_with_tensor_cores_and_links_with_both():
    # GEMM 1 ms compute, a norm 0.4 ms on the vector ALUs, 0.2 + 0.3 ms of memory, an all-reduce 0.7 ms:
    # limit = max(tensor 1.0, vector 0.4, memory 0.5, link 0.7) = 1.0 ms; per-op sum = 1.0 + 0.4 + 0.7 = 2.1 ms
    ops = [OpTime(Op("o", "gemm", 1.0, 1.0), 1e-3, 0.2e-3, 0.0, 0.0, fused=True),
           OpTime(Op("norm", "vector", 1.0, 1.0), 0.4e-3, 0.3e-3, 0.0, 0.0, fused=True),
           OpTime(Op("ar", "comm", 0.0, 0.0, comm=1.0, comm_kind="all_reduce"), 0.0, 0.0, 0.0, 0.7e-3, fused=True)]
    st_ = StepTime(ops)
    assert st_.time == pytest.approx(1.0e-3) and st_.op_sum_time == pytest.approx(2.1e-3)
    assert st_.comm_time == 0  # hidden under the GEMMs


@pytest.mark.parametrize("gpu", ["h100-sxm", "a100-sxm-80gb"])
def test_ideal_prefill_is_the_roofline_of_the_whole_phase_for_every_catalog_model(gpu):
    # the acceptance check: --ideal prefill ≤ max(FLOPs / peak, bytes / bandwidth) × 1.001 of the same
    # output, and ≤ the realistic estimate
    for name in all_models():
        i, r = roofline.estimate(name, gpu, ideal=True), roofline.estimate(name, gpu)
        bound = max(i.prefill.flops / i.gpu["peak_flops"], i.prefill.bytes / i.gpu["memory_bandwidth"])
        assert i.prefill.time_s <= bound * 1.001, name
        assert i.prefill.time_s <= r.prefill.time_s, name


def test_llama2_7b_prefill_limit_by_hand():
    # Llama-2-7B fp16 on A100 (312e12 FLOP/s, 2.039e12 B/s), 1 × 2048-token prompt, ideal. Compute-bound, so the
    # limit is the phase's tensor FLOPs / peak. Linear layers: 2 × tokens × params in the 32 layers' matrices
    # (4·4096² attention + 3·4096·11008 MLP = 202,375,168 per layer) + lm_head for the last token only:
    # 2 × 2048 × 32 × 202,375,168 + 2 × 1 × 4096 × 32000 = 26,527,384,059,904 + 262,144,000 FLOPs.
    # Attention (causal, 2048 × 2049 / 2 query-key pairs, QK and PV, 4 FLOPs per pair per head dim):
    # 4 × 32 layers × 4096 × 2048·2049/2 = 1,100,317,196,288 FLOPs. Total tensor FLOPs 27,627,963,400,192
    # -> 27.628e12 / 312e12 = 88.55 ms.
    e = roofline.estimate("llama-2-7b", "a100", dtype="fp16", input_len=2048, output_len=1, ideal=True)
    assert e.prefill.time_s == pytest.approx(27_627_963_400_192 / 312e12, rel=2e-3)


FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(name=st.sampled_from(["llama-2-7b", "llama-3-70b", "mixtral-8x7b", "deepseek-v2-lite", "gemma-2-9b",
                             "qwen3-30b-a3b", "gpt-oss-20b"]),
       gpu=st.sampled_from(["h100-sxm", "a100-sxm-80gb", "l40s", "mi300x", "h100-pcie"]),
       tp=st.sampled_from([1, 2, 4]), pp=st.sampled_from([1, 2]),
       batch=st.integers(1, 256), input_len=st.integers(1, 8192), output_len=st.integers(1, 512),
       weight=st.sampled_from([None, "int4", "fp8"]))
def test_ideal_is_never_above_any_realistic_estimate(name, gpu, tp, pp, batch, input_len, output_len, weight):
    kw = dict(tp=tp, pp=pp, batch_size=batch, input_len=input_len, output_len=output_len, weight_dtype=weight)
    try:
        r = roofline.estimate(name, gpu, **kw)
    except roofline.RooflineError:
        return  # a split the model cannot take
    i = roofline.estimate(name, gpu, ideal=True, **kw)
    assert i.ttft_s <= r.ttft_s * (1 + 1e-12)
    assert i.tpot_s <= r.tpot_s * (1 + 1e-12)
    assert i.e2e_latency_s <= r.e2e_latency_s * (1 + 1e-12)


def test_limit_working_names_both_figures():
    gemm = Op("qkv", "gemm", 2e12, 1e9)
    st_ = StepTime([OpTime(gemm, 2e-3, 0.5e-3, 1e-4, 0.0, fused=True)])
    from roofline.estimates.timing import describe_limit

    form, sub, res = describe_limit(st_)
    assert "max(" in form and "per-operator sum" in form and res == "2 ms" and "2.1 ms" in sub
