"""`estimate()`: does it fit, how fast is prefill and decode, and what limits each.

TTFT is the prefill of batch × input_len tokens (it yields the first token); TPOT is the mean
decode step over the output; e2e = TTFT + (output_len − 1) × TPOT; output tokens/s is the static
batch's batch × output_len / e2e.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import get_gpu, get_model
from ..catalog.factors import Profile, default_profile
from ..cost.params import count_params
from ..errors import RooflineError
from ..specs.hardware import GPU
from ..specs.model import ModelSpec
from ..specs.parallel import Parallel
from ..specs.precision import Precision, resolve_precision
from ..units import fmt_bytes
from .evaluation import Evaluation, evaluate
from .limits import MAX_BATCH, MAX_TOKENS, check_count  # noqa: F401  (re-exported)
from .memory import Memory, kv_bytes_per_token
from .pipeline import micro_batches_for
from .result import Estimate
from .scaleout import comm_doc, notes as scale_notes, parallel_doc, pipeline_doc
from .speculative import SpecConfig
from .speculative import resolve as resolve_speculative
from .split import replica_batch, resolve_split
from .timing import Roofs, roofs


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
    total_batch: int  # sequences across all data-parallel replicas (`batch` is one replica's)
    micro_batches: int  # pipeline-parallel micro-batches per step at this batch
    requested_micro_batches: int | None  # --num-micro-batches, None: min(batch per replica, pp)
    speculative: SpecConfig | None
    profile: Profile  # the calibration profile (named empirical factors) the roofs were built with


def setup(model, gpu, *, tp=1, pp=1, dp=1, ep=1, dtype=None, weight_dtype=None, kv_cache_dtype=None,
          activation_dtype=None, weight_bits=None, batch_size=1, input_len=1024, output_len=256,
          ideal=False, gpus_per_node=None, gpu_memory_utilization=1.0, num_gpus=None, inter_node_link=None,
          intra_node_link=None, split_mode="tensor", enable_expert_parallel=False, micro_batches=None, speculative_model=None, num_speculative_tokens=None,
          acceptance_rate=None, profile: Profile | None = None, calibration: str | None = None) -> Setup:
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
                        inter_node_link=inter_node_link, enable_expert_parallel=enable_expert_parallel,
                        intra_node_link=intra_node_link, split_mode=split_mode)
    spec = resolve_speculative(m, speculative_model, num_speculative_tokens, acceptance_rate, pp=par.pp)
    per_replica = replica_batch(batch, par.dp)
    if par.pp == 1 and micro_batches not in (None, 1):
        raise RooflineError("--num-micro-batches applies to pipeline parallelism (--pipeline-parallel-size > 1)")
    mbs = micro_batches_for(par.split_mode, per_replica, par.pp, micro_batches)
    prec = resolve_precision(g, dtype, weight_dtype, kv_cache_dtype, activation_dtype, weight_bits, checkpoint=m.quantization)
    pf = profile or (_calibration(calibration, g.name) if calibration else default_profile())
    g = with_measured_factors(g, pf)
    return Setup(m, g, query, prec, par, per_replica, L, out, bool(ideal), g.memory_bytes * gpu_memory_utilization,
                 roofs(g, prec, par, ideal, pf), batch, mbs, micro_batches, spec, pf)


def _describe_model(m: ModelSpec) -> dict:
    p = count_params(m)
    return {
        "name": m.name, "architecture": m.architecture, "total_params": p.total, "active_params": p.active,
        "active_params_excluding_embedding": p.active_excluding_embedding, "layers": m.num_layers,
        "hidden_size": m.hidden_size, "attention": m.kv_kind, "moe": m.is_moe,
    }


def _calibration(path, gpu_name: str) -> Profile:
    """`auto`: the profile `roofline calibrate` saved for this GPU, if any; `none`: the defaults; else a file."""
    from ..evidence.local_gpu import resolve_calibration

    if not isinstance(path, str) or not path.strip():
        raise RooflineError(f"--calibration takes the path of a profile written by `roofline calibrate`, got {path!r}")
    return resolve_calibration(path, gpu_name)


def with_measured_factors(g: GPU, pf: Profile) -> GPU:
    """The GPU with a calibration profile's measured factors for it (memory and matmul efficiency,
    kernel overhead) in place of the catalog's; unchanged when the profile measured another GPU."""
    measured = pf.gpu_factors.get(g.name)
    if not measured:
        return g
    from ..specs.hardware import GpuFactors

    doc = {**g.factors.model_dump(), **{k: v.model_dump() for k, v in measured.items()}}
    return g.model_copy(update={"factors": GpuFactors.model_validate(doc)})


def calibration_note(s: Setup) -> str | None:
    """Whose measured factors replaced the catalog's for this GPU, if any (a calibration profile)."""
    pf = s.profile
    if not pf.gpu_factors.get(s.gpu.name):
        return None
    return f"measured factors from {pf.name}" + (f" ({pf.source})" if pf.source != pf.name else "")


def point_memory(s: Setup, ev: Evaluation) -> Memory:
    return Memory(float(ev.weights_bytes), float(ev.kv_cache_bytes), float(ev.activation_bytes), float(ev.overhead_bytes),
                  float(ev.capacity_bytes), float(kv_bytes_per_token(s.model, s.prec, s.par)))


def run(s: Setup) -> Estimate:
    """The estimate: the evaluation at the setup's own point, described."""
    m, g, p = s.model, s.gpu, s.prec
    ev = evaluate(s)
    mem = point_memory(s, ev)
    notes = list(p.notes)
    ctx = s.input_len + s.output_len
    if m.max_position_embeddings and ctx > m.max_position_embeddings:
        notes.append(f"{ctx} tokens exceed {m.name}'s context window of {m.max_position_embeddings}")
    measured = calibration_note(s)
    if measured:
        notes.append(measured)
    if not mem.fits:
        notes.append(f"does not fit: {fmt_bytes(mem.total_bytes)} needed per GPU, {fmt_bytes(mem.capacity_bytes)} available "
                     f"(short by {fmt_bytes(mem.shortfall_bytes)})")
    gpu_info = {"name": g.name, "display_name": g.display_name, "query": s.gpu_query,
                "memory_bytes": g.memory_bytes, "memory_bandwidth": g.memory_bandwidth,
                "peak_flops": g.peak(p.gemm_compute), "compute_dtype": p.gemm_compute}
    return Estimate(
        model=_describe_model(m), gpu=gpu_info,
        precision={"dtype": p.model.name, "weight_dtype": p.weight.name, "weight_bits": p.weight.bits,
                   "activation_dtype": p.activation.name, "kv_cache_dtype": p.kv_cache.name,
                   "compute_dtype": p.gemm_compute, "weight_only": p.weight_only, "label": p.label},
        parallel=parallel_doc(s, int(ev.micro_batches)),
        workload={"batch_size": s.total_batch, "batch_per_replica": s.batch, "input_len": s.input_len,
                  "output_len": s.output_len},
        ideal=s.ideal, memory=mem, prefill=ev.prefill.at(), decode=ev.decode.at(),
        ridge_point_flop_per_byte=g.ridge_point(p.gemm_compute),
        notes=tuple(notes + scale_notes(s, ev)),
        comm=comm_doc(s), pipeline=pipeline_doc(s, ev),
        speculative=ev.spec.to_dict() if ev.spec is not None else None,
        setup=s, evaluation=ev,
    )
