"""Sweeps: one setup's figures across many batch sizes or prompt lengths, as views of the one
evaluation (estimates/evaluation.py) with an axis: a sweep's value at the estimate's own point is
the estimate's value (pipeline schedule, speculative decoding and replicas included).

Grids are integer batch sizes or token counts, log-spaced when the range spans decades, and never
longer than MAX_POINTS. Batch sizes are the deployment's (shared by data-parallel replicas).

    s = setup("llama-2-7b", "a100", batch_size=8)
    d = decode_sweep(s, batch_grid(1024))
    d.step_time_s, d.tokens_per_s, d.fits          # arrays, one value per batch size
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import RooflineError
from .capacity import MAX_BATCH, MAX_TOKENS, critical_batch, largest_batch, memory_parts
from .estimate import Setup
from .evaluation import Footprint, evaluate
from .search import first_true

MAX_POINTS = 10_000  # one sweep's grid; more points than pixels on any chart


def _check_points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
        raise RooflineError(f"a sweep needs at least 2 points, got {points!r}")
    if points > MAX_POINTS:
        raise RooflineError(f"a sweep of {points:,} points exceeds the cap of {MAX_POINTS:,}")
    return int(points)


def integer_grid(stop: int, points: int = 256, start: int = 1) -> np.ndarray:
    """Whole numbers from `start` to `stop` inclusive: all of them when they number at most
    `points`, else about `points` log-spaced ones (always including both ends)."""
    points = _check_points(points)
    start, stop = int(start), int(stop)
    if start < 1 or stop < start:
        raise RooflineError(f"a sweep runs over 1 ≤ start ≤ stop, got {start}..{stop}")
    if stop - start + 1 <= points:
        return np.arange(start, stop + 1, dtype=float)
    grid = np.unique(np.round(np.geomspace(start, stop, points)))
    return grid[(grid >= start) & (grid <= stop)]


def batch_grid(max_batch: int, points: int = 256) -> np.ndarray:
    if not 1 <= max_batch <= MAX_BATCH:
        raise RooflineError(f"the largest batch of a sweep must be in 1..{MAX_BATCH:,}, got {max_batch}")
    return integer_grid(max_batch, points)


def length_grid(max_len: int, points: int = 256) -> np.ndarray:
    if not 1 <= max_len <= MAX_TOKENS:
        raise RooflineError(f"the longest prompt of a sweep must be in 1..{MAX_TOKENS:,} tokens, got {max_len}")
    return integer_grid(max_len, points)


def _full(x, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=float), shape).copy()


@dataclass(frozen=True)
class MemorySweep(Footprint):
    """Memory per GPU, one entry per (batch, input, output) setting; broadcast like NumPy."""

    batch: np.ndarray
    input_len: np.ndarray
    output_len: np.ndarray
    weights_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    activation_bytes: np.ndarray
    overhead_bytes: np.ndarray
    capacity_bytes: float


def memory_sweep(s: Setup, batch, input_len=None, output_len=None) -> MemorySweep:
    """Weights, KV cache, activations and overhead per GPU for arrays of batch sizes and lengths
    (the setup's own lengths where none are given)."""
    b = np.asarray(batch, dtype=float)
    L = np.asarray(s.input_len if input_len is None else input_len, dtype=float)
    out = np.asarray(s.output_len if output_len is None else output_len, dtype=float)
    shape = np.broadcast_shapes(b.shape, L.shape, out.shape)
    weights, kv, act, overhead = memory_parts(s, s.par, b, L, out)
    return MemorySweep(
        batch=_full(b, shape), input_len=_full(L, shape), output_len=_full(out, shape),
        weights_bytes=_full(weights, shape), kv_cache_bytes=_full(kv, shape), activation_bytes=_full(act, shape),
        overhead_bytes=_full(overhead, shape), capacity_bytes=float(s.capacity),
    )


def max_batch_that_fits(s: Setup) -> int:
    """Largest batch whose memory fits at the setup's lengths (0: not even one sequence)."""
    return largest_batch(s)


def kv_crossover_batch(s: Setup) -> int | None:
    """Smallest batch at which the KV cache outweighs the weights, at the setup's lengths."""
    def over(b: np.ndarray) -> np.ndarray:
        m = memory_sweep(s, b)
        return m.kv_cache_bytes > m.weights_bytes
    return first_true(over, 1, MAX_BATCH)


@dataclass(frozen=True)
class DecodeSweep:
    """The decode phase at each batch size (the setup's lengths): time per output token, as the
    estimate's TPOT at that batch."""

    batch: np.ndarray
    step_time_s: np.ndarray
    flops: np.ndarray
    bytes: np.ndarray
    memory: MemorySweep
    critical_batch: int | None  # decode's weight GEMMs turn compute-bound here

    @property
    def tokens_per_s(self) -> np.ndarray:
        return self.batch / self.step_time_s

    @property
    def arithmetic_intensity(self) -> np.ndarray:
        return self.flops / self.bytes


def decode_sweep(s: Setup, batch) -> DecodeSweep:
    b = np.asarray(batch, dtype=float)
    ev = evaluate(s, batch=b)
    return DecodeSweep(b, _full(ev.tpot_s, b.shape), _full(ev.decode.flops, b.shape), _full(ev.decode.bytes, b.shape),
                       memory_sweep(s, b), critical_batch(s))


@dataclass(frozen=True)
class PrefillSweep:
    """TTFT of the setup's batch at each prompt length, as the estimate's TTFT there."""

    input_len: np.ndarray
    ttft_s: np.ndarray
    flops: np.ndarray
    bytes: np.ndarray
    ridge_point: float  # FLOP/B of the GEMM compute format (datasheet peaks)
    ridge_crossing: int | None  # shortest prompt whose prefill intensity reaches the ridge

    @property
    def arithmetic_intensity(self) -> np.ndarray:
        return self.flops / self.bytes


def prefill_ridge_crossing(s: Setup, max_len: int = MAX_TOKENS) -> int | None:
    """Shortest prompt (tokens per sequence, at the setup's batch) whose whole prefill step has
    arithmetic intensity ≥ the ridge point."""
    ridge = s.gpu.ridge_point(s.prec.gemm_compute)
    return first_true(lambda L: evaluate(s, input_len=L).prefill_intensity >= ridge, 1, max_len)


def prefill_sweep(s: Setup, lengths) -> PrefillSweep:
    L = np.asarray(lengths, dtype=float)
    ev = evaluate(s, input_len=L)
    return PrefillSweep(L, _full(ev.ttft_s, L.shape), _full(ev.prefill.flops, L.shape), _full(ev.prefill.bytes, L.shape),
                        s.gpu.ridge_point(s.prec.gemm_compute), prefill_ridge_crossing(s))
