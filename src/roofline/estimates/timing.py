"""Roofline time of an operator graph on a GPU.

Each operator costs max(t_compute, t_memory) + (1 − overlap) × min(t_compute, t_memory)
+ kernels × kernel overhead + dequantized weights × ops per weight / vector rate, where
t_compute = FLOPs / (peak × matmul efficiency) and t_memory = bytes / (bandwidth × memory efficiency).
`overlap` is how much of the shorter of the two a real kernel hides under the longer: 1 is the
pure roofline's max(), measured kernels near the ridge fall between max and sum.
Collectives cost what NCCL's cost model or the engine's own all-reduce charges: latency per
algorithm step + algorithm bytes / (link bandwidth × collective efficiency) (estimates/collectives.py).

Two figures per step: `op_sum_time`, each operator's own time summed (kernels run one after
another, unfused), and `limit_time`, the physical limit of the whole step with every operator fused
and overlapped: max(Σ tensor FLOPs / their peak, Σ vector FLOPs / vector rate, Σ bytes / bandwidth,
Σ collective time). With `ideal` (datasheet peaks, no efficiencies or overheads) the step's time
is that limit; otherwise it is the per-operator sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..catalog.factors import Profile, default_profile
from ..catalog.links import get_link
from ..cost.ops import Num, Op, n
from .collectives import CommLink
from ..specs.hardware import GPU, Link
from ..specs.parallel import Parallel
from ..specs.precision import Precision
from ..units import fmt_bw, fmt_rate, fmt_time


@dataclass(frozen=True)
class Roofs:
    """Achievable rates for one GPU (or arrays over GPUs in a sweep)."""

    gemm: Num  # FLOP/s for linear layers at the GEMM compute format
    attention: Num  # FLOP/s for attention (model dtype)
    vector: Num  # FLOP/s of the vector ALUs (norms, activations, dequantization)
    bandwidth: Num  # B/s
    kernel_overhead: Num  # s per kernel
    dequant_cost: Num  # s per dequantized weight element
    overlap: Num = 1.0  # fraction of min(t_compute, t_memory) hidden under the max
    eager_kernel_overhead: Num = 0.0  # extra s per kernel in steps not captured in a CUDA graph
    eager_collective_latency: Num = 0.0  # extra s per collective in such steps
    profile: Profile | None = None  # the calibration profile these roofs were built from
    tp_link: "CommLink | None" = None
    ideal: bool = False  # a step's time is its fused limit, not the per-operator sum
    pp_link: "CommLink | None" = None
    ep_link: "CommLink | None" = None  # expert-parallel all-to-all over tp × dp GPUs


def _vector_rate(gpu: GPU) -> float:
    # The fp32 non-tensor rate; accelerators that publish none (TPU, Gaudi) are charged their
    # slowest matrix rate, which only matters for tiny elementwise work.
    return gpu.peak_flops.get("fp32") or min(gpu.peak_flops.values())


def comm_link(gpu: GPU, group: int, gpus_per_node: int | None, ideal: bool, network: str | None = None,
              intra: str | None = None, profile: Profile | None = None) -> CommLink:
    """The link a group of `group` GPUs talks over: the scale-up fabric (NVLink, xGMI, ICI) when the
    group fits its domain within a node, PCIe inside one server, the network (InfiniBand/Ethernet)
    beyond it (estimates/comm.py)."""
    from .comm import group_link

    return group_link(gpu, group, gpus_per_node, ideal, network, intra, profile)


def roofs(gpu: GPU, prec: Precision, par: Parallel, ideal: bool = False, profile: Profile | None = None) -> Roofs:
    f = gpu.factors
    pf = profile or default_profile()
    factor = pf.__getitem__
    # the best-shape matmul rate (matmul_efficiency) times what a model's GEMM shapes get of it
    shape = 1.0 if ideal else factor("gemm_shape_efficiency").value
    eta_c = 1.0 if ideal else f.matmul_efficiency.for_dtype(prec.gemm_compute) * shape
    eta_a = 1.0 if ideal else f.matmul_efficiency.for_dtype(prec.model.compute) * shape
    eta_m = 1.0 if ideal else f.memory_efficiency.value
    vec = _vector_rate(gpu)
    return Roofs(
        ideal=bool(ideal),
        gemm=gpu.peak(prec.gemm_compute) * eta_c,
        attention=gpu.peak(prec.model.compute) * eta_a,
        vector=vec,
        bandwidth=gpu.memory_bandwidth * eta_m,
        kernel_overhead=0.0 if ideal else f.kernel_overhead_s.value,
        dequant_cost=0.0 if ideal else factor("dequant_ops_per_weight").value / vec,
        overlap=1.0 if ideal else factor("compute_memory_overlap").value,
        eager_kernel_overhead=0.0 if ideal else factor("eager_kernel_overhead_s").value,
        eager_collective_latency=0.0 if ideal else factor("eager_collective_latency_s").value,
        profile=pf,
        tp_link=_tensor_link(gpu, par, ideal, pf) if par.tp > 1 else None,
        pp_link=_pipeline_link(gpu, par, ideal, pf) if par.pp > 1 else None,
        ep_link=_all_to_all_link(gpu, par, ideal, pf) if par.ep > 1 else None,
    )


def _tensor_link(gpu: GPU, par: Parallel, ideal: bool, pf: Profile) -> CommLink:
    return comm_link(gpu, par.tp, par.gpus_per_node, ideal, par.inter_node_link, par.intra_node_link, pf)


def _all_to_all_link(gpu: GPU, par: Parallel, ideal: bool, pf: Profile) -> CommLink:
    from .comm import all_to_all_link

    return all_to_all_link(gpu, par.ep, par.gpus_per_node, ideal, par.inter_node_link, par.intra_node_link, pf)


def _pipeline_link(gpu: GPU, par: Parallel, ideal: bool, pf: Profile) -> CommLink:
    from .comm import pipeline_link

    return pipeline_link(gpu, par.tp, par.pp, par.gpus_per_node, ideal, par.inter_node_link, par.intra_node_link, pf)


def collective_time(kind: str, message: Num, group: int, link: CommLink) -> Num:
    """The fastest algorithm the link offers (estimates/collectives.py); a link without an
    algorithm model (ideal, or stacked over GPUs) pays `latency` + ring bytes / bandwidth: all-reduce
    moves 2(n−1)/n of the message per GPU, all-gather and all-to-all (n−1)/n, a send the message once."""
    if link.algorithms is not None:
        return link.algorithms.time(kind, message, group)
    factor_ = {"all_reduce": 2 * (group - 1) / group, "all_gather": (group - 1) / group,
               "all_to_all": (group - 1) / group, "p2p": 1.0}[kind]
    return link.latency + factor_ * np.asarray(message, dtype=float) / link.bandwidth


@dataclass
class OpTime:
    op: Op
    compute: Num  # per instance
    memory: Num
    overhead: Num  # kernel launches + dequantization
    comm: Num
    overlap: Num = 1.0
    fused: bool = False  # ideal: the step's limit (everything fused and overlapped) is its time
    roofline: Num = field(init=False)  # max(compute, memory) + the un-hidden part of the shorter
    total: Num = field(init=False)

    def __post_init__(self) -> None:
        if self.op.unit == "comm":
            self.roofline = 0.0
        else:
            hi, lo = np.maximum(self.compute, self.memory), np.minimum(self.compute, self.memory)
            self.roofline = hi + (1.0 - self.overlap) * lo
        self.total = self.roofline + self.overhead + self.comm


def link_for(kind: str, r: Roofs, par: Parallel) -> tuple[CommLink | None, int]:
    """The link and group size a collective of `kind` runs on."""
    if kind == "p2p":
        return r.pp_link, 2
    if kind == "all_to_all":
        return r.ep_link, par.ep
    return r.tp_link, par.tp


def eager_surcharge(op: Op, r: Roofs, par: Parallel):
    """Seconds one launch of `op` adds when launched from the host rather than replayed from a CUDA
    graph: a launch per kernel, a synchronization per collective that crosses a link."""
    if op.unit == "comm":
        return r.eager_collective_latency if link_for(op.comm_kind, r, par)[0] else 0.0
    return op.kernels * r.eager_kernel_overhead


def time_op(op: Op, r: Roofs, par: Parallel) -> OpTime:
    """Ops of an eager step (`op.eager`: engines replay decode steps as CUDA graphs but launch
    variable-shape prefills kernel by kernel from the host) pay a launch and synchronization on
    top, per kernel and per collective."""
    eager = eager_surcharge(op, r, par) if op.eager else 0.0
    if op.unit == "comm":
        link, group = link_for(op.comm_kind, r, par)
        t = collective_time(op.comm_kind, op.comm, group, link) + eager if link else 0.0
        return OpTime(op, 0.0, 0.0, 0.0, t, fused=_fused(r))
    peak = {"gemm": r.gemm, "attention": r.attention, "vector": r.vector}[op.unit]
    return OpTime(
        op,
        compute=np.asarray(op.flops, dtype=float) / peak,
        memory=np.asarray(op.bytes, dtype=float) / r.bandwidth,
        overhead=op.kernels * r.kernel_overhead + eager + np.asarray(op.dequant, dtype=float) * r.dequant_cost,
        comm=0.0,
        overlap=r.overlap,
        fused=_fused(r),
    )


def _fused(r: Roofs) -> bool:
    return bool(np.all(getattr(r, "ideal", False)))  # a sweep may stack roofs into arrays


@dataclass
class StepTime:
    """One step's operators timed and summed (each op × its count), in one pass.

    `op_sum_time`: Σ count × op time, kernels one after another. `limit_time`: the step with every
    operator fused into one and compute, memory and links all busy at once, max(tensor, vector,
    memory, link) time, where the tensor time sums each format's FLOPs over its own peak (GEMMs and
    attention may run at different formats on the same tensor cores) and the vector ALUs, memory
    and links are separate resources. limit_time ≤ op_sum_time always: Σ max(c_i, m_i) ≥
    max(Σ c_i, Σ m_i). `time` is the limit for ideal roofs, the per-operator sum otherwise."""

    ops: list[OpTime]

    def __post_init__(self) -> None:
        time = flops = nbytes = comp = mem = over = comm = wbytes = 0.0
        tensor = vector = memory = 0.0
        for t in self.ops:
            c = t.op.count
            time = time + c * t.total
            flops = flops + c * np.asarray(t.op.flops, dtype=float)
            nbytes = nbytes + c * np.asarray(t.op.bytes, dtype=float)
            if t.op.unit != "comm":
                is_compute = t.compute >= t.memory
                comp = comp + c * np.where(is_compute, t.roofline, 0.0)
                mem = mem + c * np.where(is_compute, 0.0, t.roofline)
                if t.op.unit == "vector":
                    vector = vector + c * np.asarray(t.compute, dtype=float)
                else:
                    tensor = tensor + c * np.asarray(t.compute, dtype=float)
                memory = memory + c * np.asarray(t.memory, dtype=float)
            over = over + c * t.overhead
            comm = comm + c * t.comm
            wbytes = wbytes + c * np.asarray(t.op.weight_bytes, dtype=float)
        self.flops, self.bytes, self.weight_bytes = flops, nbytes, wbytes
        self.op_sum_time = time
        self.limit_compute_time = np.maximum(tensor, vector)
        self.limit_memory_time, self.limit_comm_time = memory, comm
        self.limit_time = np.maximum(np.maximum(self.limit_compute_time, memory), comm)
        if self.ops and all(t.fused for t in self.ops):
            self._as_limit()
        else:
            self.time = time
            self.compute_bound_time, self.memory_bound_time = comp, mem  # time in compute- / memory-bound ops
            self.overhead_time, self.comm_time = over, comm

    def _as_limit(self) -> None:
        """The fused step: all of its time is charged to the resource that sets the limit."""
        lim, c, m, k = self.limit_time, self.limit_compute_time, self.limit_memory_time, self.limit_comm_time
        self.time = lim
        self.comm_time = np.where(k >= np.maximum(c, m), lim, 0.0)
        self.compute_bound_time = np.where((c >= m) & (self.comm_time == 0), lim, 0.0)
        self.memory_bound_time = np.where((c < m) & (self.comm_time == 0), lim, 0.0)
        self.overhead_time = 0.0 * lim


def time_step(ops: list[Op], r: Roofs, par: Parallel) -> StepTime:
    return StepTime([time_op(op, r, par) for op in ops])


def bound_label(step: StepTime) -> str:
    """Which share of the step's time is largest: compute, memory, overhead or communication."""
    parts = {
        "compute": float(step.compute_bound_time),
        "memory": float(step.memory_bound_time),
        "overhead": float(step.overhead_time),
        "communication": float(step.comm_time),
    }
    return max(parts, key=parts.get)


def describe_roofs(gpu: GPU, prec: Precision, r: Roofs, ideal: bool) -> list[tuple[str, str, str, str]]:
    """(name, formula, substituted, result) lines for the explain trace."""
    f = gpu.factors
    factor = (r.profile or default_profile()).__getitem__
    if ideal:
        return [
            ("compute roof", f"peak {prec.gemm_compute} (dense, datasheet)", "", fmt_rate(float(r.gemm))),
            ("memory roof", "datasheet bandwidth", "", fmt_bw(float(r.bandwidth))),
        ]
    eta_c = f.matmul_efficiency.for_dtype(prec.gemm_compute)
    shape = factor("gemm_shape_efficiency").value
    out = [
        ("compute roof", f"peak {prec.gemm_compute} × matmul_efficiency × gemm_shape_efficiency",
         f"{fmt_rate(gpu.peak(prec.gemm_compute))} × {eta_c:g} × {shape:g}", fmt_rate(float(r.gemm))),
        ("memory roof", "bandwidth × memory_efficiency",
         f"{fmt_bw(gpu.memory_bandwidth)} × {f.memory_efficiency.value:g}", fmt_bw(float(r.bandwidth))),
        ("kernel overhead", "kernel_overhead_s per kernel", "", fmt_time(float(r.kernel_overhead))),
        ("overlap", "compute_memory_overlap: op time = max(t_c, t_m) + (1 − overlap) × min(t_c, t_m)", "",
         f"{float(r.overlap):g}"),
    ]
    if prec.weight_only:
        out.append(("dequantization", "dequant_ops_per_weight / vector rate",
                    f"{factor('dequant_ops_per_weight').value:g} / {fmt_rate(_vector_rate(gpu))}",
                    f"{n(float(r.dequant_cost))} s per weight"))
    return out



def describe_limit(st: StepTime) -> tuple[str, str, str]:
    """(formula, substituted, result) of a step's fused limit and its per-operator sum, for the
    explain trace of an ideal estimate (estimates/working.py uses it in place of "Σ op time × count")."""
    c, m, k = (float(np.max(x)) for x in (st.limit_compute_time, st.limit_memory_time, st.limit_comm_time))
    return ("limit = max(Σ tensor FLOPs / peak per format, Σ vector FLOPs / vector rate, Σ bytes / bandwidth, "
            "Σ collective time); per-operator sum kept beside it",
            f"max({fmt_time(c)}, {fmt_time(m)}, {fmt_time(k)}); Σ op time × count = {fmt_time(float(np.max(st.op_sum_time)))}",
            fmt_time(float(np.max(st.limit_time))))
