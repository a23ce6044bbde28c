"""Disaggregated serving: each pool with its own split, the KV transfer between them by hand, the
comparison with aggregated serving, and bad layouts (one line, exit 2)."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roofline.errors import RooflineError
from roofline.serving import simulate
from roofline.serving.scheduler import Overheads

NO_OVERHEAD = Overheads(0.0, 0.0, 0.0)
FREE = math.inf

# Llama-3.1-70B in bf16: 80 layers × 8 KV heads × 128 dims × (K and V) × 2 bytes = 327,680 B of KV per
# token, split over the KV heads: 81,920 B per GPU at tp=4, 163,840 B at tp=2. A 4096-token prompt
# (256 whole blocks of 16) holds 335,544,320 B per GPU at tp=4 and 671,088,640 B per GPU at tp=2.
KV_TP4 = 4096 * 327_680 // 4
KV_TP2 = 4096 * 327_680 // 2


def _disagg(**kw):
    base = dict(num_prompts=4, input_len=4096, output_len=8, request_rate=0.5, overheads=NO_OVERHEAD)
    return simulate("llama-3.1-70b", "h100", **{**base, **kw}).to_dict()


@pytest.mark.parametrize("pool_tp, seconds", [
    # equal splits: each of the 4 GPUs sends its own 335.5 MB shard on its own 50 GB/s NIC → 6.711 ms
    ((4, 4), KV_TP4 / 50e9),
    # tp 4 → 2: each of the 2 decode GPUs receives 671.1 MB (2 KV heads × 80 layers), from 4 senders;
    # the receiving NICs are the narrow side: 2 × 671.1 MB / (min(4, 2) × 50 GB/s) = 13.42 ms
    ((4, 2), 2 * KV_TP2 / (2 * 50e9)),
    # tp 2 → 4: the 4 decode GPUs receive 335.5 MB each = 1.342 GB in all, sent by only 2 GPUs: 13.42 ms
    ((2, 4), 4 * KV_TP4 / (2 * 50e9)),
])
def test_kv_transfer_between_splits_by_hand(pool_tp, seconds):
    tp_p, tp_d = pool_tp
    d = _disagg(prefill_gpus=4, decode_gpus=4, prefill_tp=tp_p, decode_tp=tp_d, kv_transfer_bandwidth=50e9)
    dis = d["disaggregated"]
    assert dis["kv_transfer_s"]["mean"] == pytest.approx(seconds, rel=1e-12)
    assert seconds == pytest.approx(0.006711 if tp_p == tp_d else 0.013422, rel=1e-3)
    assert (dis["prefill"]["instances"], dis["prefill"]["tp"], dis["prefill"]["num_gpus"]) == (4 // tp_p, tp_p, 4)
    assert (dis["decode"]["instances"], dis["decode"]["tp"], dis["decode"]["num_gpus"]) == (4 // tp_d, tp_d, 4)
    assert d["deployment"]["num_gpus"] == 8


def test_the_catalog_link_adds_its_latency_and_the_first_token_waits_for_the_cache():
    # H100's scale-out link is InfiniBand NDR: 50 GB/s per direction per GPU, 9.3 µs → 6.711 ms + 9.3 µs
    slow = _disagg(disaggregate="1P1D", tp=4)
    free = _disagg(disaggregate="1P1D", tp=4, kv_transfer_bandwidth=FREE)
    assert slow["disaggregated"]["link"] == "ib-ndr"
    t = KV_TP4 / 50e9 + 9.3e-6
    assert slow["disaggregated"]["kv_transfer_s"]["max"] == pytest.approx(t, rel=1e-9)
    # 4 prompts 2 s apart on idle instances: the prefill pool runs alike, so the first token of each
    # arrives exactly the transfer time later
    assert slow["ttft_s"]["mean"] - free["ttft_s"]["mean"] == pytest.approx(t, rel=1e-6)
    assert free["disaggregated"]["kv_transfer_s"]["mean"] == 0.0


def test_pools_get_their_own_kv_capacity():
    d = _disagg(prefill_gpus=8, decode_gpus=4, prefill_tp=8, decode_tp=2)
    p, q = d["disaggregated"]["prefill"], d["disaggregated"]["decode"]
    # 70B bf16 weights: ~141 GB; per GPU 17.6 GB at tp=8 and 70.6 GB at tp=2, so a tp=8 GPU keeps
    # far more room for KV and stores a quarter of the bytes per token (1 KV head, not 4)
    assert p["kv_capacity_tokens"] > 10 * q["kv_capacity_tokens"]
    assert (p["instances"], q["instances"]) == (1, 2)
    assert d["deployment"]["prefill_tp"] == 8 and d["deployment"]["decode_tp"] == 2
    a = d["disaggregated"]
    assert a["aggregated_equal_prefill_gpus"]["deployment"]["num_gpus"] == 8
    assert "prefill pool's 8 GPUs" in a["aggregated_equal_prefill_gpus"]["comparison"]
    # the same 12 GPUs hold no whole number of tp=8 instances; 6 instances of the decode split do
    assert a["aggregated"]["deployment"] == {"tp": 2, "pp": 1, "dp": 6, "ep": 1, "num_gpus": 12}


def test_single_token_requests_stay_on_the_prefill_pool():
    d = _disagg(disaggregate="1P1D", tp=4, output_len=1)
    assert d["disaggregated"]["kv_transfer_s"] == {"mean": 0.0, "max": 0.0}
    assert d["num_requests"] == 4 and d["output_tokens"] == 4


def test_the_prefill_pool_packs_its_budget_so_a_first_token_can_leave_one_step_later():
    # Why "never slower" holds up to one prefill step and no closer: 200 prompts of 256 tokens at
    # once, TensorRT-LLM (budget 8192, no chunking). The prefill instance packs 8192 / 256 = 32
    # prompts per step; the aggregated one, from its second step on, carries 32 decodes beside 31
    # prompts (7936 tokens) and its step is shorter. Prompt 100 leaves the prefill instance with the
    # 4th step (prompts 97-128); in the aggregated instance the 4th step ends with prompt 125, and
    # its 4 steps (1 × 32 prompts + 3 × 31 prompts and decodes) end before the 4 full ones.
    d = simulate("llama-3.1-8b", "h100", num_prompts=200, input_len=256, output_len=128, engine="trtllm",
                 disaggregate="1P1D", kv_transfer_bandwidth=FREE, overheads=NO_OVERHEAD).to_dict()
    agg, step = d["disaggregated"]["aggregated_equal_prefill_gpus"], d["disaggregated"]["prefill"]["longest_step_s"]
    assert agg["ttft_s"]["p50"] < d["ttft_s"]["p50"] <= agg["ttft_s"]["p50"] + step
    assert d["ttft_s"]["mean"] < agg["ttft_s"]["mean"]  # more prompts per second of GPU time on average
    # four full budget steps: 4 × 8192 tokens of compute-bound prefill ≈ the p50 first token
    assert d["ttft_s"]["p50"] == pytest.approx(4 * step, rel=0.01)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(engine=st.sampled_from(["vllm", "sglang", "trtllm"]), input_len=st.sampled_from([64, 300, 1000, 2048, 4000]),
       output_len=st.sampled_from([1, 2, 16, 128, 400]), rate=st.sampled_from([0.5, 2.0, 8.0, 30.0, math.inf]),
       x=st.integers(1, 3), y=st.integers(1, 3), tp=st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2)]),
       pp=st.sampled_from([1, 1, 2, 4]), ratio=st.sampled_from([1.0, 0.3]), n=st.integers(10, 150),
       seed=st.integers(0, 10_000))
def test_disaggregation_with_a_free_link_is_never_slower_on_ttft(engine, input_len, output_len, rate, x, y, tp, pp,
                                                                ratio, n, seed):
    """xPyD with a free link against aggregated serving on the prefill pool's GPUs (x instances of the
    same split, the same round-robin routing): taking the decodes off the prefill GPUs never delays a
    first token by more than the granularity of the prefill pool's steps (the test above). With
    pp > 1 a step is the whole pass of a batch through the stages, the activation hand-overs between
    them included (the step time prices the point-to-point sends), and the bound is the same."""
    d = simulate("llama-3.1-8b", "h100", num_prompts=n, input_len=input_len, output_len=output_len, request_rate=rate,
                 engine=engine, random_range_ratio=ratio, seed=seed, prefill_gpus=x * tp[0] * pp,
                 decode_gpus=y * tp[1] * pp, prefill_tp=tp[0], decode_tp=tp[1], pp=pp, kv_transfer_bandwidth=FREE,
                 overheads=NO_OVERHEAD).to_dict()
    agg = d["disaggregated"]["aggregated_equal_prefill_gpus"]
    assert agg["deployment"]["num_gpus"] == x * tp[0] * pp == d["disaggregated"]["prefill"]["num_gpus"]
    assert agg["deployment"]["pp"] == pp == d["disaggregated"]["prefill"]["pp"]
    assert agg["deployment"]["dp"] == x and agg["deployment"]["tp"] == tp[0]
    step = d["disaggregated"]["prefill"]["longest_step_s"]
    assert 0 < step < 5
    for q in ("mean", "p50", "p90", "p99"):
        assert d["ttft_s"][q] <= agg["ttft_s"][q] + step, q


def test_a_request_that_cannot_fit_is_a_result_that_says_why():
    # TensorRT-LLM does not chunk prompts by default: 9000 tokens never fit its 8192-token step
    d = simulate("llama-3.1-8b", "h100", num_prompts=3, input_len=9000, output_len=10, engine="trtllm",
                 disaggregate="1P1D").to_dict()
    assert d["kv_cache"]["fits"] is False and d["num_requests"] == 0 and d["ttft_s"]["p50"] is None
    assert d["notes"][0].startswith("does not fit: a prompt of 9000 tokens exceeds the prefill instances' token budget of 8192")
    # 100,000 tokens of Llama-3.1-8B KV: 32 layers × 8 KV heads × 128 × 2 (K, V) × 2 B = 131,072 B a
    # token → 13.1 GB, more than the 3.9 GB a quarter of the H100 leaves beside the 16.1 GB of weights
    d = simulate("llama-3.1-8b", "h100", num_prompts=3, input_len=100_000, output_len=10, gpu_memory_utilization=0.25,
                 disaggregate="1P1D").to_dict()
    assert d["notes"][0].startswith("does not fit: a request of 100000 + 10 tokens needs 13.1 GB of KV cache per GPU "
                                    "on the prefill instances")


def test_the_python_api_refuses_impossible_pools():
    with pytest.raises(RooflineError, match="not a whole number of instances of tp=4"):
        _disagg(prefill_gpus=6, decode_gpus=4, tp=4)
    with pytest.raises(RooflineError, match=r"decode pool \(tp=3\): tensor-parallel size 3 does not divide"):
        _disagg(prefill_gpus=4, decode_gpus=3, decode_tp=3)


def _cli(*args):
    exe = str(Path(sys.executable).with_name("roofline"))
    base = ["simulate", "llama-3.1-8b", "--gpu", "h100", "--input-len", "100", "--output-len", "10", "--num-prompts", "5"]
    return subprocess.run([exe, *base, *args], capture_output=True, text=True)


@pytest.mark.parametrize("args, message", [
    (["--prefill-gpus", "6", "--decode-gpus", "4", "-tp", "4"],
     "--prefill-gpus 6 is not a whole number of instances of tp=4 (4 GPUs each)"),
    (["--prefill-gpus", "3", "--decode-gpus", "3", "--prefill-tp", "3"],
     "prefill pool (tp=3): tensor-parallel size 3 does not divide llama-3.1-8b's 32 attention heads"),
    (["--disaggregate", "1P1D", "--prefill-gpus", "1", "--decode-gpus", "1"],
     "give either --disaggregate xPyD or --prefill-gpus/--decode-gpus, not both"),
    (["--prefill-gpus", "2"], "--prefill-gpus and --decode-gpus go together"),
    (["--decode-tp", "2"], "--prefill-tp/--decode-tp need --disaggregate xPyD or --prefill-gpus/--decode-gpus"),
    (["--disaggregate", "1P1D", "-dp", "2"], "disaggregated serving sets the instances itself"),
    (["--prefill-gpus", "0", "--decode-gpus", "1"], "--prefill-gpus must be a whole number from 1"),
])
def test_bad_pools_are_one_line_and_exit_2(args, message):
    p = _cli(*args)
    assert p.returncode == 2 and p.stdout == "", p.stderr
    assert p.stderr.count("\n") == 1 and message in p.stderr, p.stderr


def test_cli_prints_both_pools_and_both_comparisons():
    p = _cli("--prefill-gpus", "2", "--decode-gpus", "2", "--decode-tp", "2", "--request-rate", "2")
    assert p.returncode == 0, p.stderr
    out = " ".join(p.stdout.split())  # lines wrap at the terminal's width
    assert "disaggregated 2P1D: prefill 2 × tp=1 (2 GPUs" in out and "decode 1 × tp=2 (2 GPUs" in out
    assert "vs aggregated on the prefill pool's 2 GPUs: 2 instances of tp=1" in out
    assert "vs aggregated on the same 4 GPUs: 4 instances of tp=1" in out


# ------------------------------------------------------------------ closed loop across both pools

@pytest.fixture
def loops(monkeypatch):
    """The per-request arrays (sent, first token, finish) of each closed-loop disaggregated run."""
    from roofline.serving.closedloop import ClosedLoop

    runs, real = [], ClosedLoop.run

    def run(self):
        runs.append(real(self))
        return runs[-1]

    monkeypatch.setattr(ClosedLoop, "run", run)
    return runs


def _in_flight(m) -> np.ndarray:
    """Requests sent and not finished after each send or finish (a finish at the instant of a send
    is counted first: the semaphore is released, then taken)."""
    n = m.sent.size
    events = np.concatenate([np.stack([m.sent, np.ones(n)], 1), np.stack([m.finish, -np.ones(n)], 1)])
    events = events[np.lexsort((events[:, 1], events[:, 0]))]
    return np.cumsum(events[:, 1])


def test_one_request_in_flight_runs_the_requests_back_to_back(loops):
    # C = 1 (vllm bench serve's semaphore held until the last token): request k + 1 is sent the
    # instant request k has its 8th token, so every request meets idle pools and takes exactly what a
    # lone request takes: one prefill step of 4096 tokens, the cache transfer, 7 decode steps.
    base = dict(input_len=4096, output_len=8, disaggregate="1P1D", tp=4, max_concurrency=1, request_rate=FREE)
    lone = _disagg(num_prompts=1, kv_transfer_bandwidth=FREE, **base)
    free = _disagg(num_prompts=6, kv_transfer_bandwidth=FREE, **base)
    m = loops[-1]
    assert m.sent[0] == 0.0 and np.array_equal(m.sent[1:], m.finish[:-1])
    e2e = lone["e2e_s"]["mean"]
    assert e2e == pytest.approx(lone["ttft_s"]["mean"] + 7 * lone["tpot_s"]["mean"], rel=1e-12)
    assert free["e2e_s"]["p99"] == pytest.approx(e2e, rel=1e-12) and free["e2e_s"]["mean"] == pytest.approx(e2e, rel=1e-12)
    assert free["duration_s"] == pytest.approx(6 * e2e, rel=1e-12)
    assert any(note.startswith("closed loop: at most 1 requests in flight across both pools") for note in free["notes"])
    # over InfiniBand NDR each request also waits for its cache, 335.5 MB / 50 GB/s + 9.3 µs = 6.7202 ms,
    # and nothing overlaps it: the 6 requests take 6 × 6.7202 ms = 40.32 ms longer
    slow = _disagg(num_prompts=6, **base)
    assert slow["duration_s"] - free["duration_s"] == pytest.approx(6 * (KV_TP4 / 50e9 + 9.3e-6), rel=1e-9)
    assert slow["duration_s"] - free["duration_s"] == pytest.approx(0.04032, rel=1e-3)


def test_one_in_flight_with_drawn_lengths_takes_the_sum_of_the_requests(loops):
    d = simulate("llama-3.1-8b", "h100", num_prompts=12, input_len=2000, output_len=60, random_range_ratio=0.2,
                 max_concurrency=1, prefill_gpus=2, decode_gpus=1, overheads=NO_OVERHEAD).to_dict()
    m = loops[-1]
    assert np.all(m.sent[1:] == m.finish[:-1])
    assert d["duration_s"] == pytest.approx(float(np.sum(m.finish - m.sent)), rel=1e-12)
    assert d["duration_s"] == pytest.approx(12 * d["e2e_s"]["mean"], rel=1e-12)


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trtllm"])
def test_four_in_flight_hold_end_to_end_across_both_pools(loops, engine):
    d = simulate("llama-3.1-8b", "h100", num_prompts=60, input_len=700, output_len=300, random_range_ratio=0.3,
                 max_concurrency=4, engine=engine, disaggregate="2P2D").to_dict()
    m = loops[-1]
    assert _in_flight(m).max() == 4
    # all 60 are sent at t = 0 by the rate: request k + 4 goes the instant the k-th finish happens
    assert np.array_equal(m.sent[:4], np.zeros(4)) and np.array_equal(m.sent[4:], np.sort(m.finish)[:56])
    assert d["batch_size"]["max"] <= 4  # the decode pool never holds more than the client lets out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(engine=st.sampled_from(["vllm", "sglang", "trtllm"]), x=st.integers(1, 3), y=st.integers(1, 3),
       pp=st.sampled_from([1, 2]), n=st.integers(5, 80), c=st.integers(1, 40), input_len=st.sampled_from([64, 1000, 2048]),
       output_len=st.sampled_from([1, 2, 16, 300]), rate=st.sampled_from([math.inf, 3.0, 20.0]),
       fitted=st.booleans(), seed=st.integers(0, 1000))
def test_closed_loop_invariants(loops, engine, x, y, pp, n, c, input_len, output_len, rate, fitted, seed):
    """At most C in flight end to end, and every request served; C ≥ the number of prompts is the
    open loop exactly (the one event loop over both pools gives the same steps as simulating the
    pools one after the other)."""
    kw = dict(num_prompts=n, input_len=input_len, output_len=output_len, random_range_ratio=0.5, engine=engine,
              disaggregate=f"{x}P{y}D", pp=pp, request_rate=rate, seed=seed, overheads=None if fitted else NO_OVERHEAD)
    closed = simulate("llama-3.1-8b", "h100", max_concurrency=c, **kw).to_dict()
    assert _in_flight(loops[-1]).max() <= c
    unlimited = simulate("llama-3.1-8b", "h100", max_concurrency=n, **kw).to_dict()
    open_loop = simulate("llama-3.1-8b", "h100", **kw).to_dict()
    loops.clear()
    for key in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        for q in ("mean", "p50", "p99"):
            if open_loop[key][q] is None:  # one-token answers have no TPOT
                assert unlimited[key][q] is None
            else:
                assert unlimited[key][q] == pytest.approx(open_loop[key][q], rel=1e-9, abs=1e-12), (key, q)
    assert unlimited["duration_s"] == pytest.approx(open_loop["duration_s"], rel=1e-9)
    assert closed["num_requests"] == n


@pytest.mark.parametrize("engine, layout", [("vllm", "1P1D"), ("sglang", "2P1D"), ("trtllm", "1P2D")])
def test_closed_loop_throughput_rises_with_concurrency_up_to_offline(engine, layout):
    """The sweeps' client (10 × C prompts, 1k/1k drawn from [0.8 L, L]): more in flight, more tokens/s,
    and never more than sending everything at once. Not an invariant of any workload: with a few
    tiny requests the pools can overlap a closed loop's prompts and answers better than offline's
    one big prefill step (18 prompts of ≤ 64 tokens, 2-token answers, 1P1D: offline 40.7 ms, C = 8
    40.2 ms), so it is checked here where the decode pool carries the load."""
    kw = dict(input_len=1024, output_len=1024, random_range_ratio=0.8, engine=engine, disaggregate=layout)
    offline = simulate("llama-3.1-8b", "h100", num_prompts=640, **kw).to_dict()["throughput"]["output_tokens_per_s"]
    rates = [simulate("llama-3.1-8b", "h100", num_prompts=10 * c, max_concurrency=c, **kw).to_dict()
             ["throughput"]["output_tokens_per_s"] for c in (4, 16, 64)]
    assert rates[0] < rates[1] < rates[2] <= offline


@pytest.mark.parametrize("engine, layout, pp", [("vllm", "2P3D", 1), ("sglang", "1P2D", 2), ("trtllm", "3P2D", 1)])
def test_runs_of_decode_steps_stop_where_a_cache_could_arrive(loops, monkeypatch, engine, layout, pp):
    """The decode units price runs of steps at once up to the horizon no cache can arrive before;
    stepping every unit one step at a time (a horizon of -∞) gives the same requests' times."""
    from roofline.serving.closedloop import ClosedLoop

    kw = dict(num_prompts=70, input_len=900, output_len=200, random_range_ratio=0.3, engine=engine, disaggregate=layout,
              pp=pp, max_concurrency=12)
    fast = simulate("llama-3.1-8b", "h100", **kw).to_dict()
    monkeypatch.setattr(ClosedLoop, "_horizon", lambda self: -math.inf)
    slow = simulate("llama-3.1-8b", "h100", **kw).to_dict()
    a, b = loops
    assert np.allclose(a.finish, b.finish, rtol=1e-12) and np.array_equal(a.sent[:12], b.sent[:12])
    assert np.allclose(a.sent, b.sent, rtol=1e-12) and fast["e2e_s"]["p99"] == pytest.approx(slow["e2e_s"]["p99"], rel=1e-12)


def test_a_closed_loop_that_does_not_fit_says_which_pool():
    # Llama-3.1-70B at tp=2 leaves 4.64 GB of KV cache per GPU beside its 70.6 GB of weights: a 60,000-token
    # prompt needs 60,000 × 327,680 / 2 B = 9.83 GB on each decode GPU; the tp=8 prefill pool holds it
    d = simulate("llama-3.1-70b", "h100", num_prompts=3, input_len=60_000, output_len=10, prefill_gpus=8, prefill_tp=8,
                 decode_gpus=2, decode_tp=2, max_concurrency=2).to_dict()
    assert d["kv_cache"]["fits"] is False and d["num_requests"] == 0
    assert d["notes"][0].startswith("does not fit: a request of 60000 + 10 tokens needs 9.83 GB of KV cache per GPU "
                                    "on the decode instances (tp=2)")
