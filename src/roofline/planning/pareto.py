"""Choosing among deployments: the Pareto frontier of cost against latency, and the nearest miss."""

from __future__ import annotations

import numpy as np


def pareto_front(cost, latency) -> np.ndarray:
    """Indices of the points no other point beats on both cost and latency (lower is better on
    both), cheapest first. Of exact duplicates one is kept. A sort and a running minimum: O(n log n)."""
    c, t = np.asarray(cost, dtype=float), np.asarray(latency, dtype=float)
    if c.size == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((t, c))  # by cost, then latency
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], t[order][:-1]]))
    return order[t[order] < best_before]


def slo_excess(ttft, tpot, ttft_slo: float | None, tpot_slo: float | None) -> np.ndarray:
    """How far each point is from meeting the SLOs: the larger of TTFT / its target and TPOT / its
    target (≤ 1: met). Without targets every point meets them (0)."""
    ttft, tpot = np.asarray(ttft, dtype=float), np.asarray(tpot, dtype=float)
    worst = np.zeros(np.broadcast_shapes(ttft.shape, tpot.shape))
    if ttft_slo is not None:
        worst = np.maximum(worst, ttft / ttft_slo)
    if tpot_slo is not None:
        worst = np.maximum(worst, tpot / tpot_slo)
    return worst


def cheapest_meeting(cost, latency, excess) -> int | None:
    """The cheapest point whose SLO excess is ≤ 1 (ties: the lower latency), or None."""
    c, t, x = (np.asarray(v, dtype=float) for v in (cost, latency, excess))
    ok = np.nonzero(x <= 1.0)[0]
    if ok.size == 0:
        return None
    return int(ok[np.lexsort((t[ok], c[ok]))[0]])


def nearest_miss(cost, excess) -> int | None:
    """The point closest to meeting the SLOs (smallest excess; ties: the cheaper)."""
    c, x = np.asarray(cost, dtype=float), np.asarray(excess, dtype=float)
    if c.size == 0:
        return None
    return int(np.lexsort((c, x))[0])
