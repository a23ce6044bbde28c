"""Runs of decode-only steps priced at once.

Between events (a request finishing, one arriving, the KV cache filling) a continuous-batching
engine repeats the same decode step with every context one token longer. Once a step has been
scheduled with decodes only and every running request in it, the following steps stay the same
until the first request finishes or a new one arrives, so their times are computed together
(`StepPredictor.decode_run`) and the clock, the token counts and the records jump to the end.
The result is the same as stepping one at a time; only the number of Python iterations changes.
"""

from __future__ import annotations

import math

import numpy as np

# SGLang's admission reserve shrinks as outputs progress, so a waiting request may get in between
# events: runs are cut this short while anything waits under that rule
RESERVE_RUN_CAP = 32


def run_length(rep, dec: np.ndarray, cap: float = math.inf) -> int:
    """How many decode-only steps of `dec` can be priced together (k ≥ 2, at most `cap`), or 0: up
    to the step that finishes the first request, while the KV cache holds every step's growth."""
    cfg = rep.cfg
    k = int(min((rep.out[dec] - rep.generated[dec]).min(), cap))  # the k-th step finishes the first request
    if rep.waiting and cfg.admission == "reserve_ratio":
        k = min(k, RESERVE_RUN_CAP)
    if k < 2:
        return 0
    if cfg.admission != "guaranteed":
        base = rep.kv.used - float(rep.held[dec].sum())
        while k >= 2 and base + float(rep.kv.bytes_for(rep.computed[dec] + k).sum()) > rep.kv.capacity:
            k //= 2
    return k if k >= 2 else 0


def decode_run(rep, dec: np.ndarray, t: float) -> float | None:
    """Advance `rep` by k ≥ 2 decode-only steps of `dec` from time t; the new time, or None when
    fewer than two steps can be taken together."""
    cfg = rep.cfg
    n = int(dec.size)
    eager = n > cfg.graph_max
    event = rep.next_event()
    # no step is shorter than its dense part, logits and host time (attention only adds), so the
    # run is not worth pricing when the next event falls within its first step (with a margin far
    # above rounding), and the steps after the one the event falls in are not priced
    least = rep.pred.decode_floor(n, eager) + rep.ov.step_s + rep.ov.per_seq_s * n
    if least > 0 and event <= t + least * (1.0 - 1e-6):
        return None
    k = run_length(rep, dec)
    if not k:
        return None
    priced = min(k, max(2, int((event - t) / least) + 3)) if t < event < math.inf and least > 0 else k
    base = rep.pred.decode_run(rep.computed[dec] + 1, priced, eager)
    dt = base + rep.ov.step_s + rep.ov.per_seq_s * n
    ends = t + np.cumsum(dt)
    if priced < k and not event < ends[-1]:  # the bound fell short (it cannot): price the whole run
        priced = k
        base = rep.pred.decode_run(rep.computed[dec] + 1, k, eager)
        dt = base + rep.ov.step_s + rep.ov.per_seq_s * n
        ends = t + np.cumsum(dt)
    if event < ends[-1]:  # stop at the step during which the next request reaches the engine
        cut = int(np.searchsorted(ends, event, side="left")) + 1
        if cut < 2:
            return None
        k = min(k, cut)
        dt, ends = dt[:k], ends[:k]
    if rep.record:
        rep.rec_dt.append(base[:k])
        rep.rec_n.append(np.full(k, n))
    commit(rep, dec, k, dt, ends)
    return float(ends[-1])


def commit(rep, dec: np.ndarray, k: int, dt: np.ndarray, ends: np.ndarray) -> None:
    n, t_end = int(dec.size), float(ends[-1])
    rep.step_index += k
    rep.itl_values += [ends[0] - rep.last[dec], dt[1:]]
    rep.itl_weights += [1.0, float(n)]
    rep.computed[dec] += k
    rep.generated[dec] += k
    if rep.cfg.admission != "guaranteed":
        new = rep.kv.bytes_for(rep.computed[dec])
        rep.kv.used += float((new - rep.held[dec]).sum())
        rep.held[dec] = new
    rep.last[dec] = t_end
    usage = rep.kv.used / rep.kv.capacity if rep.kv.capacity else 0.0
    rep.steps.append((t_end, n, 0, int(rep.running.size), len(rep.waiting), usage, k))
    for i in dec[rep.generated[dec] >= rep.out[dec]].tolist():
        rep._finish(i, t_end)
