"""`estimate()`: does it fit, how fast is prefill and decode, and what limits each.

TTFT is the prefill of batch × input_len tokens (it yields the first token); TPOT is the mean
decode step over the output; e2e = TTFT + (output_len − 1) × TPOT; output tokens/s is the static
batch's batch × output_len / e2e.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..catalog import get_gpu, get_model, resolve_gpu
from ..catalog.factors import factor
from ..cost.graph import step_ops
from ..cost.ops import n
from ..cost.params import count_params
from ..errors import RooflineError
from ..explain import Trace
from ..specs.hardware import GPU
from ..specs.model import ModelSpec
from ..specs.parallel import Parallel
from ..specs.precision import Precision, resolve_precision
from ..units import fmt_bytes, fmt_flops, fmt_num, fmt_rate, fmt_time
from .memory import memory
from .pipeline import micro_batches as pipeline_micro_batches
from .speculative import SpecConfig
from .speculative import resolve as resolve_speculative
from .comm import collective_working
from .scaleout import apply as scale_out
from .scaleout import describe_parallel, describe_results
from .scaleout import step_batch
from .split import replica_batch, resolve_split
from .result import Estimate, OpRow, Phase
from .timing import Roofs, StepTime, bound_label, describe_roofs, link_for, roofs, time_step

MAX_TOKENS = 100_000_000  # beyond any context window in use
MAX_BATCH = 10_000_000


def check_count(name: str, value, *, minimum: int = 1, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or (isinstance(value, float) and not value.is_integer()):
        raise RooflineError(f"{name} must be a whole number, got {value!r}")
    v = int(value)
    if v < minimum:
        raise RooflineError(f"{name} must be at least {minimum}, got {v}")
    if v > maximum:
        raise RooflineError(f"{name} = {v} is beyond any real workload (max {maximum:,})")
    return v


@dataclass(frozen=True)
class Setup:
    """Everything an estimate needs, resolved and validated once."""

    model: ModelSpec
    gpu: GPU
    gpu_query: str
    prec: Precision
    par: Parallel
    batch: int
    input_len: int
    output_len: int
    ideal: bool
    capacity: float
    roofs: Roofs
    total_batch: int = 0  # sequences across all data-parallel replicas (`batch` is one replica's); 0: same
    micro_batches: int = 1  # pipeline-parallel micro-batches per step
    speculative: SpecConfig | None = None


def setup(model, gpu, *, tp=1, pp=1, dp=1, ep=1, dtype=None, weight_dtype=None, kv_cache_dtype=None,
          activation_dtype=None, weight_bits=None, batch_size=1, input_len=1024, output_len=256,
          ideal=False, gpus_per_node=None, gpu_memory_utilization=1.0, num_gpus=None, inter_node_link=None,
          enable_expert_parallel=False, micro_batches=None, speculative_model=None, num_speculative_tokens=None,
          acceptance_rate=None) -> Setup:
    m = model if isinstance(model, ModelSpec) else get_model(model)
    if isinstance(gpu, GPU):
        g, query = gpu, gpu.name
    else:
        g, query = get_gpu(gpu), str(gpu)
    batch = check_count("batch size", batch_size, maximum=MAX_BATCH)
    L = check_count("input length", input_len, maximum=MAX_TOKENS)
    out = check_count("output length", output_len, maximum=MAX_TOKENS)
    if not (isinstance(gpu_memory_utilization, (int, float)) and 0 < gpu_memory_utilization <= 1):
        raise RooflineError(f"--gpu-memory-utilization must be in (0, 1], got {gpu_memory_utilization!r}")
    par = resolve_split(m, g, tp=tp, pp=pp, dp=dp, ep=ep, num_gpus=num_gpus, gpus_per_node=gpus_per_node,
                        inter_node_link=inter_node_link, enable_expert_parallel=enable_expert_parallel)
    spec = resolve_speculative(m, speculative_model, num_speculative_tokens, acceptance_rate, pp=par.pp)
    per_replica = replica_batch(batch, par.dp)
    if par.pp == 1 and micro_batches not in (None, 1):
        raise RooflineError("--num-micro-batches applies to pipeline parallelism (--pipeline-parallel-size > 1)")
    mbs = pipeline_micro_batches(per_replica, par.pp, micro_batches) if par.pp > 1 else 1
    prec = resolve_precision(g, dtype, weight_dtype, kv_cache_dtype, activation_dtype, weight_bits)
    return Setup(m, g, query, prec, par, per_replica, L, out, bool(ideal), g.memory_bytes * gpu_memory_utilization,
                 roofs(g, prec, par, ideal), total_batch=batch, micro_batches=mbs, speculative=spec)


def _phase(st: StepTime) -> Phase:
    return Phase(float(st.time), float(st.flops), float(st.bytes), bound_label(st), float(st.compute_bound_time),
                 float(st.memory_bound_time), float(st.overhead_time), float(st.comm_time))


def _op_rows(phase: str, st: StepTime) -> list[OpRow]:
    rows = []
    for t in st.ops:
        c, mem, ov, cm = float(t.compute), float(t.memory), float(t.overhead), float(t.comm)
        bound = "communication" if t.op.unit == "comm" else ("compute" if c >= mem else "memory")
        if t.op.unit != "comm" and ov > max(c, mem):
            bound = "overhead"
        rows.append(OpRow(phase, t.op.name, t.op.group, t.op.count, float(t.op.flops) * t.op.count,
                          float(t.op.bytes) * t.op.count, float(t.total) * t.op.count, bound))
    return rows


def _gemm_times(s: Setup, batches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ops = [o for o in step_ops(s.model, s.prec, s.par, "decode", batches, s.input_len, s.output_len)
           if o.unit == "gemm" and o.name != "lm_head"]
    st = time_step(ops, s.roofs, s.par)
    comp = sum(t.op.count * np.broadcast_to(t.compute, batches.shape) for t in st.ops)
    memt = sum(t.op.count * np.broadcast_to(t.memory, batches.shape) for t in st.ops)
    return comp, memt


_CRITICAL: dict[tuple, tuple[ModelSpec, int | None]] = {}


def critical_batch(s: Setup) -> int | None:
    """Smallest batch at which decode's weight GEMMs become compute-bound (their FLOP time reaches
    their byte time). Attention, which streams the KV cache, is left out, as in the seeds, so the
    answer does not depend on the lengths and is cached per model, format, split and GPU."""
    key = (id(s.model), s.prec, s.par, s.roofs)
    hit = _CRITICAL.get(key)
    if hit is not None and hit[0] is s.model:
        return hit[1]
    value = _critical_batch(s)
    if len(_CRITICAL) > 4096:
        _CRITICAL.clear()
    _CRITICAL[key] = (s.model, value)
    return value


def _critical_batch(s: Setup) -> int | None:
    coarse = np.unique(np.round(np.geomspace(1, 2**22, 96)))
    comp, memt = _gemm_times(s, coarse)
    over = np.nonzero(comp >= memt)[0]
    if over.size == 0:
        return None
    if over[0] == 0:
        return 1
    lo, hi = coarse[over[0] - 1], coarse[over[0]]  # lo is memory-bound, hi compute-bound
    while hi - lo > 1:  # each pass narrows the bracket 4096-fold, to the exact integer
        grid = np.unique(np.round(np.linspace(lo, hi, int(min(hi - lo + 1, 4097)))))
        comp, memt = _gemm_times(s, grid)
        i = int(np.nonzero(comp >= memt)[0][0])
        lo, hi = grid[i - 1], grid[i]
    return int(hi)


def _describe_model(m: ModelSpec) -> dict:
    p = count_params(m)
    return {
        "name": m.name, "architecture": m.architecture, "total_params": p.total, "active_params": p.active,
        "active_params_excluding_embedding": p.active_excluding_embedding, "layers": m.num_layers,
        "hidden_size": m.hidden_size, "attention": m.kv_kind, "moe": m.is_moe,
    }


def _trace(s: Setup, est: Estimate, pre: StepTime, dec: StepTime, so=None) -> Trace:
    t = Trace()
    m, g, p, par = s.model, s.gpu, s.prec, s.par
    t.begin("inputs")
    pc = count_params(m)
    t.add("model", "catalog config", "", f"{m.name}: {m.num_layers} layers, d={m.hidden_size}, {m.kv_kind}, {fmt_num(pc.total)} params")
    resolved = f" (resolved from '{s.gpu_query}')" if s.gpu_query.lower() != g.name else ""
    t.add("gpu", "catalog", "", f"{g.display_name} [{g.name}]{resolved}")
    t.add("precision", "resolved for this GPU", "", p.label)
    for note in p.notes:
        t.note(note)
    for name, form, sub, res in describe_parallel(s):
        t.add(name, form, sub, res)
    t.add("workload", "batch, input, output", "", f"{s.batch} × ({s.input_len} in + {s.output_len} out) tokens")
    memory(m, p, par, s.batch, s.input_len, s.output_len, s.capacity, factor("runtime_overhead_bytes").value, trace=t)
    t.begin("roofs")
    for name, form, sub, res in describe_roofs(g, p, s.roofs, s.ideal):
        t.add(name, form, sub, res)
    for label, st in (("prefill", pre), ("decode step", dec)):
        t.begin(label)
        for ot in st.ops:
            op = ot.op
            times = f"×{op.count}" if op.count > 1 else ""
            if op.unit == "comm":
                link, group = link_for(op.comm_kind, s.roofs, par)
                t.add(f"{op.name}{times} message", op.expr.get("bytes", "message"), "", fmt_bytes(float(op.comm)))
                if link is not None:
                    launch = float(getattr(s.roofs, "eager_collective_latency", 0.0)) if getattr(op, "eager", False) else 0.0
                    form, sub = collective_working(op.comm_kind, float(op.comm), group, link, launch)
                    t.add(f"{op.name}{times} time", form, sub, f"{fmt_time(float(ot.comm))} each")
                continue
            t.add(f"{op.name}{times} FLOPs", op.expr.get("flops", ""), "", fmt_flops(float(op.flops)))
            t.add(f"{op.name}{times} bytes", op.expr.get("bytes", ""), "", fmt_bytes(float(op.bytes)))
            if "note" in op.expr:
                t.note(op.expr["note"])
            roof = {"gemm": s.roofs.gemm, "attention": s.roofs.attention, "vector": s.roofs.vector}[op.unit]
            which = "compute" if float(ot.compute) >= float(ot.memory) else "memory"
            tc, tm, o = float(ot.compute), float(ot.memory), float(ot.overlap)
            hidden = "" if o == 1 else f" + (1 − {o:.3g}) × {fmt_time(min(tc, tm))}"
            t.add(f"{op.name}{times} time",
                  "max(t_c = FLOPs / compute roof, t_m = bytes / memory roof)"
                  + ("" if o == 1 else " + (1 − overlap) × min(t_c, t_m)") + " + overhead",
                  f"max({fmt_flops(float(op.flops))} / {fmt_rate(float(roof))} = {fmt_time(tc)}, "
                  f"{fmt_bytes(float(op.bytes))} / {fmt_bytes(float(s.roofs.bandwidth))}/s = {fmt_time(tm)}){hidden} + {fmt_time(float(ot.overhead))}",
                  f"{fmt_time(float(ot.total))} ({which}-bound)")
        total_name = "TTFT (prefill)" if label == "prefill" else "decode step (TPOT)"
        ph = est.prefill if label == "prefill" else est.decode
        if par.pp > 1 or (s.speculative is not None and label != "prefill"):  # the schedule below turns this step into the phase
            total_name = ("one micro-batch through every stage" if par.pp > 1 else "plain decode step")
            ph = _phase(st)
        t.add(total_name, "Σ op time × count", f"compute-bound {fmt_time(ph.compute_s)} + memory-bound {fmt_time(ph.memory_s)} + overhead {fmt_time(ph.overhead_s)} + comm {fmt_time(ph.comm_s)}",
              fmt_time(ph.time_s))
        t.add(f"{label} arithmetic intensity", "FLOPs / bytes", f"{fmt_flops(ph.flops)} / {fmt_bytes(ph.bytes)}", f"{ph.arithmetic_intensity:.3g} FLOP/B ({ph.bound}-bound)")
    for section, lines in describe_results(s, so) if so is not None else []:
        t.begin(section)
        for name, form, sub, res in lines:
            t.add(name, form, sub, res)
    t.begin("results")
    t.add("e2e latency", "TTFT + (output_len − 1) × TPOT", f"{fmt_time(est.ttft_s)} + {s.output_len - 1} × {fmt_time(est.tpot_s)}", fmt_time(est.e2e_latency_s))
    b = est.workload["batch_size"]  # all replicas
    t.add("decode throughput", "batch / TPOT", f"{b} / {fmt_time(est.tpot_s)}", f"{est.decode_tokens_per_s:.4g} tokens/s")
    t.add("output throughput", "batch × output_len / e2e", f"{b} × {s.output_len} / {fmt_time(est.e2e_latency_s)}", f"{est.output_tokens_per_s:.4g} tokens/s")
    if par.num_gpus > 1:
        t.add("per GPU", "output throughput / GPUs", f"{est.output_tokens_per_s:.4g} / {par.num_gpus}",
              f"{est.output_tokens_per_s / par.num_gpus:.4g} tokens/s")
        comm = est.prefill.comm_s + (s.output_len - 1) * est.decode.comm_s
        t.add("communication share", "(prefill comm + (output_len − 1) × decode comm) / e2e",
              f"{fmt_time(comm)} / {fmt_time(est.e2e_latency_s)}", f"{comm / est.e2e_latency_s:.3g}")
    t.add("ridge point", f"peak {p.gemm_compute} / bandwidth", f"{fmt_rate(g.peak(p.gemm_compute))} / {fmt_bytes(g.memory_bandwidth)}/s",
          f"{est.ridge_point_flop_per_byte:.4g} FLOP/B")
    t.add("critical batch", "smallest batch where decode weight-GEMM FLOP time ≥ byte time", "",
          str(est.critical_batch_size) if est.critical_batch_size else "none below 4M (never compute-bound)")
    cap = est.capacity
    per_seq = (est.memory.kv_cache_bytes + est.memory.activation_bytes) / max(s.batch, 1)
    free = s.capacity - est.memory.weights_bytes - est.memory.overhead_bytes
    t.add("largest batch", "⌊(capacity − weights − overhead) / (KV + activations per sequence)⌋ × replicas",
          f"⌊{fmt_bytes(free)} / {fmt_bytes(per_seq)}⌋ × {par.dp}", str(cap["max_batch_size"]))
    window = s.model.max_position_embeddings
    t.add("longest context", f"min(largest prompt + {s.output_len} output tokens that fits at batch {s.batch}, context window)",
          f"min({cap['max_context_len_by_memory']}, {window or 'none stated'})",
          f"{cap['max_context_len']} tokens" if cap["max_context_len"] else "none: even a 1-token prompt does not fit")
    t.add("fewest GPUs", "smallest power of two whose tp × pp split (tp inside a node first) fits this workload", "",
          f"{cap['min_gpus']} (tp={cap['min_gpus_tp']}, pp={cap['min_gpus_pp']})" if cap["min_gpus"] else "more than 4096")
    return t


def estimate(model, gpu, *, tp=1, pp=1, dp=1, ep=1, dtype=None, weight_dtype=None, kv_cache_dtype=None,
             activation_dtype=None, weight_bits=None, batch_size=1, input_len=1024, output_len=256, ideal=False,
             gpus_per_node=None, gpu_memory_utilization=1.0, num_gpus=None, inter_node_link=None,
             enable_expert_parallel=False, micro_batches=None, speculative_model=None, num_speculative_tokens=None,
             acceptance_rate=None) -> Estimate:
    """Memory, TTFT, TPOT, throughput and what bounds them, for `model` served on `gpu`.

    `model`: catalog name, alias, HF repo id, path to a config.json, or a ModelSpec.
    `gpu`: catalog name or alias (`h100`, `a100`), or a GPU spec. Memory figures are per GPU.
    Scale-out: `tp`, `pp`, `dp` (or `num_gpus`, the rest becoming data-parallel replicas; `batch_size`
    is then shared by the replicas), `enable_expert_parallel` (experts over tp × dp GPUs),
    `gpus_per_node`, `inter_node_link` (links.toml key), `micro_batches` (pipeline).
    Speculative decoding: `speculative_model` (a model, 'mtp' or 'ngram'), `num_speculative_tokens`,
    `acceptance_rate`.
    """
    s = setup(model, gpu, tp=tp, pp=pp, dp=dp, ep=ep, dtype=dtype, weight_dtype=weight_dtype,
              kv_cache_dtype=kv_cache_dtype, activation_dtype=activation_dtype, weight_bits=weight_bits,
              batch_size=batch_size, input_len=input_len, output_len=output_len, ideal=ideal,
              gpus_per_node=gpus_per_node, gpu_memory_utilization=gpu_memory_utilization, num_gpus=num_gpus,
              inter_node_link=inter_node_link, enable_expert_parallel=enable_expert_parallel,
              micro_batches=micro_batches, speculative_model=speculative_model,
              num_speculative_tokens=num_speculative_tokens, acceptance_rate=acceptance_rate)
    return run(s)


def run(s: Setup) -> Estimate:
    m, g, p, par = s.model, s.gpu, s.prec, s.par
    mem = memory(m, p, par, s.batch, s.input_len, s.output_len, s.capacity, factor("runtime_overhead_bytes").value)
    sb = step_batch(s)  # the batch, or one pipeline micro-batch
    pre = time_step(step_ops(m, p, par, "prefill", sb, s.input_len, s.output_len), s.roofs, par)
    dec = time_step(step_ops(m, p, par, "decode", sb, s.input_len, s.output_len), s.roofs, par)
    so = scale_out(s, mem, pre, dec, _phase(pre), _phase(dec))
    mem_base, mem = mem, so.memory
    notes = list(p.notes)
    ctx = s.input_len + s.output_len
    if m.max_position_embeddings and ctx > m.max_position_embeddings:
        notes.append(f"{ctx} tokens exceed {m.name}'s context window of {m.max_position_embeddings}")
    if not mem.fits:
        notes.append(f"does not fit: {fmt_bytes(mem.total_bytes)} needed per GPU, {fmt_bytes(mem.capacity_bytes)} available "
                     f"(short by {fmt_bytes(mem.shortfall_bytes)})")
    gpu_info = {"name": g.name, "display_name": g.display_name, "query": s.gpu_query,
                "memory_bytes": g.memory_bytes, "memory_bandwidth": g.memory_bandwidth,
                "peak_flops": g.peak(p.gemm_compute), "compute_dtype": p.gemm_compute}
    est = Estimate(
        model=_describe_model(m),
        gpu=gpu_info,
        precision={"dtype": p.model.name, "weight_dtype": p.weight.name, "weight_bits": p.weight.bits,
                   "activation_dtype": p.activation.name, "kv_cache_dtype": p.kv_cache.name,
                   "compute_dtype": p.gemm_compute, "weight_only": p.weight_only, "label": p.label},
        parallel=so.parallel,
        workload={"batch_size": s.total_batch or s.batch, "batch_per_replica": s.batch, "input_len": s.input_len,
                  "output_len": s.output_len},
        ideal=s.ideal,
        memory=mem,
        prefill=so.prefill,
        decode=so.decode,
        ridge_point_flop_per_byte=g.ridge_point(p.gemm_compute),
        critical_batch_size=critical_batch(s),
        notes=tuple(notes + so.notes),
        ops=tuple(_op_rows("prefill", pre) + _op_rows("decode", dec)),
        comm=so.comm,
        pipeline=so.pipeline,
        speculative=so.speculative,
    )
    object.__setattr__(est, "_explain", lambda: _trace(s, est, _traced(s, "prefill"), _traced(s, "decode"), so))
    object.__setattr__(est, "_capacity", lambda: _capacity(s, so.memory.total_bytes - mem_base.total_bytes))
    return est


def _capacity(s: Setup, extra: float) -> dict:
    """`extra`: memory the scale-out adds (a speculative draft), held fixed."""
    from .capacity import max_batch, max_context, min_gpus
    from .comm import node_size

    m, p, par = s.model, s.prec, s.par
    per_replica = max_batch(m, p, par, s.input_len, s.output_len, s.capacity, extra)
    fewest = min_gpus(m, p, s.batch, s.input_len, s.output_len, s.capacity, extra,
                      node=node_size(s.gpu, par.gpus_per_node)) or {}
    by_memory = max_context(m, p, par, s.batch, s.output_len, s.capacity, extra)
    window = m.max_position_embeddings
    return {
        "max_batch_size": per_replica * par.dp,
        "max_context_len": min(by_memory, window) if window else by_memory,
        "max_context_len_by_memory": by_memory,
        "min_gpus": fewest.get("num_gpus"),  # None: more than 4096
        "min_gpus_tp": fewest.get("tp"),
        "min_gpus_pp": fewest.get("pp"),
    }


def _traced(s: Setup, phase: str) -> StepTime:
    return time_step(step_ops(s.model, s.prec, s.par, phase, step_batch(s), s.input_len, s.output_len, trace=True), s.roofs, s.par)
