"""Operators: what one kernel does, in FLOPs and bytes of memory traffic.

Quantities are NumPy arrays (or floats) so one graph evaluates a whole sweep at once.
Formulas are written out only when a trace is requested: `expr` holds them with numbers in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Union

import numpy as np

from ..units import fmt_num

Num = Union[float, np.ndarray]
Unit = Literal["gemm", "attention", "vector", "comm"]


@dataclass
class Op:
    name: str
    unit: Unit  # which roof applies: tensor-core GEMM, attention, vector ALU, or a collective
    flops: Num  # per instance
    bytes: Num  # HBM traffic per instance
    count: int = 1  # instances per step (layers of this kind)
    kernels: float = 1.0  # kernel launches per instance
    weight_bytes: Num = 0.0  # part of `bytes` that is weights
    dequant: Num = 0.0  # weight elements unpacked on the fly (weight-only quantization)
    comm: Num = 0.0  # collective message bytes (unit == "comm")
    comm_kind: str = ""  # all_reduce | all_gather | all_to_all | p2p
    group: str = ""  # layer kind this op belongs to
    eager: bool = False  # launched kernel by kernel (prefill), not replayed from a CUDA graph (decode)
    expr: dict[str, str] = field(default_factory=dict)  # formula with numbers, when traced


def n(x: Num) -> str:
    """A number for a formula: scalars only (traces are never built for sweeps). Whole numbers keep
    every digit (50,331,648 weights, not 5.03e7), so the substitution can be checked by hand."""
    v = float(x)
    return f"{v:,.0f}" if v.is_integer() and abs(v) < 1e15 else fmt_num(v)


def gemm(
    name: str,
    tokens: Num,
    k: int,
    nn: int,
    *,
    wb: Num,
    ib: Num,
    ob: float,
    count: int,
    group: str,
    trace: bool,
    dequant: Num = 0.0,
    bias: int = 0,
    kernels: float = 1.0,
    weights_read: Num | None = None,
    heads: float = 1,
) -> Op:
    """A [tokens × k] · [k × nn] matmul (`heads` of them side by side for per-head weights).
    Weights are read once per step; activations in and out.

    `weights_read` overrides the weight elements read (MoE: only the experts a batch touches).
    """
    w_elems = heads * k * nn if weights_read is None else weights_read
    flops = 2.0 * tokens * heads * k * nn
    wbytes = w_elems * wb + bias * ob
    act = tokens * heads * (k * ib + nn * ob)
    op = Op(
        name, "gemm", flops, wbytes + act, count=count, kernels=kernels, weight_bytes=wbytes,
        dequant=w_elems * dequant, group=group,
    )
    if trace:
        op.expr = {
            "flops": (f"2·M·K·N = 2 × {n(tokens)} × {n(k)} × {n(nn)}" if heads == 1
                      else f"2·M·heads·K·N = 2 × {n(tokens)} × {n(heads)} × {n(k)} × {n(nn)}"),
            "bytes": f"weights K·N·w + in M·K·a_in + out M·N·a = {n(w_elems)} × {n(wb)} + {n(tokens * heads)} × {n(k)} × {n(ib)} + {n(tokens * heads)} × {n(nn)} × {n(ob)}"
            + (f" + bias {n(bias)} × {n(ob)}" if bias else ""),
        }
    return op


def vector(
    name: str, flops: Num, nbytes: Num, *, count: int, group: str, kernels: float = 1.0,
    trace: bool = False, expr: Callable[[], tuple[str, str]] | None = None,
) -> Op:
    """An elementwise or reduction kernel (norms, activations, residual adds): bandwidth work.
    `expr` returns the (FLOPs, bytes) formulas; it is called only when tracing."""
    op = Op(name, "vector", flops, nbytes, count=count, kernels=kernels, group=group)
    if trace and expr is not None:
        op.expr = dict(zip(("flops", "bytes"), expr()))
    return op
