"""Collectives as NCCL and the engines run them: latency grows with the algorithm's steps, differs by
link and protocol, and small all-reduces take the engine's one-shot path (issue 8, section 4).
Every expected value is worked out by hand from data/collectives.toml and data/links.toml."""

import dataclasses

import pytest

import roofline
from roofline.catalog import get_gpu
from roofline.errors import RooflineError
from roofline.estimates.comm import default_intra_node_link, group_link, pipeline_link
from roofline.estimates.estimate import run, setup
from roofline.estimates.timing import collective_time, roofs

MSG = 16_384.0  # one decode token's activations of a 8192-wide model in bf16


def test_small_all_reduce_on_nvswitch_takes_the_engines_one_shot_kernel():
    # 4 A100s on NVSwitch, 16 KiB < 512 KiB: one-shot = 2 barriers × 0.6 us + (4 − 1) × 16,384 B / (300 GB/s × 0.783)
    # = 1.2 us + 0.2092 us = 1.4092 us; NCCL ring LL would be 6.6 + 6 × 0.6 + 1.5 × 16,384 / (234.9 GB/s × 0.5) = 10.41 us
    link = group_link(get_gpu("a100"), 4, None, False)
    assert collective_time("all_reduce", MSG, 4, link) == pytest.approx(1.2e-6 + 3 * MSG / 234.9e9, rel=1e-4)
    assert link.algorithms.best("all_reduce", MSG, 4)[0].endswith("one-shot all-reduce")


def test_pcie_ring_latency_grows_with_the_group():
    # L40S (no NVLink): 8 GPUs over PCIe Gen4 with P2P cannot use the engine kernel (needs full NVLink beyond 2):
    # NCCL ring LL = 6.6 us + 2(8 − 1) × 1.0 us + 1.75 × 16,384 B / (31.5 GB/s × 0.8 × 0.5) = 20.6 + 2.2756 = 22.876 us
    l40s = get_gpu("l40s")
    t8 = collective_time("all_reduce", MSG, 8, group_link(l40s, 8, None, False))
    assert t8 == pytest.approx(20.6e-6 + 1.75 * MSG / 12.6e9, rel=1e-6)
    # 2 GPUs with P2P: the engine's one-shot = 2 × 1.0 us + 16,384 B / 25.2 GB/s = 2.6502 us
    t2 = collective_time("all_reduce", MSG, 2, group_link(l40s, 2, None, False))
    assert t2 == pytest.approx(2e-6 + MSG / 25.2e9, rel=1e-6)


def test_pcie_without_p2p_stages_through_host_memory():
    # no engine kernel; NCCL ring LL with every PCIe step taken twice:
    # 6.6 us + 2 × (2 × 1.0 us) + 1 × 16,384 B / (25.2 GB/s × 0.5) = 10.6 + 1.3003 = 11.900 us
    link = group_link(get_gpu("l40s"), 2, None, False, intra="pcie-gen4-no-p2p")
    assert collective_time("all_reduce", MSG, 2, link) == pytest.approx(10.6e-6 + MSG / 12.6e9, rel=1e-6)


def test_across_nodes_the_tree_wins_small_messages():
    # 16 H100s, 2 nodes × 8, NDR: bandwidth min(450 × 0.822, 8 × 50 × 0.8) = 320 GB/s.
    # ring LL: 6.6 + (30 − 2) × 0.6 + 2 × 2.7 = 28.8 us (+0.19 us bytes);
    # tree LL: 6.8 + 2 × (7 × 0.6 + log2(2) × 5.0) = 25.2 us + 2 × 16,384 B / (320 GB/s × 0.5) = 25.4048 us
    link = group_link(get_gpu("h100"), 16, 8, False)
    name, t = link.algorithms.best("all_reduce", MSG, 16)
    assert name == "NCCL tree LL" and t == pytest.approx(25.2e-6 + 2 * MSG / 160e9, rel=1e-6)


def test_large_all_reduce_goes_to_nccl_simple():
    # 64 MiB > 8 MiB over 8 A100s: ring Simple 8.4 + 14 × 3.4 = 56 us + 1.75 × 64 MiB / 234.9 GB/s = 499.96 us
    link = group_link(get_gpu("a100"), 8, None, False)
    name, t = link.algorithms.best("all_reduce", 64 * 2**20, 8)
    assert name == "NCCL ring SIMPLE" and t == pytest.approx(56e-6 + 1.75 * 64 * 2**20 / 234.9e9, rel=1e-4)


def test_pipeline_send_is_one_step():
    # a send between two A100s on NVSwitch: NCCL LL base 6.6 us + one 0.6 us NVLink step
    link = pipeline_link(get_gpu("a100"), 1, 2, None, False)
    assert link.latency == pytest.approx(7.2e-6)


def _decode_comm(tp: int, link: str) -> tuple[float, int]:
    s = setup("llama-3.1-8b", "h100-sxm", tp=tp)
    par = s.par.model_copy(update={"intra_node_link": link})
    e = run(dataclasses.replace(s, par=par, roofs=roofs(s.gpu, s.prec, par)))
    n = sum(o.count for o in e.ops if o.phase == "decode" and o.bound == "communication")
    return e.to_dict()["comm"]["decode_step_s"], n


def test_decode_comm_grows_with_group_and_slower_link():
    # the acceptance check: per collective, tp=8 over PCIe Gen4 > tp=2 over PCIe Gen4, and > tp=8 over NVSwitch
    pcie8, n8 = _decode_comm(8, "pcie-gen4")
    pcie2, n2 = _decode_comm(2, "pcie-gen4")
    nvs8, m8 = _decode_comm(8, "nvswitch")
    assert n8 == n2 == m8 == 64  # 2 all-reduces × 32 layers
    assert pcie8 / n8 > 5 * pcie2 / n2
    assert pcie8 / n8 > 10 * nvs8 / m8


def test_intra_node_link_defaults_and_bad_choices():
    assert default_intra_node_link(get_gpu("h100-sxm")) == "nvswitch"
    assert default_intra_node_link(get_gpu("h100-pcie")) == "pcie-gen5"  # a bridge is optional hardware
    assert default_intra_node_link(get_gpu("l40s")) == "pcie-gen4"
    with pytest.raises(RooflineError, match="no NVSwitch"):
        group_link(get_gpu("l40s"), 2, None, False, intra="nvswitch")
    with pytest.raises(RooflineError, match="no NVLink bridge"):
        group_link(get_gpu("h100-sxm"), 2, None, False, intra="nvlink-bridge")
    bridged = group_link(get_gpu("h100-pcie"), 2, None, False, intra="nvlink-bridge")
    assert bridged.kind == "scale-up"


def test_grid_keeps_each_gpus_algorithms():
    # the grid evaluates each GPU with its own links (NVSwitch, PCIe), as the estimate does
    kw = dict(tp=2, weight_dtype="int4", kv_cache_dtype="fp8")
    gpus = ["a100", "h100", "l40s"]
    g = roofline.grid("mistral-7b", gpus, batch_sizes=[1, 64], input_lens=[100, 5000], output_lens=[300], **kw)
    for gi, name in enumerate(gpus):
        for bi, b in enumerate([1, 64]):
            for ii, L in enumerate([100, 5000]):
                e = roofline.estimate("mistral-7b", name, batch_size=b, input_len=L, output_len=300, **kw)
                assert g.tpot_s[gi, bi, ii, 0] == pytest.approx(e.tpot_s, rel=1e-9)
                assert g.ttft_s[gi, bi, ii, 0] == pytest.approx(e.ttft_s, rel=1e-9)


def test_layer_split_divides_memory_and_only_adds_the_hand_over():
    # llama.cpp-style layer split of Llama-2-7B over 2 A100s, batch 1: GPUs run one after another, so a decode step
    # is the single-GPU step plus one hand-over: NCCL send, LL protocol: 6.6 us + 0.6 us + 4096 × 2 B / (234.9 GB/s × 0.5)
    # = 7.26975 us
    from roofline.estimates.parallel_plan import plan

    p = plan("llama-2-7b", "a100", num_gpus=2)
    layer = next(r for r in p.rows if getattr(r.split, "mode", "") == "layer")
    one = roofline.estimate("llama-2-7b", "a100")
    assert layer.split.label == "layer split ×2" and layer.est.parallel["micro_batches"] == 1
    assert layer.est.tpot_s - one.tpot_s == pytest.approx(7.2e-6 + 8192 / (234.9e9 * 0.5), rel=1e-3)
    assert layer.est.memory.weights_bytes < 0.51 * one.memory.weights_bytes


@pytest.mark.parametrize("batch", [1, 16, 64])
def test_tp_across_nodes_only_when_it_wins_and_the_notes_agree(batch):
    from roofline.estimates.parallel_plan import plan

    p = plan("llama-2-70b", "a100", dtype="fp16", num_gpus=16, inter_node_link="roce-100", batch_size=batch)
    best = p.recommended
    crosses = best.est.comm.get("tp_link") and best.est.comm["tp_link"]["kind"] == "inter-node"
    if crosses:  # strictly the highest throughput of all fitting splits
        assert best.est.output_tokens_per_s == max(r.est.output_tokens_per_s for r in p.rows if r.fits)
    assert not any(n.startswith(best.split.label + ":") for n in p.notes)  # no note argues against the pick
    if batch == 64:  # 16 KB × 64 per all-reduce over 100 GbE: the network dominates and TP stays in the node
        assert not crosses and best.split.tp <= 8


def test_split_mode_layer_sizes_and_micro_batches():
    from roofline.estimates.pipeline import layer_split_sizes, micro_batches_for

    assert layer_split_sizes(4, 1, 1) == (1, 4)  # 4 GPUs: 4 stages of whole layers
    assert micro_batches_for("layer", 8, 4, None) == 1 and micro_batches_for("tensor", 8, 4, None) == 4
    with pytest.raises(RooflineError, match="tensor-parallel"):
        layer_split_sizes(4, 2, 1)
    with pytest.raises(RooflineError, match="one micro-batch"):
        micro_batches_for("layer", 8, 4, 2)
