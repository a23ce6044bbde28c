"""The planner's disaggregated candidates: each pool with its own tensor-parallel size, screened by
hand, and the finalists simulated with those pools."""

import numpy as np
import pytest

from roofline.planning import plan
from roofline.planning.screen import OK, screen
from roofline.planning.shapes import Profile, Shape


def _profile(tp, decode, prefill, transfer, latency=0.001, max_batch=100):
    b = np.arange(1.0, max_batch + 1)
    return Profile(Shape("h100-sxm", tp, 1, 1, "auto", "auto"), b, np.full(b.shape, decode), np.array([prefill]),
                   np.array([prefill]), prefill, max_batch, transfer, "bf16", link_latency_s=latency)


# A: one GPU, decode step 10 ms, prefill 100 ms, one prompt's KV shard 4 ms on the link (+ 1 ms latency)
# B: two GPUs (tp=2), decode step 6 ms, prefill 50 ms, half the shard: 2 ms (+ 1 ms)
A = _profile(1, 0.010, 0.100, 0.005)
B = _profile(2, 0.006, 0.050, 0.003)


@pytest.fixture(scope="module")
def within_3_gpus():
    sc = screen([A, B], [8192], rate=5.0, input_len=1000, output_len=100, max_gpus=3, disaggregate=True)
    d = sc.disaggregated
    return sc, {(int(sc.shape[i]), int(sc.decode_shape[i]), int(sc.replicas[i]), int(sc.decode_replicas[i])): i
                for i in np.nonzero(d)[0]}


def test_pools_of_different_tp_are_paired_within_the_gpu_limit(within_3_gpus):
    sc, dis = within_3_gpus
    # A→A: 1P1D (2 GPUs), 1P2D and 2P1D (3); A→B: 1 + 2 GPUs; B→A: 2 + 1 GPUs; B→B would need 4
    assert set(dis) == {(0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 2, 1), (0, 1, 1, 1), (1, 0, 1, 1)}
    assert [int(sc.num_gpus[dis[k]]) for k in sorted(dis)] == [2, 3, 3, 3, 3]
    # aggregated: A with dp 1-3 and B with dp 1 (dp 2 would need 4 GPUs)
    assert int((~sc.disaggregated).sum()) == 4 and (sc.decode_shape[~sc.disaggregated] == sc.shape[~sc.disaggregated]).all()


def test_a_tp2_prefill_pool_feeding_a_tp1_decode_pool_by_hand(within_3_gpus):
    sc, dis = within_3_gpus
    i = dis[(1, 0, 1, 1)]
    # KV transfer B → A: the one decode GPU receives A's whole shard (4 ms of link time) from two
    # senders: 1 ms + 1 × 4 ms / min(2, 1) = 5 ms
    # prefill pool (B): μ = 1 / 0.05 = 20 requests/s, ρ = 5 / 20 = 0.25, M/D/1 wait 0.25 / (2 × 20 × 0.75)
    # = 8.333 ms; TTFT = 50 ms alone + 8.333 ms + 5 ms + half a decode step of A (5 ms) = 68.333 ms
    assert sc.ttft_s[i] == pytest.approx(0.050 + 0.25 / (2 * 20 * 0.75) + 0.005 + 0.005)
    # decode pool (A): b / (99 × 0.01) ≥ 5 ⇔ b ≥ 4.95 → b = 5 at TPOT 10 ms
    assert sc.batch[i] == 5 and sc.tpot_s[i] == pytest.approx(0.010) and sc.status[i] == OK


def test_a_tp1_prefill_pool_feeding_a_tp2_decode_pool_by_hand(within_3_gpus):
    sc, dis = within_3_gpus
    i = dis[(0, 1, 1, 1)]
    # KV transfer A → B: two decode GPUs receive 2 ms of link time each, all from one sender:
    # 1 ms + 2 × 2 ms / min(1, 2) = 5 ms
    # prefill pool (A): μ = 10/s, ρ = 0.5, wait 0.5 / (2 × 10 × 0.5) = 50 ms; TTFT = 100 + 50 + 5 + 3 ms
    assert sc.ttft_s[i] == pytest.approx(0.100 + 0.050 + 0.005 + 0.003)
    # decode pool (B): b / (99 × 0.006) ≥ 5 ⇔ b ≥ 2.97 → b = 3 at TPOT 6 ms
    assert sc.batch[i] == 3 and sc.tpot_s[i] == pytest.approx(0.006)


def test_disaggregated_finalists_are_simulated_with_their_pools():
    r = plan("llama-3.1-70b", request_rate=2, input_len=4096, output_len=256, ttft_slo=1.0, tpot_slo=0.05, gpus="h100",
             max_gpus=8, num_prompts=60)
    finals = [c.to_dict() for c in r.finalists if c.disaggregated]
    assert finals, "no disaggregated finalist to check"
    for c in finals:
        sim = c["simulated"]["disaggregated"]
        for pool in ("prefill", "decode"):
            split = c[f"{pool}_split"]
            assert (sim[pool]["instances"], sim[pool]["tp"], sim[pool]["num_gpus"]) == (split["replicas"], split["tp"], split["num_gpus"])
        assert c["prefill_split"]["num_gpus"] + c["decode_split"]["num_gpus"] == c["num_gpus"]
        assert f"TP={c['decode_split']['tp']}" in c["label"] or c["decode_split"]["tp"] == 1
