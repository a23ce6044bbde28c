"""The serving simulator: physical properties of continuous batching, determinism, the step-time
predictor against hand calculations, and the JSON contract."""

import math

import numpy as np
import pytest

import roofline
from roofline.serving import simulate
from roofline.serving.scheduler import Overheads
from roofline.serving.simulation import prepare

NO_OVERHEAD = Overheads(0.0, 0.0)
BASE = dict(input_len=512, output_len=64, overheads=NO_OVERHEAD)


def test_ideal_decode_step_is_weights_over_bandwidth():
    # Llama-3.1-8B in bf16: 8,030,261,248 params, of which the 128,256 × 4,096 input embedding is
    # only gathered (one row per token), so a decode step streams (8,030,261,248 − 525,336,576) × 2 B
    # = 15.01 GB; H100 SXM HBM3 3.35 TB/s → 4.481 ms. One token of context adds ~0.1 MB.
    *_, pred = prepare("llama-3.1-8b", "h100", "vllm", {"ideal": True})
    assert pred.decode_step(1, 1) == pytest.approx((8_030_261_248 - 128_256 * 4096) * 2 / 3.35e12, rel=0.002)


def test_predictor_matches_the_static_estimate():
    # a pure decode step of b sequences at context L + 1 is the estimate's decode step (TPOT at output 2)
    for model, gpu, kw in [("llama-3.1-8b", "h100", {}), ("gpt-oss-120b", "h200", {"weight_dtype": "mxfp4"}),
                           ("mixtral-8x7b", "a100", {"tp": 2})]:
        s, cfg, kv, how, pred = prepare(model, gpu, "vllm", kw)
        for b, L in [(1, 100), (32, 2000)]:
            est = roofline.estimate(model, gpu, batch_size=b, input_len=L, output_len=2, **kw)
            assert pred.decode_step(b, L + 1) == pytest.approx(est.tpot_s, rel=1e-9)


def test_throughput_rises_with_concurrency_until_the_kv_cache_saturates():
    # 0.3 × 80 GB leaves ~6.5 GB of KV: ~50k tokens, about 85 requests of 512 + 64 tokens
    kw = dict(BASE, gpu_memory_utilization=0.3)
    tput = {}
    for c in (1, 4, 16, 64, 256, 512):
        r = simulate("llama-3.1-8b", "h100", num_prompts=4 * c if c < 256 else 1024, max_concurrency=c, **kw)
        tput[c] = r.output_tokens_per_s
        assert r.to_dict()["kv_cache"]["peak_usage"] <= 1.0
    assert tput[1] < tput[4] < tput[16] < tput[64]
    assert tput[4] > 3 * tput[1]  # decode is memory-bound: a batch rides the same weight stream
    assert tput[512] == pytest.approx(tput[256], rel=0.1)  # saturated: the cache holds ~85 requests


def test_ttft_grows_without_bound_past_capacity():
    offline = simulate("llama-3.1-8b", "h100", num_prompts=400, request_rate=math.inf, **BASE)
    capacity = offline.requests_per_s
    p99 = {}
    for n in (200, 400, 800):
        over = simulate("llama-3.1-8b", "h100", num_prompts=n, request_rate=2 * capacity, **BASE)
        under = simulate("llama-3.1-8b", "h100", num_prompts=n, request_rate=0.3 * capacity, **BASE)
        p99[n] = (over.to_dict()["ttft_s"]["p99"], under.to_dict()["ttft_s"]["p99"])
    # past capacity the queue grows with every request: p99 TTFT roughly doubles with the run length
    assert p99[400][0] > 1.6 * p99[200][0] and p99[800][0] > 1.6 * p99[400][0]
    # below capacity it stays put
    assert p99[800][1] < 2 * p99[200][1]
    assert p99[800][1] < 0.05 * p99[800][0]


def test_offline_long_outputs_approach_the_static_decode_estimate():
    # all requests at once, 128 in / 2048 out: the engine runs about as many sequences as the KV cache holds
    r = simulate("llama-3.1-8b", "h100", num_prompts=1500, request_rate=math.inf, input_len=128, output_len=2048,
                 overheads=NO_OVERHEAD, max_num_seqs=1024)
    d = r.to_dict()
    per_seq = 128 + 2048
    batch = min(d["kv_cache"]["capacity_tokens"] // per_seq, 1024)
    est = roofline.estimate("llama-3.1-8b", "h100", batch_size=batch, input_len=128, output_len=2048)
    assert d["output_tokens"] == 1500 * 2048
    assert 0.75 < r.output_tokens_per_s / est.output_tokens_per_s < 1.1


def test_same_seed_same_result_and_other_seeds_differ():
    kw = dict(BASE, num_prompts=300, request_rate=20.0, random_range_ratio=0.5)
    a = simulate("llama-3.1-8b", "h100", seed=7, **kw).to_dict()
    b = simulate("llama-3.1-8b", "h100", seed=7, **kw).to_dict()
    c = simulate("llama-3.1-8b", "h100", seed=8, **kw).to_dict()
    assert a == b
    assert a["ttft_s"] != c["ttft_s"]
    assert 0.5 * 512 <= a["workload"]["mean_input_len"] <= 512


def test_prefix_cache_hit_rate_zero_changes_nothing_and_hits_cut_ttft():
    kw = dict(BASE, num_prompts=300, request_rate=30.0, input_len=2048)
    base = simulate("llama-3.1-8b", "h100", **kw).to_dict()
    zero = simulate("llama-3.1-8b", "h100", prefix_cache_hit_rate=0.0, **kw).to_dict()
    half = simulate("llama-3.1-8b", "h100", prefix_cache_hit_rate=0.5, **kw).to_dict()
    assert base == zero
    assert half["ttft_s"]["mean"] < base["ttft_s"]["mean"]


@pytest.mark.parametrize("rate", [2.0, 5.0, 6.0, 8.0])
def test_disaggregation_with_a_free_link_is_never_slower_on_ttft(rate):
    kw = dict(num_prompts=200, input_len=2048, output_len=128, request_rate=rate, tp=4, overheads=NO_OVERHEAD)
    dis = simulate("llama-3.1-70b", "h100", disaggregate="1P1D", kv_transfer_bandwidth=math.inf, **kw).to_dict()
    agg = simulate("llama-3.1-70b", "h100", **kw).to_dict()  # one instance: the same prefill GPUs
    # prompts never wait behind decodes: the mean and median first token come no later; the tails
    # may differ by a few percent through which prompts happen to share a step
    for q in ("mean", "p50"):
        assert dis["ttft_s"][q] <= agg["ttft_s"][q]
    for q in ("p90", "p99"):
        assert dis["ttft_s"][q] <= 1.05 * agg["ttft_s"][q]
    assert dis["deployment"]["num_gpus"] == 8 and dis["disaggregated"]["aggregated"]["deployment"]["num_gpus"] == 8


def test_json_contract_and_units():
    d = simulate("llama-3.1-8b", "h100", num_prompts=100, request_rate=10.0, ttft_slo=0.5, tpot_slo=0.05, **BASE).to_dict()
    for key in ("output_tokens_per_s", "requests_per_s", "output_tokens_per_s_per_gpu", "output_tokens_per_s_per_user"):
        assert d["throughput"][key] > 0
    for metric in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        s = d[metric]
        assert 0 < s["p50"] <= s["p90"] <= s["p99"]
    assert d["goodput"]["fraction"] == 1.0 and d["goodput"]["requests_meeting_slo"] == 100
    assert d["num_requests"] == 100 and d["output_tokens"] == 6400 and d["input_tokens"] == 51200
    assert len(d["timeline"]["time_s"]) <= 200
    # 100 requests over ~10 s at 10 req/s: throughput follows the arrivals
    assert d["throughput"]["requests_per_s"] == pytest.approx(10, rel=0.25)


def test_a_request_larger_than_the_cache_is_a_result():
    r = simulate("llama-3.1-8b", "h100", num_prompts=2, input_len=100_000, output_len=10, gpu_memory_utilization=0.25,
                 overheads=NO_OVERHEAD).to_dict()
    assert r["kv_cache"]["fits"] is False and "does not fit" in r["notes"][0]
    assert r["num_requests"] == 0 and r["ttft_s"]["p50"] is None


def test_engine_profiles_cite_their_defaults():
    s, cfg, *_ = prepare("llama-3.1-8b", "h100", "vllm", {})
    assert (cfg.max_num_batched_tokens, cfg.max_num_seqs, cfg.block_size) == (8192, 1024, 16)
    s, cfg, *_ = prepare("llama-3.1-8b", "a100", "vllm", {})
    assert (cfg.max_num_batched_tokens, cfg.max_num_seqs) == (2048, 256)  # A100 takes the small branch
    s, cfg, *_ = prepare("llama-3.1-8b", "h100", "sglang", {})
    # SGLang 0.5.5 on an 80 GiB card at TP1: reserved 512 + 1.5 × 8192 + 2 × 256 + 128 MiB = 13,440 MiB,
    # the 10 GiB floor does not bind; h100-sxm reports 81,559 MiB → (81,559 − 13,440) / 81,559 = 0.835
    assert cfg.memory_fraction == 0.835
    s, cfg, *_ = prepare("llama-3.1-8b", "h100", "trtllm", {})
    assert (cfg.max_num_batched_tokens, cfg.max_num_seqs, cfg.block_size, cfg.chunked_prefill) == (8192, 2048, 32, False)
    for c in ("vllm", "sglang", "trtllm", "tensorrt-llm"):
        assert all("@" in v or "TensorRT-LLM" in v for v in prepare("llama-3.1-8b", "h100", c, {})[1].sources.values())


def test_engines_differ_where_their_schedulers_do():
    kw = dict(BASE, num_prompts=200, request_rate=40.0)
    v = simulate("llama-3.1-8b", "h100", engine="vllm", **kw).to_dict()
    s = simulate("llama-3.1-8b", "h100", engine="sglang", **kw).to_dict()
    # SGLang pauses decodes for prefill-only steps: its inter-token latency spikes more
    assert s["itl_s"]["p99"] > v["itl_s"]["p99"]
    assert np.isfinite(v["tpot_s"]["mean"]) and np.isfinite(s["tpot_s"]["mean"])


def _cli(*args):
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("roofline"))
    return subprocess.run([exe, "simulate", "llama-3.1-8b", "--gpu", "h100", *args], capture_output=True, text=True)


@pytest.mark.parametrize("args, message", [
    (["--input-len", "100", "--output-len", "10", "--request-rate", "-1"], "--request-rate must be positive"),
    (["--ttft-slo", "0.5"], "--ttft-slo/--tpot-slo need a workload"),
    (["--input-len", "100", "--output-len", "10", "--ttft-slo", "-2"], "--ttft-slo must be a positive"),
    (["--input-len", "100", "--output-len", "10", "--engine", "tgi"], "unknown engine 'tgi'"),
    (["--input-len", "100", "--output-len", "10", "--disaggregate", "2x3"], "--disaggregate takes xPyD"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    p = _cli(*args)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and message in p.stderr


def test_bad_datasets_name_the_line(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input_len": 10, "output_len": 5}\n{"input_len": 10, "output_len": 0}\n')
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"input_len": 10, "output_len": 5}\n\n{"input_len": 10,\n')
    nan = tmp_path / "nan.jsonl"
    nan.write_text('{"input_len": Infinity, "output_len": 5}\n')
    for path, message in [(empty, "is empty"), (bad, "dataset line 2: output_len must be a whole number"),
                          (broken, "dataset line 3: malformed JSON"), (nan, "dataset line 1: Infinity is not a number"),
                          (tmp_path / "none.jsonl", "is not a file")]:
        p = _cli("--dataset", str(path))
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and message in p.stderr, p.stderr


def test_dataset_with_arrival_times_and_json_output(tmp_path):
    import json

    f = tmp_path / "reqs.jsonl"
    f.write_text("".join(json.dumps({"input_len": 200 + i, "output_len": 20, "arrival_time": 0.5 * i}) + "\n" for i in range(10)))
    p = _cli("--dataset", str(f), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["num_requests"] == 10 and d["output_tokens"] == 200 and d["input_tokens"] == sum(200 + i for i in range(10))
    # requests 0.5 s apart, each served in well under 0.5 s: the run lasts ~4.5 s plus the last request
    assert 4.5 < d["duration_s"] < 5.0


def test_scalar_shortcuts_agree_with_the_array_forms():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from roofline.cost.context import attended_sum

    *_, kv, _how, pred = prepare("gpt-oss-120b", "h200", "vllm", {"weight_dtype": "mxfp4"})  # global + 128-token windows
    *_, kv8, _h8, pred8 = prepare("llama-3.1-8b", "h100", "vllm", {})

    @settings(max_examples=60, deadline=None)
    @given(st.integers(0, 200_000), st.integers(1, 20_000))
    def check(start, tokens):
        for cache in (kv, kv8):
            assert cache.bytes_for_one(start + tokens) == pytest.approx(float(cache.bytes_for(start + tokens)), rel=1e-12)
        for p in (pred, pred8):
            pairs, prior = p.chunk_work(start, tokens)
            for a in p.attention:
                exact = float(attended_sum(start + tokens, a.layer) - attended_sum(start, a.layer))
                assert pairs[a.window] == pytest.approx(exact, rel=1e-12)
                assert prior[a.window] == min(start, a.window)

    check()
