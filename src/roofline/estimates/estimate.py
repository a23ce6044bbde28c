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
from .result import Estimate, OpRow, Phase
from .timing import Roofs, StepTime, bound_label, describe_roofs, roofs, time_step

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


def setup(model, gpu, *, tp=1, pp=1, dp=1, ep=1, dtype=None, weight_dtype=None, kv_cache_dtype=None,
          activation_dtype=None, weight_bits=None, batch_size=1, input_len=1024, output_len=256,
          ideal=False, gpus_per_node=None, gpu_memory_utilization=1.0) -> Setup:
    m = model if isinstance(model, ModelSpec) else get_model(model)
    if isinstance(gpu, GPU):
        g, query = gpu, gpu.name
    else:
        g, query = get_gpu(gpu), str(gpu)
    batch = check_count("batch size", batch_size, maximum=MAX_BATCH)
    L = check_count("input length", input_len, maximum=MAX_TOKENS)
    out = check_count("output length", output_len, maximum=MAX_TOKENS)
    sizes = {k: check_count(k, v, maximum=4096) for k, v in (("tensor-parallel size", tp), ("pipeline-parallel size", pp),
                                                               ("data-parallel size", dp), ("expert-parallel size", ep))}
    if gpus_per_node is not None:
        gpus_per_node = check_count("gpus per node", gpus_per_node, maximum=4096)
    if not (isinstance(gpu_memory_utilization, (int, float)) and 0 < gpu_memory_utilization <= 1):
        raise RooflineError(f"--gpu-memory-utilization must be in (0, 1], got {gpu_memory_utilization!r}")
    par = Parallel(tp=sizes["tensor-parallel size"], pp=sizes["pipeline-parallel size"], dp=sizes["data-parallel size"],
                   ep=sizes["expert-parallel size"], gpus_per_node=gpus_per_node)
    par.check(m)
    prec = resolve_precision(g, dtype, weight_dtype, kv_cache_dtype, activation_dtype, weight_bits)
    return Setup(m, g, query, prec, par, batch, L, out, bool(ideal), g.memory_bytes * gpu_memory_utilization,
                 roofs(g, prec, par, ideal))


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
    fine = np.arange(coarse[over[0] - 1], coarse[over[0]] + 1)
    comp, memt = _gemm_times(s, fine)
    return int(fine[np.nonzero(comp >= memt)[0][0]])


def _describe_model(m: ModelSpec) -> dict:
    p = count_params(m)
    return {
        "name": m.name, "architecture": m.architecture, "total_params": p.total, "active_params": p.active,
        "active_params_excluding_embedding": p.active_excluding_embedding, "layers": m.num_layers,
        "hidden_size": m.hidden_size, "attention": m.kv_kind, "moe": m.is_moe,
    }


def _trace(s: Setup, est: Estimate, pre: StepTime, dec: StepTime) -> Trace:
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
    if par.num_gpus > 1:
        t.add("parallel", "tp × pp × dp", f"{par.tp} × {par.pp} × {par.dp}", f"{par.num_gpus} GPUs")
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
                t.add(f"{op.name}{times}", op.expr.get("bytes", "message"), "", f"{fmt_time(float(ot.comm))} each")
                continue
            t.add(f"{op.name}{times} FLOPs", op.expr.get("flops", ""), "", fmt_flops(float(op.flops)))
            t.add(f"{op.name}{times} bytes", op.expr.get("bytes", ""), "", fmt_bytes(float(op.bytes)))
            if "note" in op.expr:
                t.note(op.expr["note"])
            roof = {"gemm": s.roofs.gemm, "attention": s.roofs.attention, "vector": s.roofs.vector}[op.unit]
            which = "compute" if float(ot.compute) >= float(ot.memory) else "memory"
            t.add(f"{op.name}{times} time", "max(FLOPs / compute roof, bytes / memory roof) + overhead",
                  f"max({fmt_flops(float(op.flops))} / {fmt_rate(float(roof))}, {fmt_bytes(float(op.bytes))} / {fmt_bytes(float(s.roofs.bandwidth))}/s) + {fmt_time(float(ot.overhead))}",
                  f"{fmt_time(float(ot.total))} ({which}-bound)")
        total_name = "TTFT (prefill)" if label == "prefill" else "decode step (TPOT)"
        ph = est.prefill if label == "prefill" else est.decode
        t.add(total_name, "Σ op time × count", f"compute-bound {fmt_time(ph.compute_s)} + memory-bound {fmt_time(ph.memory_s)} + overhead {fmt_time(ph.overhead_s)} + comm {fmt_time(ph.comm_s)}",
              fmt_time(ph.time_s))
        t.add(f"{label} arithmetic intensity", "FLOPs / bytes", f"{fmt_flops(ph.flops)} / {fmt_bytes(ph.bytes)}", f"{ph.arithmetic_intensity:.3g} FLOP/B ({ph.bound}-bound)")
    t.begin("results")
    t.add("e2e latency", "TTFT + (output_len − 1) × TPOT", f"{fmt_time(est.ttft_s)} + {s.output_len - 1} × {fmt_time(est.tpot_s)}", fmt_time(est.e2e_latency_s))
    t.add("decode throughput", "batch / TPOT", f"{s.batch} / {fmt_time(est.tpot_s)}", f"{est.decode_tokens_per_s:.4g} tokens/s")
    t.add("output throughput", "batch × output_len / e2e", f"{s.batch} × {s.output_len} / {fmt_time(est.e2e_latency_s)}", f"{est.output_tokens_per_s:.4g} tokens/s")
    t.add("ridge point", f"peak {p.gemm_compute} / bandwidth", f"{fmt_rate(g.peak(p.gemm_compute))} / {fmt_bytes(g.memory_bandwidth)}/s",
          f"{est.ridge_point_flop_per_byte:.4g} FLOP/B")
    t.add("critical batch", "smallest batch where decode weight-GEMM FLOP time ≥ byte time", "",
          str(est.critical_batch_size) if est.critical_batch_size else "none below 4M (never compute-bound)")
    return t


def estimate(model, gpu, *, tp=1, pp=1, dp=1, ep=1, dtype=None, weight_dtype=None, kv_cache_dtype=None,
             activation_dtype=None, weight_bits=None, batch_size=1, input_len=1024, output_len=256, ideal=False,
             gpus_per_node=None, gpu_memory_utilization=1.0) -> Estimate:
    """Memory, TTFT, TPOT, throughput and what bounds them, for `model` served on `gpu`.

    `model`: catalog name, alias, HF repo id, path to a config.json, or a ModelSpec.
    `gpu`: catalog name or alias (`h100`, `a100`), or a GPU spec. Memory figures are per GPU.
    """
    s = setup(model, gpu, tp=tp, pp=pp, dp=dp, ep=ep, dtype=dtype, weight_dtype=weight_dtype,
              kv_cache_dtype=kv_cache_dtype, activation_dtype=activation_dtype, weight_bits=weight_bits,
              batch_size=batch_size, input_len=input_len, output_len=output_len, ideal=ideal,
              gpus_per_node=gpus_per_node, gpu_memory_utilization=gpu_memory_utilization)
    return run(s)


def run(s: Setup) -> Estimate:
    m, g, p, par = s.model, s.gpu, s.prec, s.par
    mem = memory(m, p, par, s.batch, s.input_len, s.output_len, s.capacity, factor("runtime_overhead_bytes").value)
    pre = time_step(step_ops(m, p, par, "prefill", s.batch, s.input_len, s.output_len), s.roofs, par)
    dec = time_step(step_ops(m, p, par, "decode", s.batch, s.input_len, s.output_len), s.roofs, par)
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
        parallel={"tp": par.tp, "pp": par.pp, "dp": par.dp, "ep": par.ep, "num_gpus": par.num_gpus},
        workload={"batch_size": s.batch, "input_len": s.input_len, "output_len": s.output_len},
        ideal=s.ideal,
        memory=mem,
        prefill=_phase(pre),
        decode=_phase(dec),
        ridge_point_flop_per_byte=g.ridge_point(p.gemm_compute),
        critical_batch_size=critical_batch(s),
        notes=tuple(notes),
        ops=tuple(_op_rows("prefill", pre) + _op_rows("decode", dec)),
    )
    object.__setattr__(est, "_explain", lambda: _trace(s, est, _traced(s, "prefill"), _traced(s, "decode")))
    return est


def _traced(s: Setup, phase: str) -> StepTime:
    return time_step(step_ops(s.model, s.prec, s.par, phase, s.batch, s.input_len, s.output_len, trace=True), s.roofs, s.par)
