"""Pipeline and data parallelism in the serving simulator: pp batches in flight on shared stages,
every data-parallel replica simulated."""

import json
import math

import pytest

import roofline
from roofline.serving import simulate
from roofline.serving.pipeline import Stages
from roofline.serving.replicas import deal, merge_steps
from roofline.serving.scheduler import Overheads
from roofline.serving.simulation import prepare

NO_OVERHEAD = Overheads(0.0, 0.0)


def test_stages_are_a_flow_shop_by_hand():
    # two stages of 1 s and 3 s, hand-over 0.5 s; batches A and B both ready at t = 0:
    # A: stage 0 [0, 1], hand-over to 1.5, stage 1 [1.5, 4.5]
    # B: stage 0 [1, 2] (after A), hand-over to 2.5, stage 1 waits for A: [4.5, 7.5]
    # A again at 4.5: stage 0 free since 2 → [4.5, 5.5], stage 1 after B: [7.5, 10.5]
    st = Stages(2)
    assert st.run(0.0, [1.0, 3.0], 0.5) == 4.5
    assert st.run(0.0, [1.0, 3.0], 0.5) == 7.5
    assert st.run(4.5, [1.0, 3.0], 0.5) == 10.5


def test_stage_split_is_the_estimates_pipeline_schedule():
    # a pure decode step of 32 sequences at context 129, split over 2 stages, is the static
    # estimate's stage times for a micro-batch of 32 (batch 64 in 2 micro-batches)
    for model, gpu, kw in [("llama-3.1-8b", "h100", {"pp": 2}), ("llama-3.1-70b", "h100", {"tp": 2, "pp": 4})]:
        *_, pred = prepare(model, gpu, "vllm", kw)
        pp = kw["pp"]
        est = roofline.estimate(model, gpu, batch_size=32 * pp, input_len=128, output_len=2, **kw).pipeline["decode"]
        stage_s, send_s = pred.stages(pred.decode_step(32, 129), 32, 32)
        assert stage_s == pytest.approx(est["stage_time_s"], rel=1e-9)
        assert send_s == pytest.approx(est["send_s"], rel=1e-9)


def test_pipelined_decode_by_hand():
    # Llama-3.1-8B bf16 on two H100s, ideal roofs, one request per stage's virtual engine.
    # Layer weights: 8,030,261,248 − 2 × 525,336,576 (embedding, lm_head) = 6,979,588,096 params,
    # 16 layers per stage: 3,489,794,048 × 2 B / 3.35 TB/s = 2.0834 ms; the last stage also streams
    # lm_head, 525,336,576 × 2 B / 3.35 TB/s = 0.3136 ms → 2.3970 ms. Each of the two batches comes
    # round every max(2 × 2.3970, 2.0834 + 2.3970 + hand-over) = 4.794 ms (the busiest stage twice),
    # against 4.481 ms for one batch on one GPU: a pipeline makes room, not speed.
    r = simulate("llama-3.1-8b", "h100", num_prompts=2, input_len=16, output_len=64, overheads=NO_OVERHEAD, pp=2,
                 ideal=True).to_dict()
    assert r["tpot_s"]["mean"] == pytest.approx(2 * 2.3970e-3, rel=0.005)


@pytest.mark.parametrize("pp", [2, 4])
def test_pipelined_throughput_matches_the_static_estimate(pp):
    # 64 requests offline: pp virtual engines of 64 / pp decode in turn, as the estimate's pp micro-batches
    kw = dict(input_len=128, output_len=256, pp=pp)
    r = simulate("llama-3.1-8b", "h100", num_prompts=64, overheads=NO_OVERHEAD, **kw)
    est = roofline.estimate("llama-3.1-8b", "h100", batch_size=64, **kw)
    assert r.output_tokens_per_s == pytest.approx(est.output_tokens_per_s, rel=0.01)
    assert r.to_dict()["tpot_s"]["mean"] == pytest.approx(est.tpot_s, rel=0.02)
    assert not any("pipeline" in n for n in r.notes)


def test_pipeline_overlap_raises_throughput_over_a_serial_pass():
    # compute-bound prefill-heavy load: with pp batches in flight the stages work at once, so a
    # 4-stage pipeline of 70B serves far more than the one-batch-at-a-time pass (≈ one stage's worth)
    kw = dict(input_len=2048, output_len=16, num_prompts=64, overheads=NO_OVERHEAD, tp=2, pp=4)
    r = simulate("llama-3.1-70b", "h100", **kw)
    serial = simulate("llama-3.1-70b", "h100", max_concurrency=1, **kw)
    assert r.requests_per_s > 3 * serial.requests_per_s


def test_deal_round_robin_and_concurrency_shares():
    units = deal(10, 2, 2, None)
    assert [(r, v, list(i)) for r, v, i, _ in units] == [(0, 0, [0, 4, 8]), (1, 0, [1, 5, 9]), (0, 1, [2, 6]),
                                                         (1, 1, [3, 7])]
    # 5 in flight over 4 units: 2, 1, 1, 1; 3 in flight: the first three units, one each
    assert [lim for *_, lim in deal(100, 2, 2, 5)] == [2, 1, 1, 1]
    assert [(r, v, lim) for r, v, _, lim in deal(100, 4, 1, 3)] == [(0, 0, 1), (1, 0, 1), (2, 0, 1)]


def test_merged_timeline_sums_units():
    a = [(1.0, 4, 0, 4, 0, 0.2, 1), (3.0, 4, 0, 4, 1, 0.4, 1)]
    b = [(2.0, 2, 0, 2, 2, 0.6, 1)]
    m = merge_steps([a, b])
    # at t=1 only a has a record (b counts nothing yet); at 2: a's 4 + b's 2; at 3: 4 + 2, queue 1 + 2
    assert [r[0] for r in m] == [1.0, 2.0, 3.0]
    assert [r[3] for r in m] == [4, 6, 6] and [r[4] for r in m] == [0, 2, 3]
    assert [r[5] for r in m] == pytest.approx([0.1, 0.4, 0.5])


def test_every_data_parallel_replica_is_simulated(tmp_path):
    # alternate short and long prompts: round-robin over 2 replicas gives replica 0 every short one
    # and replica 1 every long one; the tails must be the long prompts'
    lines = [{"input_len": 64 if i % 2 == 0 else 8000, "output_len": 32} for i in range(40)]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    kw = dict(dataset=str(path), request_rate=4.0, overheads=NO_OVERHEAD)
    two = simulate("llama-3.1-8b", "h100", dp=2, **kw).to_dict()
    assert two["num_requests"] == 40 and two["input_tokens"] == 20 * 64 + 20 * 8000
    long_prefill = roofline.estimate("llama-3.1-8b", "h100", batch_size=1, input_len=8000, output_len=32).ttft_s
    short_prefill = roofline.estimate("llama-3.1-8b", "h100", batch_size=1, input_len=64, output_len=32).ttft_s
    assert two["ttft_s"]["p99"] >= 0.99 * long_prefill  # the long prompts' replica is in the tail
    assert short_prefill < 0.1 * long_prefill  # replica 0 alone (every short prompt) has no such tail


def test_data_parallel_offline_doubles_throughput_and_sums_batches():
    kw = dict(input_len=256, output_len=64, overheads=NO_OVERHEAD)
    one = simulate("llama-3.1-8b", "h100", num_prompts=100, **kw).to_dict()
    two = simulate("llama-3.1-8b", "h100", num_prompts=200, dp=2, **kw).to_dict()
    assert two["throughput"]["output_tokens_per_s"] == pytest.approx(2 * one["throughput"]["output_tokens_per_s"],
                                                                     rel=1e-9)
    assert two["ttft_s"] == pytest.approx(one["ttft_s"], rel=1e-9)
    assert two["batch_size"]["max"] == 2 * one["batch_size"]["max"]
    assert two["num_requests"] == 200 and not math.isnan(two["kv_cache"]["peak_usage"])


@pytest.mark.parametrize("model, gpu, kw", [("llama-3.1-8b", "h100", {}), ("gpt-oss-120b", "h200", {"weight_dtype": "mxfp4"}),
                                            ("gemma-2-9b", "l40s", {}), ("llama-3.1-70b", "h100", {"tp": 2, "pp": 2})])
def test_a_pure_prefill_step_is_the_estimates_ttft(model, gpu, kw):
    # one prompt of L tokens in one eager step (no cached prefix) is the estimate's TTFT for batch 1
    *_, pred = prepare(model, gpu, "vllm", kw)
    for L in (100, 1500):
        pairs, prior = pred.chunk_work(0, L)
        step = pred.step_time(0, {}, L, pairs, prior, rows=1, eager=True)
        est = roofline.estimate(model, gpu, batch_size=1, input_len=L, output_len=1, **kw)
        assert step == pytest.approx(est.ttft_s, rel=1e-9)


def test_a_pure_prefill_by_hand():
    # Llama-3.1-8B bf16 on an H100 at ideal roofs, one prompt of 2048 tokens: compute-bound.
    # FLOPs: 2 × 2048 × 6,979,588,096 layer params + lm_head for one row 2 × 4096 × 128,256
    # + attention 32 layers × 4 × 4096 (32 heads × 128) × (2048 × 2049 / 2 pairs)
    # = 2.85884e13 + 1.0507e9 + 1.1003e12 = 2.96898e13 FLOP at 989 TFLOP/s dense bf16 → 30.02 ms
    *_, pred = prepare("llama-3.1-8b", "h100", "vllm", {"ideal": True})
    pairs, prior = pred.chunk_work(0, 2048)
    step = pred.step_time(0, {}, 2048, pairs, prior, rows=1, eager=True)
    assert step == pytest.approx(2.96898e13 / 989e12, rel=0.02)


@pytest.mark.parametrize("kw", [dict(pp=2, request_rate=20.0, num_prompts=300),
                                dict(pp=4, max_concurrency=32, num_prompts=200, random_range_ratio=0.5),
                                dict(pp=2, dp=2, request_rate=30.0, num_prompts=200, engine="sglang"),
                                dict(pp=2, request_rate=10.0, num_prompts=150, engine="trtllm", random_prefix_len=300)])
def test_pipelined_decode_runs_equal_stepping_one_at_a_time(kw, monkeypatch):
    import numpy as np

    import roofline.serving.pipeline as pipeline

    kw = dict(input_len=512, output_len=128, **kw)
    joint = simulate("llama-3.1-8b", "h100", **kw)
    monkeypatch.setattr(pipeline, "joint_decode", lambda engines, heap: False)
    stepped = simulate("llama-3.1-8b", "h100", **kw)
    for f in ("ttft", "tpot", "e2e"):
        assert np.array_equal(getattr(joint, f), getattr(stepped, f))
    assert np.sum(joint.itl[0] * joint.itl[1]) == pytest.approx(np.sum(stepped.itl[0] * stepped.itl[1]), rel=1e-12)
    assert joint.to_dict()["steps"] == stepped.to_dict()["steps"]
