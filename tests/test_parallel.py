"""Tensor, pipeline, data and expert parallelism; the links between GPUs; the planner; bad splits."""

import json

import pytest

import roofline
from roofline.catalog import get_gpu, get_link
from roofline.catalog.factors import factor
from roofline.cli.main import run as cli
from roofline.cost.graph import expected_experts
from roofline.cost.ops import Op
from roofline.errors import RooflineError
from roofline.estimates.comm import all_to_all_link, group_link, pipeline_link
from roofline.estimates.parallel_plan import plan, splits
from roofline.estimates.pipeline import schedule, stage_layers
from roofline.estimates.timing import OpTime, StepTime, collective_time
from roofline.catalog import get_model


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        cli(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def run_cli_ok(capsys, *args):
    cli(list(args))
    return capsys.readouterr().out


# ---------------------------------------------------------------- the primer's sizing question

def test_70b_fp16_tp2_on_two_a100():
    # Llama-2-70B: 68,976,648,192 params of which 1,318,912 are norms (80 × 2 × 8192 + 8192), kept whole on
    # each GPU; everything else (embedding and lm_head included) is split in two: fp16 weights per GPU =
    # (68,976,648,192 − 1,318,912) / 2 × 2 B + 1,318,912 × 2 B = 68,977,967,104 B.
    # KV: 80 layers × 4 KV heads per GPU × 256 × 2 B = 163,840 B per token × 4,352 tokens = 713,031,680 B.
    e = roofline.estimate("llama-2-70b", "a100", dtype="fp16", tp=2, input_len=4096, output_len=256)
    assert e.memory.weights_bytes == 68_977_967_104
    assert e.memory.kv_cache_bytes == 713_031_680
    assert e.memory.fits and e.parallel["num_gpus"] == 2
    assert e.to_dict()["comm"]["time_s"] > 0  # two all-reduces per layer over NVLink


def test_planner_answers_the_primers_sizing_question():
    p = plan("llama-2-70b", "a100", dtype="fp16")  # fewest GPUs: 2 × A100-80GB with TP=2
    assert p.num_gpus == 2 and p.recommended.split.tp == 2
    assert {r.split.label: r.fits for r in p.rows} == {"TP=2": True, "PP=2": True, "DP=2": False, "layer split ×2": True}
    q = plan("llama-2-70b", "rtx-a6000", dtype="fp16")  # or 4 × A6000 (48 GB)
    assert q.num_gpus == 4 and q.recommended.split.tp == 4


def test_planner_says_why_tp_over_ethernet_is_slow():
    # two 2-GPU nodes joined by 100 GbE: TP=4 must all-reduce across the network, TP=2 stays on NVLink
    p = plan("llama-2-70b", "a100", dtype="fp16", num_gpus=4, gpus_per_node=2, inter_node_link="roce-100",
             batch_size=16, input_len=2048)
    tp4 = next(r for r in p.rows if r.split.tp == 4)
    assert tp4.est.comm["tp_link"]["kind"] == "inter-node"
    assert tp4.comm_share > 0.3
    assert p.recommended.split.tp == 2
    assert any("RoCE" in n and "all-reduces" in n for n in p.notes)


def test_planner_json_and_cli(capsys):
    out = run_cli_ok(capsys, "parallel", "llama-2-70b", "--gpu", "a100", "--dtype", "fp16", "--json")
    doc = json.loads(out)
    assert doc["num_gpus"] == 2 and doc["recommended"]["tp"] == 2
    assert {s["label"] for s in doc["splits"]} == {"TP=2", "PP=2", "DP=2", "layer split ×2"}
    text = run_cli_ok(capsys, "parallel", "llama-2-70b", "--gpu", "a100", "--dtype", "fp16", "--num-gpus", "2")
    assert "Recommended: TP=2" in text


def test_splits_cover_every_valid_factorization():
    m = get_model("llama-2-70b")  # 64 heads, 8 KV heads, 80 layers
    assert {(s.tp, s.pp, s.dp) for s in splits(m, 8)} == {
        (1, 1, 8), (1, 2, 4), (1, 4, 2), (1, 8, 1), (2, 1, 4), (2, 2, 2), (2, 4, 1), (4, 1, 2), (4, 2, 1), (8, 1, 1)}
    moe = splits(get_model("mixtral-8x7b"), 4)
    assert any(s.ep == 4 for s in moe) and all(s.ep in (1, s.tp * s.dp) for s in moe)


# ---------------------------------------------------------------- links and collectives

def test_ring_all_reduce_formula():
    # 64 MiB over 8 A100s (above the engine's 8 MiB custom all-reduce): NCCL ring, Simple protocol:
    # 8.4 us + 2(8−1) steps × 3.4 us + 2 × 7/8 × 67,108,864 B / (300 GB/s × 0.783) = 56 us + 499.96 us
    a100 = get_gpu("a100")
    link = group_link(a100, 8, None, ideal=False)
    nv = get_link("nvlink3-nvswitch")
    assert link.kind == "scale-up"
    assert link.bandwidth == pytest.approx(nv.bandwidth_per_direction * nv.busbw_efficiency)
    msg = 64 * 2**20
    t = collective_time("all_reduce", msg, 8, link)
    assert t == pytest.approx(8.4e-6 + 14 * 3.4e-6 + 1.75 * msg / (300e9 * 0.783))
    ideal = group_link(a100, 4, None, ideal=True)
    assert collective_time("all_reduce", 1e9, 4, ideal) == pytest.approx(1.5e9 / 300e9)  # 5 ms


def test_link_choice_follows_the_node():
    a100, l40s, a6000, v6e = get_gpu("a100"), get_gpu("l40s"), get_gpu("rtx-a6000"), get_gpu("tpu-v6e")
    assert group_link(a100, 8, None, True).kind == "scale-up"
    assert group_link(a100, 4, 2, True).kind == "inter-node"  # two 2-GPU nodes: the ring crosses IB
    assert group_link(l40s, 4, None, True).name == "PCIe Gen4 x16"  # no NVLink on Ada
    assert group_link(a6000, 2, None, True).kind == "host"  # PCIe cards: plain PCIe unless told of a bridge
    assert group_link(a6000, 2, None, True, intra="nvlink-bridge").kind == "scale-up"  # the NVLink bridge pair
    assert group_link(a6000, 4, None, True).kind == "host"  # beyond the pair: PCIe
    with pytest.raises(RooflineError, match="no inter-node link"):
        group_link(v6e, 8, 4, True)


def test_inter_node_ring_uses_every_nic_of_the_node():
    # 16 H100s in two nodes of 8, one 400 Gb/s NIC per GPU: ring bandwidth = min(NVLink, 8 × 50 GB/s) (ideal)
    h100 = get_gpu("h100")
    assert group_link(h100, 16, 8, True).bandwidth == pytest.approx(min(450e9, 8 * 50e9))
    # a pair split over two nodes gets one NIC: 50 GB/s, 9× below NVLink 4
    assert group_link(h100, 2, 1, True).bandwidth == pytest.approx(50e9)
    # an all-to-all cannot stay in the node: n = 16, g = 8: (n − 1) / max((n − g)/50, (g − 1)/450) GB/s
    assert all_to_all_link(h100, 16, 8, True).bandwidth == pytest.approx(15 / max(8 / 50e9, 7 / 450e9))


def test_pipeline_link_counts_boundaries_crossing_nodes():
    # tp=2, pp=4 on 4-GPU nodes: stages on GPUs 0-1, 2-3 | 4-5, 6-7: one of three boundaries crosses
    a100 = get_gpu("a100")
    link = pipeline_link(a100, 2, 4, 4, True, "roce-100")
    assert link.kind == "mixed"
    assert link.bandwidth == pytest.approx(3 / (2 / 300e9 + 1 / 12.5e9))  # harmonic mean over boundaries


def test_more_tp_splits_weights_and_adds_comm():
    one = roofline.estimate("llama-2-7b", "h100")
    two = roofline.estimate("llama-2-7b", "h100", tp=2)
    assert two.memory.weights_bytes < 0.51 * one.memory.weights_bytes
    assert one.to_dict()["comm"]["time_s"] == 0
    assert two.decode.comm_s > 0 and two.tpot_s < one.tpot_s


# ---------------------------------------------------------------- pipeline parallelism

def _uniform_step(total: float, send: float = 0.0) -> StepTime:
    """A step of identical layers taking `total` seconds (memory-bound), plus stage hand-overs."""
    ops = [OpTime(Op("layer", "vector", 0.0, 0.0, count=1, group="g"), compute=0.0, memory=total, overhead=0.0, comm=0.0)]
    if send:
        ops.append(OpTime(Op("pp_send_recv", "comm", 0.0, 0.0, count=3, comm_kind="p2p", group="model"), 0.0, 0.0, 0.0, send))
    return StepTime(ops)


@pytest.mark.parametrize("m", [1, 2, 4, 8])
def test_gpipe_bubble(m):
    # 8 equal layers on p = 4 stages: t_s = 0.25 s per micro-batch. Prefill makespan (m + p − 1) × t_s,
    # bubble (p − 1)/(m + p − 1) of it.
    sch, ph = schedule(_uniform_step(1.0), "prefill", 8, 4, m)
    assert sch.time_s == pytest.approx((m + 3) * 0.25)
    assert sch.bubble_fraction == pytest.approx(3 / (m + 3))
    assert ph.time_s == pytest.approx(ph.compute_s + ph.memory_s + ph.overhead_s + ph.comm_s + ph.bubble_s)


@pytest.mark.parametrize("m,step,bubble", [(1, 1.0, 0.75), (2, 1.0, 0.5), (4, 1.0, 0.0), (8, 2.0, 0.0)])
def test_decode_round_trip(m, step, bubble):
    # decode: max(m × t_s, Σ t_k) = max(m × 0.25, 1.0); idle stages while m < p
    sch, _ = schedule(_uniform_step(1.0), "decode", 8, 4, m)
    assert sch.time_s == pytest.approx(step)
    assert sch.bubble_s == pytest.approx(bubble)


def test_stage_hand_overs_on_the_critical_path():
    # 3 boundaries × 10 ms in prefill; in decode only while the round trip is longer than the busy stage
    sch, _ = schedule(_uniform_step(1.0, send=0.01), "prefill", 8, 4, 4)
    assert sch.time_s == pytest.approx(7 * 0.25 + 3 * 0.01)
    sch, _ = schedule(_uniform_step(1.0, send=0.01), "decode", 8, 4, 4)
    assert sch.time_s == pytest.approx(1.0 + 3 * 0.01) and sch.send_wait_s == pytest.approx(0.03)


def test_uneven_stages_are_allowed():
    # 32 layers over 3 stages: 11, 11, 10 (the last stage also holds the final norm and lm_head)
    assert stage_layers(32, 3) == [11, 11, 10]
    assert stage_layers(80, 3) == [27, 27, 26]
    e = roofline.estimate("llama-2-7b", "a100", pp=3, batch_size=6)
    assert e.pipeline["layers_per_stage"] == [11, 11, 10]
    assert e.memory.fits and e.pipeline["micro_batches"] == 3


def test_pipeline_adds_room_not_speed_and_tp_adds_speed():
    kw = dict(dtype="fp16", input_len=1024, output_len=256)
    pp = roofline.estimate("llama-2-70b", "a100", pp=2, **kw)
    tp = roofline.estimate("llama-2-70b", "a100", tp=2, **kw)
    one = roofline.estimate("llama-2-70b", "a100", gpu_memory_utilization=1.0, **kw)  # does not fit; time is still defined
    assert pp.tpot_s == pytest.approx(one.tpot_s, rel=0.02)  # batch 1: the stages take turns
    assert pp.pipeline["decode"]["bubble_fraction"] == pytest.approx(0.5, abs=0.02)
    assert tp.tpot_s < 0.6 * pp.tpot_s
    # with a batch of micro-batches the pipeline fills: throughput per GPU close to tensor parallelism's
    ppb = roofline.estimate("llama-2-70b", "a100", pp=2, batch_size=16, **kw)
    assert ppb.pipeline["decode"]["bubble_fraction"] < 0.05


def test_micro_batches_validated():
    with pytest.raises(RooflineError, match="num-micro-batches"):
        roofline.estimate("llama-2-7b", "a100", pp=2, batch_size=2, micro_batches=4)
    with pytest.raises(RooflineError, match="pipeline parallelism"):
        roofline.estimate("llama-2-7b", "a100", micro_batches=2)


# ---------------------------------------------------------------- data parallelism

def test_data_parallel_scales_throughput_not_latency():
    one = roofline.estimate("llama-2-7b", "h100", batch_size=8)
    four = roofline.estimate("llama-2-7b", "h100", batch_size=32, dp=4)
    assert four.workload["batch_per_replica"] == 8
    assert four.tpot_s == pytest.approx(one.tpot_s) and four.ttft_s == pytest.approx(one.ttft_s)
    assert four.output_tokens_per_s == pytest.approx(4 * one.output_tokens_per_s)
    assert four.memory.total_bytes == pytest.approx(one.memory.total_bytes)


def test_num_gpus_makes_replicas():
    e = roofline.estimate("llama-2-7b", "h100", tp=2, num_gpus=8, batch_size=16)
    assert e.parallel["dp"] == 4 and e.parallel["num_gpus"] == 8 and e.workload["batch_per_replica"] == 4
    with pytest.raises(RooflineError, match="not a multiple"):
        roofline.estimate("llama-2-7b", "h100", tp=4, num_gpus=6)
    with pytest.raises(RooflineError, match="--num-gpus is 8"):
        roofline.estimate("llama-2-7b", "h100", tp=2, dp=2, num_gpus=8)


# ---------------------------------------------------------------- expert parallelism

def test_expected_experts_per_step():
    # E·(1 − (1 − k/E)^b): batch 1 reads k experts; batch 64 reads nearly all 8
    assert expected_experts(8, 2, 1) == pytest.approx(2)
    assert expected_experts(8, 2, 4) == pytest.approx(8 * (1 - 0.75**4))  # 5.47
    assert expected_experts(8, 2, 64) == pytest.approx(8, rel=1e-6)
    small = roofline.estimate("mixtral-8x7b", "h100", tp=2, batch_size=1, output_len=2)
    big = roofline.estimate("mixtral-8x7b", "h100", tp=2, batch_size=64, output_len=2)
    # active (2 of 8 experts) vs all experts: decode weight traffic grows ~3.3× between them
    assert 2.5 < big.decode.bytes / small.decode.bytes < 4.5


def test_expert_parallel_all_to_all():
    # Mixtral on 8 H100s: tp=2 × dp=4, experts over EP = 8 GPUs (one of 8 experts each).
    # Decode: 64 sequences / 4 replicas = 16 tokens per replica; each GPU dispatches its 16 / 2 = 8 tokens
    # to k = 2 experts: message 8 × 2 × 4096 × 2 B = 131,072 B (combine the same in bf16).
    e = roofline.estimate("mixtral-8x7b", "h100", tp=2, num_gpus=8, enable_expert_parallel=True, batch_size=64)
    assert e.parallel["ep"] == 8 and e.parallel["dp"] == 4
    ops = {o.name: o for o in e.ops if o.phase == "decode"}
    assert ops["ep_dispatch"].count == 32 and ops["ep_combine"].count == 32
    assert ops["ep_dispatch"].bound == "communication"
    e_dense = roofline.estimate("mixtral-8x7b", "h100", tp=2, num_gpus=8, batch_size=64)
    # one whole expert per GPU instead of all 8 at half width: expert weights per GPU 1/4 of TP=2's
    assert e.memory.weights_bytes < 0.4 * e_dense.memory.weights_bytes
    from roofline.estimates.estimate import setup
    from roofline.cost.graph import step_ops
    s = setup("mixtral-8x7b", "h100", tp=2, num_gpus=8, enable_expert_parallel=True, batch_size=64)
    disp = next(o for o in step_ops(s.model, s.prec, s.par, "decode", s.batch, 1024, 256) if o.name == "ep_dispatch")
    assert disp.comm == 131_072


def test_expert_parallel_with_one_replica_needs_no_all_to_all():
    e = roofline.estimate("mixtral-8x7b", "h100", tp=8, enable_expert_parallel=True)
    assert e.parallel["ep"] == 8
    assert not any(o.name.startswith("ep_") for o in e.ops)


# ---------------------------------------------------------------- bad input: one line, exit 2

@pytest.mark.parametrize("args,message", [
    (["estimate", "llama-2-7b", "-tp", "3"], "does not divide"),
    (["estimate", "llama-2-7b", "-pp", "40"], "exceeds"),
    (["estimate", "llama-2-70b", "--gpu", "tpu-v6e", "-tp", "8", "--gpus-per-node", "4"], "no inter-node link"),
    (["estimate", "llama-2-7b", "--speculative-model", "ngram", "--num-speculative-tokens", "4",
      "--acceptance-rate", "1.5"], "acceptance-rate"),
    (["estimate", "llama-2-7b", "-tp", "2", "--enable-expert-parallel"], "mixture-of-experts"),
    (["estimate", "llama-2-7b", "-tp", "4", "--num-gpus", "6"], "not a multiple"),
    (["estimate", "llama-2-7b", "-tp", "2", "--inter-node-link", "nvlink3-nvswitch"], "network link"),
    (["parallel", "llama-2-7b", "--num-gpus", "0"], "at least 1"),
    (["parallel", "llama-2-7b", "--objective", "cheap"], "objective"),
])
def test_bad_input_exits_2(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_estimate_json_matches_api(capsys):
    kw = ["llama-2-70b", "--gpu", "h100", "-tp", "2", "-pp", "2", "-b", "8", "--gpus-per-node", "2", "--json"]
    doc = json.loads(run_cli_ok(capsys, "estimate", *kw))
    api = roofline.estimate("llama-2-70b", "h100", tp=2, pp=2, batch_size=8, gpus_per_node=2).to_dict()
    assert doc == json.loads(json.dumps(api))
    assert doc["comm"]["time_s"] > 0 and doc["pipeline"]["stages"] == 2
    assert doc["comm"]["pp_link"]["kind"] == "inter-node" and doc["parallel"]["nodes"] == 2
    assert doc["memory"]["weights_bytes"] < 40e9  # per GPU: a quarter of 138 GB


def test_all_to_all_efficiency_is_a_named_factor():
    f = factor("all_to_all_efficiency")
    assert f.basis and f.source
