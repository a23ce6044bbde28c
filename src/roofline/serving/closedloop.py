"""Closed-loop disaggregated serving: one client's concurrency limit held across both pools.

`vllm bench serve --max-concurrency C` holds a semaphore from sending a request until its last
token has arrived (benchmark_serving.py, `limited_request_func`), so at most C requests are in
flight end to end: request k + C is sent when the k-th request to finish has finished, whichever
pool it finished on (the decode pool, or the prefill pool for a one-token answer). Limiting the
prefill pool alone would let the decode pool hold more than C requests.

So every engine unit of both pools (each instance, and with pp > 1 each virtual engine of it) runs
in one event loop, the unit with the earliest clock stepping first (prefill units first on a tie):
* a finish releases the semaphore, and the client sends the next request to the prefill units in
  turn (request i to unit i mod K, as replicas.deal does) at max(its arrival time, the release);
* a prompt's first token sends its KV cache to the decode units in turn, in the order the caches
  arrive (arrival = first token + transfer time), as in the open-loop simulation (disagg.py).
A release or a cache arrival is acted on before any unit steps at or after its time. Every step
takes a positive time, so a unit deciding at time t has already been told of every request that
reaches it by t. A run of decode steps priced at once (fastpath.py) must also stop where a cache
could arrive, including one not produced yet: no earlier than the earliest pending cache, an
active prefill unit's clock plus its shortest possible step plus the shortest transfer, or the
earliest pending finish (or another decode unit's clock plus its shortest step) plus the
client-to-engine time, a prefill step and a transfer. The shortest steps are lower bounds read off
each pool's step-time tables (the least dense time for ≥ 1 token, attention and logits only
adding) plus the fitted per-step and per-sequence host times. The loop is therefore exact: the
same steps as if every unit knew the future (tested against stepping one step at a time).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .pipeline import Stages
from .replicas import Merged, deal, longest_step, merge_steps
from .scheduler import KVCache, Replica, TooLarge


class PoolTooSmall(Exception):
    """A request one pool cannot hold (`role`: "prefill" or "decode"; `request`: workload index)."""

    def __init__(self, role: str, request: int):
        super().__init__(role, request)
        self.role, self.request = role, request


class _Fed(Replica):
    """A Replica whose requests are handed to it while the loop runs: a request's arrival time is
    infinite (not sent yet) until the client sends it or its KV cache arrives. No request can reach
    the unit before `horizon`, which stops runs of decode steps there."""

    horizon = math.inf

    def next_event(self) -> float:
        t = super().next_event()
        return t if t < self.horizon else self.horizon


class _Unit:
    def __init__(self, rep: _Fed, role: int, requests: np.ndarray):
        self.rep, self.role, self.requests = rep, role, requests  # requests: workload index of each slot
        self.clock, self.queued, self.lo = 0.0, False, 0
        self.seen = np.zeros(requests.size, bool)

    def idle(self) -> bool:
        r = self.rep
        return r.done == r.n or (r.running.size == 0 and not r.waiting and not r.arriving
                                 and (r.next >= r.n or r.arrival[r.next] == math.inf))


def _shortest_step(su, ov, tables: tuple[str, ...]) -> float:
    """A lower bound on any step of this setup that uses the dense-time `tables`: their least time
    for ≥ 1 token (attention and logits only add), one sequence's host time, and the eager
    surcharge where it is negative."""
    pred = su.pred
    dense = min(float(np.min(getattr(pred, name)[1:])) for name in tables)
    return ov.step_s + ov.per_seq_s + max(0.0, dense + min(0.0, float(pred.eager_surcharge)))


def _units(su, k: int, counts_for, role: int, ov, wl, record: bool, cached=None, out=None):
    pp, kv = su.s.par.pp, su.kv
    stages = {r: Stages(pp) for r in range(k)} if pp > 1 else {}
    units = []
    for r, _, requests, _ in deal(counts_for, k, pp, None):
        m = requests.size
        if role == 0:  # prefill: which requests is known now, only when they are sent is not
            rep = _Fed(su.cfg, su.pred, KVCache(kv.capacity / pp, kv.block, kv.g, kv.windowed), ov,
                       np.full(m, math.inf), wl.input_len[requests], out[requests],
                       cached=None if cached is None else cached[requests], record=record, stages=stages.get(r),
                       prefix_len=wl.prefix_len)
        else:  # decode: the slots are filled as caches arrive (the unit's share of them is known)
            rep = _Fed(su.cfg, su.pred, KVCache(kv.capacity / pp, kv.block, kv.g, kv.windowed), ov,
                       np.full(m, math.inf), np.zeros(m, np.int64), np.zeros(m, np.int64),
                       resumed=np.ones(m, bool), stages=stages.get(r), prefix_len=wl.prefix_len)
            requests = np.full(m, -1, np.int64)
        units.append(_Unit(rep, role, requests))
    return units


class ClosedLoop:
    """Both pools of a disaggregated deployment under one client with `conc` requests in flight."""

    def __init__(self, P, D, wl, conc: int, transfer: np.ndarray, ov, cached=None):
        n, self.out = wl.size, wl.output_len
        self.wl, self.conc, self.transfer, self.ov = wl, conc, transfer, ov
        moves = self.out > 1
        self.pre = _units(P, P.pool.instances, n, 0, ov, wl, True, cached, np.ones(n, np.int64))
        self.dec = _units(D, D.pool.instances, int(moves.sum()), 1, ov, wl, False)
        self.units = self.pre + self.dec
        self.heaps: tuple[list, list] = ([], [])  # (clock, unit) of the units with something to do
        self.releases: list[tuple[float, int]] = []  # (time, finishes) not acted on yet
        self.caches: list[tuple[float, int]] = []  # (arrival at the decode pool, request) not dealt yet
        self.sent, self.last_sent, self.dealt, self.finished, self.waits = 0, 0.0, 0, 0, 0
        self.shortest = _shortest_step(P, ov, ("dense_prefill",))  # a prefill pool step carries prompts only
        self.shortest_decode_pool = _shortest_step(D, ov, ("dense_decode", "dense_prefill"))
        self.least_transfer = float(transfer[moves].min()) if moves.any() else 0.0

    def run(self) -> Merged:
        n = self.wl.size
        for _ in range(min(self.conc, n)):
            self._send(0.0)
        hp, hd = self.heaps
        while self.finished < n:
            t = min(hp[0][0] if hp else math.inf, hd[0][0] if hd else math.inf)
            f = self.releases[0][0] if self.releases else math.inf
            r = self.caches[0][0] if self.caches else math.inf
            if min(f, r) <= t and min(f, r) < math.inf:
                if f <= r:
                    when, count = heapq.heappop(self.releases)
                    for _ in range(count):
                        if self.sent < n:
                            self._send(when)
                else:
                    self._deal(*heapq.heappop(self.caches))
                self.waits = 0
                continue
            if t == math.inf:
                raise RuntimeError(f"closed loop stalled with {n - self.finished} requests unfinished")
            if hp and hp[0][0] <= t:
                self._step_prefill(*heapq.heappop(hp))
            else:
                self._step_decode(*heapq.heappop(hd))
        return self._merged()

    def _stepped(self, unit: _Unit, role: str, clock: float) -> float:
        """Step a unit; a unit that cannot schedule anything waits for an arrival, and when every
        unit only waits, nothing can arrive: the request it holds does not fit."""
        rep = unit.rep
        mark = (rep.step_index, rep.next, rep.done, rep.running.size, len(rep.waiting))
        try:
            t = rep.step(clock)
        except TooLarge as e:
            raise PoolTooSmall(role, int(unit.requests[e.request])) from None
        moved = (rep.step_index, rep.next, rep.done, rep.running.size, len(rep.waiting)) != mark
        self.waits = 0 if moved else self.waits + 1
        if self.waits > 2 * len(self.units) + 8:
            stuck = rep.running[0] if rep.running.size else rep.waiting[0]
            raise PoolTooSmall(role, int(unit.requests[stuck]))
        return t

    # ----------------------------------------------------------------- client and hand-over
    def _send(self, release: float) -> None:
        g = self.sent
        self.sent += 1
        self.last_sent = s = max(float(self.wl.arrival_s[g]), release, self.last_sent)
        k = len(self.pre)
        self.pre[g % k].rep.arrival[g // k] = s
        self._wake(g % k, s)

    def _deal(self, arrival: float, g: int) -> None:
        k = len(self.dec)
        u, j = self.dealt % k, self.dealt // k
        self.dealt += 1
        unit = self.dec[u]
        rep = unit.rep
        inp = self.wl.input_len[g]
        rep.arrival[j], rep.inp[j], rep.out[j], rep.target[j] = arrival, inp, self.out[g], inp
        unit.requests[j] = g
        self._wake(len(self.pre) + u, arrival)

    def _wake(self, uid: int, t: float) -> None:
        unit = self.units[uid]
        if not unit.queued:
            unit.queued, unit.clock = True, max(t, unit.clock)
            heapq.heappush(self.heaps[unit.role], (unit.clock, uid))

    def _requeue(self, uid: int, unit: _Unit, t: float) -> None:
        unit.clock = t
        if not unit.idle():
            unit.queued = True
            heapq.heappush(self.heaps[unit.role], (t, uid))

    # ----------------------------------------------------------------- stepping
    def _step_prefill(self, clock: float, uid: int) -> None:
        unit = self.units[uid]
        rep, unit.queued = unit.rep, False
        before = rep.done
        t = self._stepped(unit, "prefill", clock)
        if rep.done > before:
            self._first_tokens(unit)
        self._requeue(uid, unit, t)

    def _first_tokens(self, unit: _Unit) -> None:
        """Prompts that finished on a prefill unit: their caches leave for the decode pool, and
        one-token requests are done (a release)."""
        rep, lo, hi = unit.rep, unit.lo, unit.rep.next
        new = np.nonzero(np.isfinite(rep.finish[lo:hi]) & ~unit.seen[lo:hi])[0] + lo
        unit.seen[new] = True
        while unit.lo < hi and unit.seen[unit.lo]:
            unit.lo += 1
        for j in new.tolist():
            g = int(unit.requests[j])
            if self.out[g] > 1:
                heapq.heappush(self.caches, (float(rep.first[j] + self.transfer[g]), g))
            else:
                heapq.heappush(self.releases, (float(rep.finish[j]), 1))
                self.finished += 1

    def _step_decode(self, clock: float, uid: int) -> None:
        unit = self.units[uid]
        rep, unit.queued = unit.rep, False
        rep.horizon = self._horizon()
        before = rep.done
        t = self._stepped(unit, "decode", clock)
        if rep.done > before:  # every finish of a step (or run of steps) is at its end
            heapq.heappush(self.releases, (t, rep.done - before))
            self.finished += rep.done - before
        self._requeue(uid, unit, t)

    def _horizon(self) -> float:
        """No KV cache can reach the decode pool before this (module doc); the unit being
        stepped is already off the heap, so the decode heap's top is another unit."""
        hp, hd = self.heaps
        h = self.caches[0][0] if self.caches else math.inf
        ahead = self.shortest + self.least_transfer
        if hp:
            h = min(h, hp[0][0] + ahead)
        if self.sent < self.wl.size:  # a finish can still send a request
            other = hd[0][0] + self.shortest_decode_pool if hd else math.inf  # its next step's end at the soonest
            finish = min(self.releases[0][0] if self.releases else math.inf, other)
            h = min(h, finish + self.ov.request_s + ahead)
        return h

    # ----------------------------------------------------------------- result
    def _merged(self) -> Merged:
        m = Merged(self.wl.size)
        for unit in self.pre:
            rep, g = unit.rep, unit.requests
            m.sent[g], m.first[g], m.finish[g] = rep.sent, rep.first, rep.finish
            m.preemptions += rep.preemptions
            m.longest_step_s = max(m.longest_step_s, longest_step(rep, self.ov))
        moves = self.out > 1
        m.first[moves] += self.transfer[moves]  # delivered once the KV has arrived
        for unit in self.dec:
            rep, g = unit.rep, unit.requests
            m.finish[g] = rep.finish
            m.itl_values += rep.itl_values
            m.itl_weights += rep.itl_weights
            m.preemptions += rep.preemptions
        parts = [unit.rep.steps for unit in self.dec]
        m.steps = parts[0] if len(parts) == 1 else merge_steps(parts)
        return m
