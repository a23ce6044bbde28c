"""Roofline time of an operator graph on a GPU.

Each operator costs max(FLOPs / (peak × matmul efficiency), bytes / (bandwidth × memory efficiency))
+ kernels × kernel overhead + dequantized weights × ops per weight / vector rate;
collectives cost latency + algorithm bytes / (link bandwidth × collective efficiency).
With `ideal`, efficiencies are 1 and overheads 0: the physical limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog.factors import factor
from ..catalog.links import get_link
from ..cost.ops import Num, Op, n
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
    tp_link: "CommLink | None" = None
    pp_link: "CommLink | None" = None


@dataclass(frozen=True)
class CommLink:
    name: str
    bandwidth: float  # achievable B/s per direction for the collective
    latency: float  # s per collective


def _vector_rate(gpu: GPU) -> float:
    # The fp32 non-tensor rate; accelerators that publish none (TPU, Gaudi) are charged their
    # slowest matrix rate, which only matters for tiny elementwise work.
    return gpu.peak_flops.get("fp32") or min(gpu.peak_flops.values())


def comm_link(gpu: GPU, group: int, gpus_per_node: int | None, ideal: bool) -> CommLink:
    """The link a group of `group` GPUs talks over: the scale-up fabric (NVLink, xGMI, ICI) when the
    group fits its domain, PCIe inside one server, the network (InfiniBand/Ethernet) beyond it."""
    node = gpus_per_node or max(8, gpu.scale_up_domain)
    if gpu.scale_up_link and group <= gpu.scale_up_domain:
        key = gpu.scale_up_link
    elif group <= node:
        key = gpu.host_link or "pcie4"
    else:
        key = gpu.scale_out_link or gpu.host_link or "pcie4"
    link: Link = get_link(key)
    bw = link.bandwidth_per_direction
    if link.peer_bandwidth_per_direction and link.peer_bandwidth_per_direction < bw:  # full mesh: n−1 links in use
        bw = min(bw, (group - 1) * link.peer_bandwidth_per_direction)
    if not ideal:
        bw *= link.busbw_efficiency or factor("collective_efficiency").value
    return CommLink(link.display_name, bw, 0.0 if ideal else link.latency_s)


def roofs(gpu: GPU, prec: Precision, par: Parallel, ideal: bool = False) -> Roofs:
    f = gpu.factors
    eta_c = 1.0 if ideal else f.matmul_efficiency.for_dtype(prec.gemm_compute)
    eta_a = 1.0 if ideal else f.matmul_efficiency.for_dtype(prec.model.compute)
    eta_m = 1.0 if ideal else f.memory_efficiency.value
    vec = _vector_rate(gpu)
    return Roofs(
        gemm=gpu.peak(prec.gemm_compute) * eta_c,
        attention=gpu.peak(prec.model.compute) * eta_a,
        vector=vec,
        bandwidth=gpu.memory_bandwidth * eta_m,
        kernel_overhead=0.0 if ideal else f.kernel_overhead_s.value,
        dequant_cost=0.0 if ideal else factor("dequant_ops_per_weight").value / vec,
        tp_link=comm_link(gpu, par.tp, par.gpus_per_node, ideal) if par.tp > 1 else None,
        pp_link=comm_link(gpu, par.tp * par.pp, par.gpus_per_node, ideal) if par.pp > 1 else None,
    )


def collective_time(kind: str, message: Num, group: int, link: CommLink) -> Num:
    """Ring algorithms: all-reduce moves 2(n−1)/n of the message per GPU, all-gather and
    all-to-all (n−1)/n, a point-to-point send the message once."""
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

    @property
    def total(self) -> Num:
        return np.maximum(self.compute, self.memory) + self.overhead + self.comm


def time_op(op: Op, r: Roofs, par: Parallel) -> OpTime:
    if op.unit == "comm":
        if op.comm_kind == "p2p":
            link, group = r.pp_link, 2
        else:
            link, group = r.tp_link, par.tp
        t = collective_time(op.comm_kind, op.comm, group, link) if link else 0.0
        return OpTime(op, 0.0, 0.0, 0.0, t)
    peak = {"gemm": r.gemm, "attention": r.attention, "vector": r.vector}[op.unit]
    return OpTime(
        op,
        compute=np.asarray(op.flops, dtype=float) / peak,
        memory=np.asarray(op.bytes, dtype=float) / r.bandwidth,
        overhead=op.kernels * r.kernel_overhead + np.asarray(op.dequant, dtype=float) * r.dequant_cost,
        comm=0.0,
    )


@dataclass
class StepTime:
    """One step's operators timed and summed (each op × its count)."""

    ops: list[OpTime]

    def _sum(self, f) -> Num:
        total = 0.0
        for t in self.ops:
            total = total + t.op.count * f(t)
        return total

    @property
    def time(self) -> Num:
        return self._sum(lambda t: t.total)

    @property
    def flops(self) -> Num:
        return self._sum(lambda t: np.asarray(t.op.flops, dtype=float))

    @property
    def bytes(self) -> Num:
        return self._sum(lambda t: np.asarray(t.op.bytes, dtype=float))

    @property
    def compute_bound_time(self) -> Num:
        return self._sum(lambda t: np.where(t.compute >= t.memory, t.compute, 0.0))

    @property
    def memory_bound_time(self) -> Num:
        return self._sum(lambda t: np.where(t.compute < t.memory, t.memory, 0.0))

    @property
    def overhead_time(self) -> Num:
        return self._sum(lambda t: t.overhead)

    @property
    def comm_time(self) -> Num:
        return self._sum(lambda t: t.comm)

    @property
    def weight_bytes(self) -> Num:
        return self._sum(lambda t: np.asarray(t.op.weight_bytes, dtype=float))


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
    if ideal:
        return [
            ("compute roof", f"peak {prec.gemm_compute} (dense, datasheet)", "", fmt_rate(float(r.gemm))),
            ("memory roof", "datasheet bandwidth", "", fmt_bw(float(r.bandwidth))),
        ]
    eta_c = f.matmul_efficiency.for_dtype(prec.gemm_compute)
    out = [
        ("compute roof", f"peak {prec.gemm_compute} × matmul_efficiency",
         f"{fmt_rate(gpu.peak(prec.gemm_compute))} × {eta_c:g}", fmt_rate(float(r.gemm))),
        ("memory roof", "bandwidth × memory_efficiency",
         f"{fmt_bw(gpu.memory_bandwidth)} × {f.memory_efficiency.value:g}", fmt_bw(float(r.bandwidth))),
        ("kernel overhead", "kernel_overhead_s per kernel", "", fmt_time(float(r.kernel_overhead))),
    ]
    if prec.weight_only:
        out.append(("dequantization", "dequant_ops_per_weight / vector rate",
                    f"{factor('dequant_ops_per_weight').value:g} / {fmt_rate(_vector_rate(gpu))}",
                    f"{n(float(r.dequant_cost))} s per weight"))
    return out
