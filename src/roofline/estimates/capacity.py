"""Capacity questions, answered by inverting the one memory function with the one search helper:
the largest batch at this context, the longest context at this batch, the fewest GPUs that hold
the workload.

Memory per GPU is what the evaluation charges (estimates/evaluation.py): weights (and a draft's),
KV cache for each replica's ⌈batch / dp⌉ sequences (and the draft's), peak prefill activations
and the runtime overhead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RooflineError
from ..explain import Trace
from ..specs.parallel import Parallel
from .memory import activation_bytes, kv_cache_bytes, weight_split
from .search import first_true, last_true
from .speculative import draft_kv_bytes, draft_weights_bytes
from .splits import SEARCH, Split, splits

from .limits import MAX_BATCH, MAX_TOKENS  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Capacity:
    """The capacity questions at this workload, answered from the memory function."""

    max_batch_size: int  # all replicas; 0: not even one sequence fits
    max_context_len: int  # prompt + output per sequence, capped by the model's context window
    max_context_len_by_memory: int
    min_gpus: int | None  # None: more than 4096
    min_gpus_tp: int | None
    min_gpus_pp: int | None
    min_gpus_dp: int | None
    min_gpus_ep: int | None

    def __getitem__(self, key: str):  # mapping-style access, as in the JSON
        return self.to_dict()[key]

    def to_dict(self) -> dict:
        return {"max_batch_size": self.max_batch_size, "max_context_len": self.max_context_len,
                "max_context_len_by_memory": self.max_context_len_by_memory, "min_gpus": self.min_gpus,
                "min_gpus_tp": self.min_gpus_tp, "min_gpus_pp": self.min_gpus_pp, "min_gpus_dp": self.min_gpus_dp,
                "min_gpus_ep": self.min_gpus_ep}




def memory_parts(s, par: Parallel, batch, input_len, output_len) -> tuple:
    """(weights, KV cache, activations, overhead) bytes per GPU for the setup under split `par`;
    batch is the deployment's (shared by par.dp replicas). Arrays broadcast."""
    m, p = s.model, s.prec
    b_rep = np.ceil(np.asarray(batch, dtype=float) / par.dp)
    L = np.asarray(input_len, dtype=float)
    weights = weight_split(m, par).bytes(p)
    kv = kv_cache_bytes(m, p, par, b_rep, L + output_len)
    if s.speculative is not None:
        weights = weights + draft_weights_bytes(s.speculative, p, par)
        kv = kv + draft_kv_bytes(s.speculative, p, par, b_rep, L, output_len)
    return weights, kv, activation_bytes(m, p, par, b_rep, L), s.profile.value("runtime_overhead_bytes")


def memory_total(s, par: Parallel, batch, input_len, output_len) -> np.ndarray:
    w, kv, act, over = memory_parts(s, par, batch, input_len, output_len)
    return w + kv + act + over


def largest_batch(s, trace: Trace | None = None) -> int:
    """Largest deployment batch (all replicas) that fits at the setup's lengths; 0 if none."""
    fits = lambda b: memory_total(s, s.par, b, s.input_len, s.output_len) <= s.capacity  # noqa: E731
    best = last_true(fits, 1, MAX_BATCH) or 0
    if trace is not None:
        # memory is affine in the batch per replica: fixed + b_r × per sequence
        one, two = (float(memory_total(s, s.par, b * s.par.dp, s.input_len, s.output_len)) for b in (1, 2))
        per_seq, fixed = two - one, 2 * one - two
        trace.add("largest batch", "⌊(capacity − fixed) / per sequence⌋ × dp, fixed = weights + overhead, "
                  "per sequence = KV + activations of one sequence",
                  f"⌊({s.capacity!r} − {fixed!r}) / {per_seq!r}⌋ × {s.par.dp}", str(best))
    return best


def longest_context(s) -> int:
    """Longest prompt + output per sequence that fits at the setup's batch (output held), 0 if none."""
    fits = lambda L: memory_total(s, s.par, s.total_batch, L, s.output_len) <= s.capacity  # noqa: E731
    prompt = last_true(fits, 1, MAX_TOKENS)
    return 0 if prompt is None else prompt + s.output_len


@dataclass(frozen=True)
class Fewest:
    num_gpus: int
    split: Split


def split_parallel(s, sp: Split) -> Parallel:
    return Parallel(tp=sp.tp, pp=sp.pp, dp=sp.dp, ep=sp.ep, gpus_per_node=s.par.gpus_per_node,
                    inter_node_link=s.par.inter_node_link)


def runnable(s, sp: Split) -> bool:
    """Whether the split can be set up at all on this GPU (its groups have a link to talk over)."""
    from .timing import roofs

    try:
        roofs(s.gpu, s.prec, split_parallel(s, sp), s.ideal, s.profile)
    except RooflineError:
        return False
    return True


def fitting_splits(s, n: int, allow_ep: bool = True) -> list[Split]:
    """The runnable splits over n GPUs on which the setup's workload fits."""
    return [sp for sp in splits(s.model, n, allow_ep)
            if float(memory_total(s, split_parallel(s, sp), s.total_batch, s.input_len, s.output_len)) <= s.capacity
            and runnable(s, sp)]


def fewest_gpus(s, allow_ep: bool = True, counts=SEARCH) -> Fewest | None:
    """Smallest GPU count (a power of two) with a fitting split, and among those splits the one
    that keeps tensor parallelism inside a node, then has the most replicas, the widest tensor
    split; None beyond the largest count searched. The parallel planner searches the same way."""
    from .comm import node_size

    node = node_size(s.gpu, s.par.gpus_per_node)
    for n in counts:
        ok = fitting_splits(s, n, allow_ep)
        if ok:
            return Fewest(n, max(ok, key=lambda sp: (sp.tp <= node, sp.dp, sp.tp, -sp.pp, -sp.ep)))
    return None


def critical_batch(s) -> int | None:
    """Smallest batch at which decode's weight GEMMs become compute-bound (their FLOP time reaches
    their byte time). Attention, which streams the KV cache, is left out, as in the primers, so the
    answer does not depend on the lengths."""
    from ..cost.graph import step_ops
    from .timing import time_step

    def compute_bound(batches: np.ndarray) -> np.ndarray:
        ops = [o for o in step_ops(s.model, s.prec, s.par, "decode", batches, s.input_len, s.output_len)
               if o.unit == "gemm" and o.name != "lm_head"]
        st = time_step(ops, s.roofs, s.par)
        comp = sum(t.op.count * np.broadcast_to(t.compute, batches.shape) for t in st.ops)
        mem = sum(t.op.count * np.broadcast_to(t.memory, batches.shape) for t in st.ops)
        return comp >= mem

    return first_true(compute_bound, 1, 2**22, coarse=96)


def engine_kv_capacity(s: Setup, engine: str = "vllm"):
    """The KV cache an engine would allot at its defaults (vLLM's formula): the user's
    --gpu-memory-utilization when given, the engine's own fraction otherwise; a draft's weights held."""
    from .kv_capacity import kv_capacity_for

    util = s.capacity / s.gpu.memory_bytes
    overrides = {"gpu_memory_utilization": util} if util < 1.0 else None
    extra = draft_weights_bytes(s.speculative, s.prec, s.par) if s.speculative is not None else 0.0
    return kv_capacity_for(s, engine=engine, overrides=overrides, extra_bytes=extra)


def capacity_of(s: Setup, trace: Trace | None = None) -> Capacity:
    by_memory = longest_context(s)
    window = s.model.max_position_embeddings
    fewest = fewest_gpus(s)
    sp = fewest.split if fewest else None
    return Capacity(
        max_batch_size=largest_batch(s, trace),
        max_context_len=min(by_memory, window) if window else by_memory,
        max_context_len_by_memory=by_memory,
        min_gpus=fewest.num_gpus if fewest else None,
        min_gpus_tp=sp.tp if sp else None, min_gpus_pp=sp.pp if sp else None,
        min_gpus_dp=sp.dp if sp else None, min_gpus_ep=sp.ep if sp else None,
    )
