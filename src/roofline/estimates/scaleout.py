"""What parallelism and speculative decoding do to one estimate's phases, memory and notes.

`run()` times one step of one replica (per GPU); this module turns that into the deployment's
figures: pipeline stages and micro-batches (estimates/pipeline.py), data-parallel replicas (the
batch is shared; throughput adds up, latency is one replica's), the links each collective uses,
and a speculative drafter (estimates/speculative.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..units import fmt_bw, fmt_time
from .comm import GroupLink, node_size
from .memory import Memory
from .pipeline import Schedule, micro_batch_size, schedule, stage_layers
from .result import Phase
from .speculative import SpecResult, evaluate, with_draft_memory, with_draft_prefill
from .timing import StepTime


@dataclass
class ScaleOut:
    prefill: Phase
    decode: Phase
    memory: Memory
    parallel: dict
    comm: dict
    pipeline: dict | None = None
    speculative: dict | None = None
    notes: list[str] = field(default_factory=list)
    schedules: tuple[Schedule, Schedule] | None = None
    spec: SpecResult | None = None


def step_batch(s) -> int:
    """Sequences in one step's operator graph: a micro-batch under pipeline parallelism."""
    return micro_batch_size(s.batch, s.micro_batches)


def _link_doc(link) -> dict | None:
    if link is None:
        return None
    doc = {"name": link.name, "bandwidth": link.bandwidth, "latency_s": link.latency}
    if isinstance(link, GroupLink):
        doc.update(kind=link.kind, nodes=link.nodes, per_node=link.per_node, detail=link.detail)
    return doc


def apply(s, mem: Memory, pre_st: StepTime, dec_st: StepTime, pre: Phase, dec: Phase) -> ScaleOut:
    par, r = s.par, s.roofs
    total = s.total_batch or s.batch
    node = node_size(s.gpu, par.gpus_per_node)
    out = ScaleOut(pre, dec, mem,
                   parallel={"tp": par.tp, "pp": par.pp, "dp": par.dp, "ep": par.ep, "num_gpus": par.num_gpus,
                             "gpus_per_node": node, "nodes": -(-par.num_gpus // node), "micro_batches": s.micro_batches,
                             "inter_node_link": par.inter_node_link or s.gpu.scale_out_link or None,
                             "experts_per_gpu": s.model.moe.num_experts / par.ep if s.model.is_moe else None},
                   comm={"tp_link": _link_doc(r.tp_link), "pp_link": _link_doc(r.pp_link), "ep_link": _link_doc(r.ep_link)})
    if par.pp > 1:
        m = s.micro_batches
        ps, pre_ph = schedule(pre_st, "prefill", s.model.num_layers, par.pp, m)
        ds, dec_ph = schedule(dec_st, "decode", s.model.num_layers, par.pp, m)
        out.prefill, out.decode, out.schedules = pre_ph, dec_ph, (ps, ds)
        out.pipeline = {"stages": par.pp, "layers_per_stage": stage_layers(s.model.num_layers, par.pp),
                        "micro_batches": m, "micro_batch_size": step_batch(s),
                        "prefill": ps.to_dict(), "decode": ds.to_dict()}
        hint = f"; with {m} micro-batch{'es' if m > 1 else ''} for {par.pp} stages part of the pipeline idles" if m < par.pp else ""
        out.notes.append(f"pipeline of {par.pp} stages: bubble {ps.bubble_fraction:.0%} of the prefill and "
                         f"{ds.bubble_fraction:.0%} of each decode step{hint}")
    if s.speculative is not None:
        res = evaluate(s.speculative, s.model, s.prec, par, r, s.batch, s.input_len, s.output_len, dec_st)
        out.spec, out.speculative = res, res.to_dict()
        out.decode = res.decode
        out.prefill = with_draft_prefill(out.prefill, res)
        out.memory = with_draft_memory(mem, res)
        verdict = "slower than plain decoding" if res.speedup < 1 else "faster than plain decoding"
        out.notes.append(f"speculative decoding ({res.config.label}, k={res.config.k}, α={res.config.alpha:g}): "
                         f"{res.expected_tokens:.3g} tokens per step, {res.speedup:.2f}× — {verdict}")
    if par.dp > 1:
        out.notes.append(f"{par.dp} data-parallel replicas share the batch of {total}: {s.batch} sequences each; "
                         "throughput counts every replica, latency is one replica's")
    if r.tp_link is not None and getattr(r.tp_link, "kind", "scale-up") != "scale-up":
        e2e = out.prefill.time_s + (s.output_len - 1) * out.decode.time_s
        comm = out.prefill.comm_s + (s.output_len - 1) * out.decode.comm_s
        out.notes.append(f"tensor-parallel all-reduces cross {r.tp_link.name} at {fmt_bw(r.tp_link.bandwidth)} per GPU "
                         f"({fmt_time(r.tp_link.latency)} each + bytes): {comm / e2e:.0%} of the time is communication")
    return out


def describe_parallel(s) -> list[tuple[str, str, str, str]]:
    """Inputs-section lines: the split, the replica batch and each link with its derivation."""
    par, r = s.par, s.roofs
    out = []
    if par.num_gpus > 1:
        ep = f", experts over ep = tp × dp = {par.ep} GPUs ({s.model.moe.num_experts // par.ep} of {s.model.moe.num_experts} experts per GPU)" if par.ep > 1 else ""
        out.append(("parallel", "tp × pp × dp", f"{par.tp} × {par.pp} × {par.dp}", f"{par.num_gpus} GPUs{ep}"))
    if par.dp > 1:
        total = s.total_batch or s.batch
        out.append(("batch per replica", "⌈batch / dp⌉", f"⌈{total} / {par.dp}⌉", f"{s.batch} sequences"))
    for label, link in (("tensor-parallel link", r.tp_link), ("pipeline link", r.pp_link), ("expert-parallel link", r.ep_link)):
        if link is not None:
            detail = getattr(link, "detail", "")
            out.append((label, f"{link.name}: per-GPU bandwidth" + (f" = {detail}" if detail else ""), "",
                        f"{fmt_bw(link.bandwidth)}, {fmt_time(link.latency)} per collective"))
    return out


def describe_results(s, so: ScaleOut) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Sections for the pipeline schedule and the speculative step."""
    from . import pipeline, speculative

    sections = []
    if so.schedules is not None:
        counts = stage_layers(s.model.num_layers, s.par.pp)
        lines = []
        for phase, sch in zip(("prefill", "decode"), so.schedules):
            lines += pipeline.describe(sch, phase, s.par.pp, s.micro_batches, step_batch(s), counts)
        sections.append(("pipeline", lines))
    if so.spec is not None:
        sections.append(("speculative decoding", speculative.describe(so.spec)))
    return sections
