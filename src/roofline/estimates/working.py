"""The explain trace of an estimate, recorded from its evaluation.

The evaluation runs again with recording on: the operator graph keeps each operator's formula
with its numbers, the timing keeps each operator's compute and memory time, and the capacity
search records the arithmetic of its answer. Every line below prints values the computation
produced, so the printed arithmetic is the arithmetic done.
"""

from __future__ import annotations

from ..cost.params import count_params
from ..explain import Trace
from ..units import fmt_bytes, fmt_count, fmt_flops, fmt_num, fmt_rate, fmt_time
from .comm import collective_working
from .evaluation import evaluate
from .memory import memory
from .phases import PhaseParts
from .scaleout import describe_parallel, describe_results
from .timing import describe_roofs, link_for


def _inputs(t: Trace, s) -> None:
    m, g, p = s.model, s.gpu, s.prec
    t.begin("inputs")
    t.add("model", "catalog config", "", f"{m.name}: {m.num_layers} layers, d={m.hidden_size}, {m.kv_kind}, "
          f"{fmt_count(count_params(m).total, exact=True)} params")
    resolved = f" (resolved from '{s.gpu_query}')" if s.gpu_query.lower() != g.name else ""
    t.add("gpu", "catalog", "", f"{g.display_name} [{g.name}]{resolved}")
    t.add("precision", "resolved for this GPU", "", p.label)
    t.add("calibration", "profile of named empirical factors", "", f"{s.profile.name} ({s.profile.source})")
    for note in p.notes:
        t.note(note)
    for line in describe_parallel(s):
        t.add(*line)
    t.add("workload", "batch, input, output", "", f"{s.batch} × ({s.input_len} in + {s.output_len} out) tokens")


def _op_lines(t: Trace, s, st) -> None:
    for ot in st.ops:
        op = ot.op
        times = f"×{op.count}" if op.count > 1 else ""
        if op.unit == "comm":
            link, group = link_for(op.comm_kind, s.roofs, s.par)
            t.add(f"{op.name}{times} message", op.expr.get("bytes", "message"), "", fmt_bytes(float(op.comm)))
            if link is not None:
                launch = float(s.roofs.eager_collective_latency) if op.eager else 0.0
                form, sub = collective_working(op.comm_kind, float(op.comm), group, link, launch)
                t.add(f"{op.name}{times} time", form, sub, f"{fmt_time(float(ot.comm))} each")
            continue
        t.add(f"{op.name}{times} FLOPs", op.expr.get("flops", ""), "", fmt_flops(float(op.flops)))
        t.add(f"{op.name}{times} bytes", op.expr.get("bytes", ""), "", fmt_bytes(float(op.bytes)))
        if "note" in op.expr:
            t.note(op.expr["note"])
        roof = {"gemm": s.roofs.gemm, "attention": s.roofs.attention, "vector": s.roofs.vector}[op.unit]
        tc, tm, o = float(ot.compute), float(ot.memory), float(ot.overlap)
        which = "compute" if tc >= tm else "memory"
        hidden = "" if o == 1 else f" + (1 − {o:.3g}) × {fmt_time(min(tc, tm))}"
        t.add(f"{op.name}{times} time",
              "max(t_c = FLOPs / compute roof, t_m = bytes / memory roof)"
              + ("" if o == 1 else " + (1 − overlap) × min(t_c, t_m)") + " + overhead",
              f"max({fmt_flops(float(op.flops))} / {fmt_rate(float(roof))} = {fmt_time(tc)}, "
              f"{fmt_bytes(float(op.bytes))} / {fmt_bytes(float(s.roofs.bandwidth))}/s = {fmt_time(tm)}){hidden} + "
              f"{fmt_time(float(ot.overhead))}", f"{fmt_time(float(ot.total))} ({which}-bound)")


def _phase_total(t: Trace, label: str, name: str, ph, st=None, ideal: bool = False) -> None:
    ph = ph.at() if isinstance(ph, PhaseParts) else ph
    if ideal and st is not None:  # the physical limit: every operator fused and overlapped
        from .timing import describe_limit

        form, sub, res = describe_limit(st)
        t.add(name, form, sub, res)
    else:
        t.add(name, "Σ op time × count", f"compute-bound {fmt_time(ph.compute_s)} + memory-bound {fmt_time(ph.memory_s)} + "
              f"overhead {fmt_time(ph.overhead_s)} + comm {fmt_time(ph.comm_s)}", fmt_time(ph.time_s))
    t.add(f"{label} arithmetic intensity", "FLOPs / bytes", f"{fmt_flops(ph.flops)} / {fmt_bytes(ph.bytes)}",
          f"{ph.arithmetic_intensity:.3g} FLOP/B ({ph.bound}-bound)")


def _phases(t: Trace, s, ev) -> None:
    from .evaluation import phase_parts

    for label, st, final in (("prefill", ev.prefill_step, ev.prefill), ("decode step", ev.decode_step, ev.decode)):
        t.begin(label)
        _op_lines(t, s, st)
        if s.par.pp > 1 or (s.speculative is not None and label != "prefill"):  # a schedule turns this step into the phase
            name = "one micro-batch through every stage" if s.par.pp > 1 else "plain decode step"
            _phase_total(t, label, name, phase_parts(st), st, s.ideal)
        else:
            _phase_total(t, label, "TTFT (prefill)" if label == "prefill" else "decode step (TPOT)", final, st, s.ideal)


def _results(t: Trace, s, est, ev) -> None:
    from .capacity import capacity_of

    g, p, par = s.gpu, s.prec, s.par
    t.begin("results")
    if s.speculative is not None and ev.spec is not None and ev.spec.draft_prefill_s:
        t.add("TTFT", "target prefill + draft prefill", "", fmt_time(est.ttft_s))
    t.add("e2e latency", "TTFT + (output_len − 1) × TPOT",
          f"{fmt_time(est.ttft_s)} + {s.output_len - 1} × {fmt_time(est.tpot_s)}", fmt_time(est.e2e_latency_s))
    b = s.total_batch
    t.add("decode throughput", "batch / TPOT", f"{b} / {fmt_time(est.tpot_s)}", f"{est.decode_tokens_per_s:.4g} tokens/s")
    t.add("output throughput", "batch × output_len / e2e", f"{b} × {s.output_len} / {fmt_time(est.e2e_latency_s)}",
          f"{est.output_tokens_per_s:.4g} tokens/s")
    if par.num_gpus > 1:
        t.add("per GPU", "output throughput / GPUs", f"{est.output_tokens_per_s:.4g} / {par.num_gpus}",
              f"{est.output_tokens_per_s / par.num_gpus:.4g} tokens/s")
        comm = float(ev.comm_s)
        t.add("communication share", "(prefill comm + (output_len − 1) × decode comm) / e2e",
              f"{fmt_time(comm)} / {fmt_time(est.e2e_latency_s)}", f"{comm / est.e2e_latency_s:.3g}")
    t.add("ridge point", f"peak {p.gemm_compute} / bandwidth", f"{fmt_rate(g.peak(p.gemm_compute))} / "
          f"{fmt_bytes(g.memory_bandwidth)}/s", f"{est.ridge_point_flop_per_byte:.4g} FLOP/B")
    t.add("critical batch", "smallest batch where decode weight-GEMM FLOP time ≥ byte time", "",
          str(est.critical_batch_size) if est.critical_batch_size else "none below 4M (never compute-bound)")
    c = capacity_of(s, trace=t)
    window = s.model.max_position_embeddings
    t.add("longest context", f"min(largest prompt + {s.output_len} output tokens that fits at batch {s.total_batch}, context window)",
          f"min({c.max_context_len_by_memory}, {window or 'none stated'})",
          f"{c.max_context_len} tokens" if c.max_context_len else "none: even a 1-token prompt does not fit")
    t.add("fewest GPUs", "smallest power of two with a split (tp × pp × dp, the parallel planner's list) that fits", "",
          f"{c.min_gpus} (tp={c.min_gpus_tp}, pp={c.min_gpus_pp}, dp={c.min_gpus_dp})" if c.min_gpus else "more than 4096")


def trace_estimate(est) -> Trace:
    """The trace of an estimate (roofline.Estimate), from its setup re-evaluated with recording on."""
    s = est.setup
    t = Trace()
    _inputs(t, s)
    memory(s.model, s.prec, s.par, s.batch, s.input_len, s.output_len, s.capacity,
           s.profile.value("runtime_overhead_bytes"), trace=t)
    from . import kv_capacity
    from .capacity import engine_kv_capacity

    t.begin("engine KV cache (continuous batching)")
    for line in kv_capacity.working(engine_kv_capacity(s)):
        t.add(*line)
    t.begin("roofs")
    for line in describe_roofs(s.gpu, s.prec, s.roofs, s.ideal):
        t.add(*line)
    ev = evaluate(s, trace=t)
    _phases(t, s, ev)
    for section, lines in describe_results(s, ev):
        t.begin(section)
        for line in lines:
            t.add(*line)
    _results(t, s, est, ev)
    return t
