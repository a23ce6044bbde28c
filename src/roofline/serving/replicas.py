"""Every engine instance of an aggregated deployment: dp replicas × pp virtual engines each.

Requests are dealt round-robin: request i goes to unit i mod K (K units in use), unit u being
virtual engine ⌊u / dp⌋ of replica u mod dp, so consecutive requests land on different replicas
first (vLLM's `--data-parallel-size` front end deals requests to its engines by load, which for a
stream of alike requests is a rotation). A closed loop of C requests in flight gives each unit its
share of C (the first C units when C is smaller). Each replica's virtual engines share its
pipeline stages (pipeline.py); replicas share nothing. The result merges every request, so the
percentiles cover them all, and the timeline sums sequences and queues over the units at every
step of any of them (KV use: the mean, the units being alike).
"""

from __future__ import annotations

import numpy as np

from .pipeline import Stages, run_virtual_engines
from .scheduler import KVCache, Replica, TooLarge


class Merged:
    """The request arrays of every unit, shaped like one Replica for build_result."""

    def __init__(self, n: int):
        self.sent, self.first, self.finish = (np.full(n, np.nan) for _ in range(3))
        self.itl_values, self.itl_weights, self.steps, self.preemptions = [], [], [], 0
        self.longest_step_s = 0.0


def deal(n: int, dp: int, pp: int, conc: int | None) -> list[tuple[int, int, np.ndarray, int | None]]:
    """(replica, virtual engine, requests, concurrency limit) of each unit in use."""
    units = dp * pp
    k = units if conc is None else min(units, conc)
    out = []
    for u in range(k):
        limit = None if conc is None else conc // k + (u < conc % k)
        out.append((u % dp, u // dp, np.arange(u, n, k), limit))
    return out


def run_units(cfg, pred, kv: KVCache, ov, arrival, inp, out, cached, conc, dp: int, pp: int, prefix_len: int = 0,
              *, order: np.ndarray | None = None, resumed: bool = False, record: bool = False) -> Merged:
    """Simulate every unit; the merged arrays (indexed like the workload). `order`: the requests
    these units serve, in the order they reach them (default: every request, in turn); `resumed`:
    they come with their prompt computed elsewhere (a decode pool); `record`: keep every step's
    time, so that `longest_step_s` is the longest step any unit ran (GPU and host time)."""
    n = inp.size
    order = np.arange(n) if order is None else order
    merged = Merged(n)
    stages = {r: Stages(pp) for r in range(dp)} if pp > 1 else {}
    engines: dict[int, list] = {}
    for r, _, local, limit in deal(order.size, dp, pp, conc):
        idx = order[local]
        rep = Replica(cfg, pred, KVCache(kv.capacity / pp, kv.block, kv.g, kv.windowed), ov, arrival[idx], inp[idx],
                      out[idx], cached=None if cached is None else cached[idx],
                      resumed=np.ones(idx.size, bool) if resumed else None, max_concurrency=limit, record=record,
                      stages=stages.get(r), prefix_len=prefix_len)
        engines.setdefault(r, []).append((idx, rep))
    for units in engines.values():
        try:
            if pp > 1:
                run_virtual_engines([rep for _, rep in units])
            else:
                units[0][1].run()
        except TooLarge as e:
            culprit = next(idx for idx, rep in units if e.replica is rep)
            raise TooLarge(int(culprit[e.request])) from None
        for idx, rep in units:
            merged.sent[idx], merged.first[idx], merged.finish[idx] = rep.sent, rep.first, rep.finish
            merged.itl_values += rep.itl_values
            merged.itl_weights += rep.itl_weights
            merged.preemptions += rep.preemptions
            merged.longest_step_s = max(merged.longest_step_s, longest_step(rep, ov))
    parts = [rep.steps for units in engines.values() for _, rep in units]
    merged.steps = parts[0] if len(parts) == 1 else merge_steps(parts)
    return merged


def longest_step(rep: Replica, ov) -> float:
    """The longest step a unit recorded, its host time included (0 without `record`)."""
    if not rep.rec_dt:
        return 0.0
    return float(np.max(np.asarray(rep.rec_dt) + ov.step_s + ov.per_seq_s * np.asarray(rep.rec_n, float)))


def merge_steps(parts: list[list[tuple]]) -> list[tuple]:
    """One timeline of several units' step records (t, decodes, prefill tokens, running, waiting,
    KV use, steps): at each record of any unit, the running and waiting sums over the units (each
    at its latest record) and their mean KV use."""
    arrays = [np.asarray(p, dtype=float).reshape(-1, 7) for p in parts]
    rows = np.concatenate(arrays)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    t = rows[:, 0]
    total = np.zeros((t.size, 3))
    for a in arrays:
        last = np.searchsorted(a[:, 0], t, side="right") - 1
        seen = last >= 0
        total[seen] += a[last[seen]][:, 3:6]
    rows[:, 3:5] = total[:, :2]
    rows[:, 5] = total[:, 2] / len(arrays)
    return [tuple(r) for r in rows.tolist()]
