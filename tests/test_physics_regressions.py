"""Golden values worked out by hand from the models' published configs, one per piece of physics that
a careless edit could break (benchmarks/mutations.py breaks each on purpose; every one must fail
here). Expected numbers are written out from the config, never taken from the tool's output."""

import pytest

import roofline
from roofline.catalog import get_gpu, get_model
from roofline.catalog.factors import factor
from roofline.cost.graph import step_ops
from roofline.specs.parallel import Parallel
from roofline.specs.precision import resolve_precision

A100 = get_gpu("a100")


def _ops(model: str, phase: str, batch: int, input_len: int, output_len: int = 1, par: Parallel = Parallel()):
    return step_ops(get_model(model), resolve_precision(A100), par, phase, batch, input_len, output_len)


def test_sliding_window_bounds_prefill_attention():
    # Mistral-7B: 32 heads × 128, sliding window 4096, prompt 8192. Position p sees min(p, 4096) keys:
    # S = 4096·4097/2 + (8192 − 4096)·4096 = 8,390,656 + 16,777,216 = 25,167,872 (query, key) pairs.
    # FLOPs per layer = 2 × pairs × heads × (d_k + d_v) = 2 × 25,167,872 × 32 × 256 = 412,350,414,848
    # (a global layer would be 2 × 8192·8193/2 × 32 × 256 = 549,789,368,320).
    (attn,) = [o for o in _ops("mistral-7b", "prefill", 1, 8192) if o.unit == "attention"]
    assert attn.flops == 412_350_414_848 and attn.count == 32


def test_chunked_attention_stays_inside_its_chunk():
    # Llama-4-Scout: 40 heads × 128, 36 chunked layers (chunk 8192) and 12 global ones; prompt 16384 = 2 chunks.
    # chunked: 2 × 8192·8193/2 = 67,117,056 pairs → 2 × 67,117,056 × 40 × 256 = 1,374,557,306,880 FLOPs per layer
    # global: 16384·16385/2 = 134,225,920 pairs → 2 × 134,225,920 × 40 × 256 = 2,748,946,841,600
    attn = {o.group: o for o in _ops("llama-4-scout", "prefill", 1, 16384) if o.unit == "attention"}
    assert attn["chunked-8192+moe"].flops == 1_374_557_306_880 and attn["chunked-8192+moe"].count == 36
    assert attn["global+moe"].flops == 2_748_946_841_600 and attn["global+moe"].count == 12


def test_decode_attends_to_the_prompt_and_the_new_token():
    # Llama-2-7B, prompt 1000, 2 output tokens: the first comes from the prefill, the one decode step runs at
    # position 1001 and attends 1001 keys: 2 × 1001 × 32 heads × (128 + 128) = 16,400,384 FLOPs per layer, × 32
    e = roofline.estimate("llama-2-7b", "a100", input_len=1000, output_len=2)
    (row,) = [o for o in e.ops if o.phase == "decode" and o.name == "attention"]
    assert row.flops == 32 * 16_400_384


def test_prefill_lm_head_runs_on_the_last_position_only():
    # one logits row per sequence: 2 × 1 × 4096 × 32000 = 262,144,000 FLOPs (not × 2048 prompt tokens)
    e = roofline.estimate("llama-2-7b", "a100", input_len=2048, output_len=1)
    (row,) = [o for o in e.ops if o.phase == "prefill" and o.name == "lm_head"]
    assert row.flops == 262_144_000


def test_shared_experts_are_computed():
    # DeepSeek-V2-Lite: d = 2048, 2 shared experts of 1408 = 2816 wide, gated, on the 26 MoE layers; 1024 tokens:
    # gate+up 2 × 1024 × 2048 × 5632 = 23,622,320,128, down 2 × 1024 × 2816 × 2048 = 11,811,160,064
    shared = [o for o in _ops("deepseek-v2-lite", "prefill", 1, 1024) if o.name.startswith("shared_expert") and o.unit == "gemm"]
    assert sum(o.flops for o in shared) == 35_433_480_192 and {o.count for o in shared} == {26}


def test_deepseek_v2_lite_weights_include_shared_experts():
    # bf16 weights = 2 B × 15,706,484,224 parameters (the HF checkpoint's count), by hand:
    # embedding + lm_head 2 × 102,400 × 2048 = 419,430,400
    # 27 × attention (MLA, no q LoRA): q 2048·16·192 = 6,291,456 + kv_a 2048·(512+64) = 1,179,648 + kv norm 512
    #      + kv_b 512·16·(128+128) = 2,097,152 + o 16·128·2048 = 4,194,304, + 2 norms of 2048 → 13,767,168 each
    # 1 dense MLP 3 × 2048 × 10944 = 67,239,936
    # 26 × (router 64·2048 = 131,072 + 64 experts × 3 × 2048 × 1408 = 553,648,128 + shared 3 × 2048 × 2816 = 17,301,504)
    # + final norm 2048 → 15,706,484,224
    e = roofline.estimate("deepseek-v2-lite", "a100")
    assert e.memory.weights_bytes == 2 * 15_706_484_224


def test_tied_lm_head_is_stored_once():
    # Gemma-2-9B ties lm_head to the embedding: 256,000 × 3584 = 917,504,000 once, + 42 layers × (attention
    # 3584·4096 + 2·3584·2048 + 4096·3584 = 44,040,192 + MLP 3 × 3584 × 14336 = 154,140,672 + 4 norms × 3584)
    # + final norm 3584 = 9,241,705,984 parameters → 18,483,411,968 B in bf16
    e = roofline.estimate("gemma-2-9b", "a100")
    assert e.memory.weights_bytes == 18_483_411_968


def test_pipeline_kv_share_rounds_up():
    # Llama-2-7B over pp = 3: 32 layers → stages of 11, 11, 10; the fullest holds 11 layers of KV:
    # 11 × 2 (K, V) × 32 heads × 128 × 2 B = 180,224 B per token × 1280 tokens = 230,686,720 B
    e = roofline.estimate("llama-2-7b", "a100", pp=3, input_len=1024, output_len=256)
    assert e.memory.kv_cache_bytes == 230_686_720


def test_activation_memory_counts_the_fp32_logits():
    # Llama-2-7B, 1 × 1024 tokens: T·(2d + widest)·2 B with widest = max(QKV+out 4·4096 = 16,384, MLP 3·11008 = 33,024)
    # = 1024 × (8192 + 33,024) × 2 = 84,410,368, + fp32 logits of the last position 32,000 × 4 = 128,000
    e = roofline.estimate("llama-2-7b", "a100")
    assert e.memory.activation_bytes == 84_538_368


def test_expert_parallel_all_to_all_moves_each_routed_token_once():
    # Mixtral-8x7B, dp = ep = 2, decode batch 8: each GPU dispatches its 8 tokens × top-2 × 4096 × 2 B = 131,072 B
    # and gets the same back in the combine
    comm = {o.name: o.comm for o in _ops("mixtral-8x7b", "decode", 8, 1024, 256, Parallel(dp=2, ep=2)) if o.unit == "comm"}
    assert comm == {"ep_dispatch": 131_072, "ep_combine": 131_072}


def test_kernel_launches_and_the_eager_prefill():
    # Llama-2-7B launches per layer: 2 norms (residual adds fused) + QKV GEMM + rotary/KV write + attention + O GEMM
    # + gate/up GEMM + activation + down GEMM = 9; × 32 layers + embedding + final norm + lm_head + 2 sampling = 293.
    # Decode replays a CUDA graph: 293 × kernel_overhead_s. Prefill launches from the host: each kernel also pays
    # eager_kernel_overhead_s.
    k, eager = A100.factors.kernel_overhead_s.value, factor("eager_kernel_overhead_s").value
    e = roofline.estimate("llama-2-7b", "a100")
    assert e.decode.overhead_s == pytest.approx(293 * k, rel=1e-9)
    assert e.prefill.overhead_s == pytest.approx(293 * (k + eager), rel=1e-9)


def test_speculative_verification_checks_k_plus_one_tokens():
    # Llama-2-7B, ideal, batch 256, n-gram drafts k = 4: the target verifies 5 tokens per sequence, T = 1280.
    # Compute-bound, so the step is its tensor FLOPs / 312e12:
    #   linear 2 × 1280 × 32 × 202,375,168 = 16,578,573,762,560; lm_head 2 × 1280 × 4096 × 32000 = 335,544,320,000
    #   attention at position 17 (prompt 16): 2 × (256 × 17 keys × 5 queries) × 32 × 256 × 32 layers = 11,408,506,880
    #   = 16,925,526,589,440 FLOPs → 54.248 ms
    e = roofline.estimate("llama-2-7b", "a100", batch_size=256, input_len=16, output_len=2, speculative_model="ngram",
                          num_speculative_tokens=4, acceptance_rate=0.5, ideal=True)
    assert e.speculative["verify_step_s"] == pytest.approx(16_925_526_589_440 / 312e12, rel=1e-9)


def test_every_mutation_still_applies():
    # benchmarks/mutations.py patches exact source text; when the code moves, the mutation must move with it
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("mutations", root / "benchmarks" / "mutations.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutations", mod)  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    for m in mod.MUTATIONS:
        assert (root / m.file).read_text().count(m.old) == m.count, m.name
