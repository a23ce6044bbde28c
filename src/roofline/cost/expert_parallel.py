"""Expert parallelism: what an MoE layer adds when its experts are spread over tp × dp GPUs.

vLLM's --enable-expert-parallel places E / (tp × dp) whole experts on each GPU.
  * dp = 1: every GPU already holds all of the replica's tokens (tensor-parallel attention ends in
    an all-reduce), so each GPU runs its own experts on the tokens routed to them and the layer's
    usual all-reduce sums the partial outputs. Nothing is added.
  * dp > 1: the replicas hold different tokens, so each GPU sends its 1/tp slice of its replica's
    tokens to the GPUs owning their k experts (dispatch) and receives the results back (combine):
    two all-to-alls over the tp × dp GPUs, each moving (n−1)/n of tokens × k × hidden × bytes.
    With tp > 1 the MoE output is then all-gathered within the tensor-parallel group instead of
    all-reduced (each rank holds whole results for its slice).
Dispatch travels in the GEMM input format (fp8 under W8A8 fp8, as DeepSeek's DeepEP does), combine
in the activation format.
"""

from __future__ import annotations

from ..specs.model import ModelSpec
from ..specs.parallel import Parallel
from .ops import Num, Op, n


def group_tokens(par: Parallel, T: Num) -> Num:
    """Distinct tokens that reach one MoE layer's experts: all dp replicas' when EP spans them."""
    return T * par.dp if par.ep > 1 else T


def expert_parallel_ops(m: ModelSpec, par: Parallel, w, T: Num, count: int, trace: bool, g: str) -> tuple[list[Op], int]:
    """The all-to-all ops of one kind of MoE layer, and how many of its all-reduces they replace."""
    if par.ep == 1 or par.dp == 1 or m.moe is None:
        return [], 0
    k, d = m.moe.experts_per_token, m.hidden_size
    local = T / par.tp  # tokens this GPU dispatches
    ops = [
        Op("ep_dispatch", "comm", 0.0, 0.0, count=count, kernels=0, comm=local * k * d * w.a_in, comm_kind="all_to_all", group=g),
        Op("ep_combine", "comm", 0.0, 0.0, count=count, kernels=0, comm=local * k * d * w.a, comm_kind="all_to_all", group=g),
    ]
    if trace:
        ops[0].expr = {"bytes": f"message (T/tp)·k·d·a_in = {n(local)} × {k} × {d} × {n(w.a_in)}"}
        ops[1].expr = {"bytes": f"message (T/tp)·k·d·a = {n(local)} × {k} × {d} × {n(w.a)}"}
    replaced = 0
    if par.tp > 1:
        gather = Op("tp_all_gather", "comm", 0.0, 0.0, count=count, kernels=0, comm=T * d * w.a, comm_kind="all_gather", group=g)
        if trace:
            gather.expr = {"bytes": f"message T·d·a = {n(T)} × {d} × {n(w.a)} (replaces the MoE all-reduce)"}
        ops.append(gather)
        replaced = 1
    return ops, replaced
