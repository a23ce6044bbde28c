"""Capacity questions answered from the memory model: the largest batch for a context, the longest
context for a batch, and the fewest GPUs that hold the workload.

Memory per GPU is weights + overhead (fixed) + KV cache and activations (growing with batch and
context), so the largest batch is a division, and the longest context a search over a monotone
function, done in two vectorized passes.
"""

from __future__ import annotations

import math

import numpy as np

from ..catalog.factors import factor
from ..specs.model import ModelSpec
from ..specs.parallel import Parallel, valid_tp
from ..specs.precision import Precision
from .estimate import MAX_BATCH, MAX_TOKENS
from .memory import activation_bytes, kv_cache_bytes, weight_split

MAX_GPUS = 4096
_WEIGHTS: dict[tuple, tuple[ModelSpec, float]] = {}


def fixed_bytes(m: ModelSpec, p: Precision, par: Parallel) -> float:
    """Weights on the most loaded GPU plus the runtime overhead (cached per model, format and split)."""
    key = (id(m), p, par.tp, par.pp, par.ep, par.dp)
    hit = _WEIGHTS.get(key)
    if hit is None or hit[0] is not m:
        if len(_WEIGHTS) > 4096:
            _WEIGHTS.clear()
        hit = (m, weight_split(m, par).bytes(p))
        _WEIGHTS[key] = hit
    return hit[1] + factor("runtime_overhead_bytes").value


def _memory(m: ModelSpec, p: Precision, par: Parallel, batch, input_len, output_len, extra: float) -> np.ndarray:
    L = np.asarray(input_len, dtype=float)
    return (fixed_bytes(m, p, par) + extra + kv_cache_bytes(m, p, par, batch, L + output_len)
            + activation_bytes(m, p, par, batch, L))


def max_batch(m: ModelSpec, p: Precision, par: Parallel, input_len: int, output_len: int, capacity: float,
              extra: float = 0.0) -> int:
    """Largest batch (per replica) that fits: memory is linear in the batch."""
    per_seq = float(_memory(m, p, par, 1, input_len, output_len, extra)) - fixed_bytes(m, p, par) - extra
    free = capacity - fixed_bytes(m, p, par) - extra
    if free < per_seq:
        return 0
    return int(min(MAX_BATCH, math.floor(free / per_seq)))


def max_context(m: ModelSpec, p: Precision, par: Parallel, batch: int, output_len: int, capacity: float,
                extra: float = 0.0) -> int:
    """Longest prompt + output per sequence that fits at this batch (output length held), 0 if none."""
    coarse = np.unique(np.round(np.geomspace(1, MAX_TOKENS, 160)))
    fits = _memory(m, p, par, batch, coarse, output_len, extra) <= capacity
    if not fits[0]:
        return 0
    if fits[-1]:
        return int(MAX_TOKENS + output_len)
    last = int(np.nonzero(fits)[0][-1])
    lo, hi = coarse[last], coarse[last + 1]  # lo fits, hi does not
    while hi - lo > 1:  # each pass narrows the bracket 4096-fold
        grid = np.unique(np.round(np.linspace(lo, hi, int(min(hi - lo + 1, 4097)))))
        ok = _memory(m, p, par, batch, grid, output_len, extra) <= capacity
        i = int(np.nonzero(ok)[0][-1])
        lo, hi = grid[i], grid[i + 1]
    return int(lo) + output_len


def min_gpus(m: ModelSpec, p: Precision, batch: int, input_len: int, output_len: int, capacity: float,
             extra: float = 0.0, node: int = 8) -> dict | None:
    """Fewest GPUs of one replica (a power of two) on which the workload fits, as tensor × pipeline
    parallelism: the widest tensor split inside a node first (it splits the KV cache too and needs
    the fast link), pipeline stages across nodes; None beyond MAX_GPUS."""
    tps = valid_tp(m, limit=MAX_GPUS)
    n = 1
    while n <= MAX_GPUS:
        fitting = [t for t in tps if n % t == 0]
        for tp in sorted(fitting, key=lambda t: (t > node, -t)):
            pp = n // tp
            if pp > m.num_layers:
                continue
            par = Parallel(tp=tp, pp=pp)
            if float(_memory(m, p, par, batch, input_len, output_len, extra)) <= capacity:
                return {"num_gpus": n, "tp": tp, "pp": pp}
        n *= 2
    return None
