"""What parallelism and speculative decoding do to one estimate's phases, memory and notes.

The evaluation (estimates/evaluation.py) computes the deployment's figures; this module describes
them: pipeline stages and micro-batches (estimates/pipeline.py), data-parallel replicas (the
batch is shared; throughput adds up, latency is one replica's), the links each collective uses,
and a speculative drafter (estimates/speculative.py).
"""

from __future__ import annotations

from ..units import fmt_bw, fmt_time
from .comm import GroupLink, node_size
from .pipeline import stage_layers


def _link_doc(link) -> dict | None:
    if link is None:
        return None
    doc = {"name": link.name, "bandwidth": link.bandwidth, "latency_s": link.latency}
    if isinstance(link, GroupLink):
        doc.update(kind=link.kind, nodes=link.nodes, per_node=link.per_node, detail=link.detail)
    return doc


def parallel_doc(s, micro_batches: int) -> dict:
    par = s.par
    node = node_size(s.gpu, par.gpus_per_node)
    return {"tp": par.tp, "pp": par.pp, "dp": par.dp, "ep": par.ep, "num_gpus": par.num_gpus,
            "gpus_per_node": node, "nodes": -(-par.num_gpus // node), "micro_batches": micro_batches,
            "inter_node_link": par.inter_node_link or s.gpu.scale_out_link or None,
            "experts_per_gpu": s.model.moe.num_experts / par.ep if s.model.is_moe else None}


def comm_doc(s) -> dict:
    r = s.roofs
    return {"tp_link": _link_doc(r.tp_link), "pp_link": _link_doc(r.pp_link), "ep_link": _link_doc(r.ep_link)}


def pipeline_doc(s, ev) -> dict | None:
    if ev.schedules is None:
        return None
    ps, ds = ev.schedules
    return {"stages": s.par.pp, "layers_per_stage": stage_layers(s.model.num_layers, s.par.pp),
            "micro_batches": int(ev.micro_batches), "micro_batch_size": int(ev.micro_batch_size),
            "prefill": ps.to_dict(), "decode": ds.to_dict()}


def notes(s, ev) -> list[str]:
    """What parallelism and speculation do to this estimate, in words (one point of `ev`)."""
    par, r, out = s.par, s.roofs, []
    if ev.schedules is not None:
        ps, ds = ev.schedules
        m = int(ev.micro_batches)
        hint = f"; with {m} micro-batch{'es' if m > 1 else ''} for {par.pp} stages part of the pipeline idles" if m < par.pp else ""
        out.append(f"pipeline of {par.pp} stages: bubble {float(ps.bubble_fraction):.0%} of the prefill and "
                   f"{float(ds.bubble_fraction):.0%} of each decode step{hint}")
    if ev.spec is not None:
        res = ev.spec
        verdict = "slower than plain decoding" if float(res.speedup) < 1 else "faster than plain decoding"
        out.append(f"speculative decoding ({res.config.label}, k={res.config.k}, α={res.config.alpha:g}): "
                   f"{res.expected_tokens:.3g} tokens per step, {float(res.speedup):.2f}× — {verdict}")
    if par.dp > 1:
        out.append(f"{par.dp} data-parallel replicas share the batch of {s.total_batch}: {s.batch} sequences each; "
                   "throughput counts every replica, latency is one replica's")
    if r.tp_link is not None and getattr(r.tp_link, "kind", "scale-up") != "scale-up":
        share = float(ev.comm_s / ev.e2e_latency_s)
        out.append(f"tensor-parallel all-reduces cross {r.tp_link.name} at {fmt_bw(r.tp_link.bandwidth)} per GPU "
                   f"({fmt_time(r.tp_link.latency)} each + bytes): {share:.0%} of the time is communication")
    return out


def describe_parallel(s) -> list[tuple[str, str, str, str]]:
    """Inputs-section lines: the split, the replica batch and each link with its derivation."""
    par, r = s.par, s.roofs
    out = []
    if par.num_gpus > 1:
        ep = f", experts over ep = tp × dp = {par.ep} GPUs ({s.model.moe.num_experts // par.ep} of {s.model.moe.num_experts} experts per GPU)" if par.ep > 1 else ""
        out.append(("parallel", "tp × pp × dp", f"{par.tp} × {par.pp} × {par.dp}", f"{par.num_gpus} GPUs{ep}"))
    if par.dp > 1:
        total = s.total_batch
        out.append(("batch per replica", "⌈batch / dp⌉", f"⌈{total} / {par.dp}⌉", f"{s.batch} sequences"))
    for label, link in (("tensor-parallel link", r.tp_link), ("pipeline link", r.pp_link), ("expert-parallel link", r.ep_link)):
        if link is not None:
            detail = getattr(link, "detail", "")
            out.append((label, f"{link.name}: per-GPU bandwidth" + (f" = {detail}" if detail else ""), "",
                        f"{fmt_bw(link.bandwidth)}, {fmt_time(link.latency)} per collective"))
    return out


def describe_results(s, ev) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Sections for the pipeline schedule and the speculative step."""
    from . import pipeline, speculative

    sections = []
    if ev.schedules is not None:
        counts = stage_layers(s.model.num_layers, s.par.pp)
        lines = []
        for phase, sch in zip(("prefill", "decode"), ev.schedules):
            lines += pipeline.describe(sch, phase, s.par.pp, int(ev.micro_batches), int(ev.micro_batch_size), counts)
        sections.append(("pipeline", lines))
    if ev.spec is not None:
        sections.append(("speculative decoding", speculative.describe(ev.spec)))
    return sections
