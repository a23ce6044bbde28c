"""From command-line sizes to a validated parallel split.

`--num-gpus` is the whole deployment: with --tensor-parallel-size and --pipeline-parallel-size
given, the rest become data-parallel replicas (dp = num_gpus / (tp × pp)). `--batch-size` is the
number of sequences in flight across all replicas; each replica serves ⌈batch / dp⌉ of them, so
adding replicas at a fixed per-replica load multiplies throughput and leaves latency alone.
"""

from __future__ import annotations

import math

from ..catalog import get_link
from ..errors import RooflineError
from ..specs.hardware import GPU
from ..specs.model import ModelSpec
from ..specs.parallel import Parallel
from .limits import MAX_SPLIT, check_count



def _count(name: str, value, maximum: int = MAX_SPLIT) -> int:
    return check_count(name, value, maximum=maximum)


def resolve_split(m: ModelSpec, gpu: GPU, *, tp=1, pp=1, dp=1, ep=1, num_gpus=None, gpus_per_node=None,
                  inter_node_link=None, enable_expert_parallel=False, intra_node_link=None,
                  split_mode="tensor") -> Parallel:
    from .comm import check_intra_node_link
    from .pipeline import layer_split_sizes

    if split_mode not in ("tensor", "layer"):
        raise RooflineError(f"--split-mode must be tensor or layer, got {split_mode!r}")
    tp = _count("tensor-parallel size", tp)
    pp = _count("pipeline-parallel size", pp)
    if split_mode == "layer":  # every GPU of the deployment holds whole layers: one stage each
        tp, pp = layer_split_sizes(_count("--num-gpus", num_gpus) if num_gpus is not None else None, tp, pp)
        num_gpus = None
    dp = _count("data-parallel size", dp)
    ep = _count("expert-parallel size", ep)
    if num_gpus is not None:
        n = _count("--num-gpus", num_gpus)
        if dp == 1:
            if n % (tp * pp):
                raise RooflineError(f"--num-gpus {n} is not a multiple of tp × pp = {tp} × {pp}; the GPUs left over "
                                    "must form whole data-parallel replicas")
            dp = n // (tp * pp)
        elif tp * pp * dp != n:
            raise RooflineError(f"tp × pp × dp = {tp} × {pp} × {dp} = {tp * pp * dp} GPUs, but --num-gpus is {n}")
    if enable_expert_parallel:
        if ep not in (1, tp * dp):
            raise RooflineError(f"expert-parallel size {ep} conflicts with --enable-expert-parallel (EP = tp × dp = {tp * dp})")
        ep = tp * dp
    if gpus_per_node is not None:
        gpus_per_node = _count("--gpus-per-node", gpus_per_node)
    if inter_node_link:
        link = get_link(inter_node_link)
        if link.kind != "scale-out":
            raise RooflineError(f"--inter-node-link {inter_node_link} is a {link.kind} link; give a network link between "
                                "nodes such as ib-hdr, ib-ndr, roce-100, roce-400")
        inter_node_link = link.name
    par = Parallel(tp=tp, pp=pp, dp=dp, ep=ep, gpus_per_node=gpus_per_node, inter_node_link=inter_node_link or None,
                   intra_node_link=check_intra_node_link(gpu, intra_node_link), split_mode=split_mode)
    par.check(m)
    return par


def replica_batch(batch: int, dp: int) -> int:
    """Sequences one data-parallel replica serves (the fullest one when dp does not divide the batch)."""
    return math.ceil(batch / dp)


def nodes(par: Parallel, gpu: GPU) -> int:
    from .comm import node_size

    return math.ceil(par.num_gpus / node_size(gpu, par.gpus_per_node))
