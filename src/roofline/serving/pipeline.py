"""Pipeline parallelism in the simulator: pp batches in flight on one replica's stages.

Engines keep one batch per pipeline stage in flight. vLLM (V0, since v0.5.1) runs one scheduler per
stage, a "virtual engine" with its own waiting and running requests, its own 1 / pp of the KV-cache
blocks (`num_gpu_blocks //= pipeline_parallel_size` in vllm/core/scheduler.py) and its own
max_num_seqs, each adding a new request to the virtual engine with the fewest unfinished ones
(vllm/engine/llm_engine.py); SGLang's pipeline loop (`event_loop_pp`, v0.5) and TensorRT-LLM's
(`_executor_loop_pp`, 1.x) likewise keep pp micro-batches in flight. vLLM V1 (the 0.11 profile)
does it with one scheduler and a queue of pp batches (`step_with_batch_queue` in
vllm/v1/engine/core.py) over one KV cache; the split into virtual engines, each with its share of
the blocks and its own max_num_seqs, is V0's and is what is modelled for every engine. None of this
is in shared/reference/engines.csv yet; the versions are those of the source files named.

Here a replica with pp stages is pp virtual engines (scheduler.Replica), requests dealt to them in
turn (the least-loaded rule, for a stream of alike requests), sharing the stages as a flow shop:
a batch enters stage k when it has left stage k − 1 (plus one activation hand-over) and stage k has
finished the batch before it. A batch's step therefore lasts the sum of its stage times and
hand-overs when the stages are free, and with every virtual engine busy each one's batch comes
round every max(pp × busiest stage, Σ stages + (pp − 1) × hand-over): the static estimate's
decode schedule with pp micro-batches (estimates/pipeline.py), throughput about pp × one stage.

Stretches where every busy virtual engine decodes all its requests and none is about to see a new
one are priced together (`joint_decode`, the pipelined form of fastpath.decode_run): the same
batches in the same order through the same stages, with the same result as one step at a time.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .fastpath import commit, run_length
from .predictor import table_at


class Stages:
    """When each stage of one replica's pipeline is next free."""

    def __init__(self, pp: int):
        self.free = [0.0] * pp

    def run(self, ready: float, stage_s: list[float], send_s: float) -> float:
        """A batch handed to stage 0 at `ready`: when it leaves the last stage."""
        t = ready
        free = self.free
        for k, work in enumerate(stage_s):
            if k:
                t += send_s
            t = (t if t > free[k] else free[k]) + work
            free[k] = t
        return t


def run_virtual_engines(engines: list) -> None:
    """Step the virtual engines of one replica in time order (each `Replica.step` prices its batch
    through the shared `Stages`), the one with the earliest clock first; stretches where every busy
    engine only decodes are priced together (`joint_decode`)."""
    heap = [(0.0, k) for k, e in enumerate(engines) if e.done < e.n]
    heapq.heapify(heap)
    while heap:
        if joint_decode(engines, heap):
            continue
        t, k = heapq.heappop(heap)
        e = engines[k]
        t = e.step(t)
        if e.done < e.n:
            heapq.heappush(heap, (t, k))


def _run(e, clock: float, cut: float) -> int:
    """How many decode-only steps of a virtual engine's running requests can be priced at once
    (fastpath.run_length), 0 when it cannot. Its steps come at least one pass through the stages
    apart, so those after `cut` are not counted."""
    dec = e.running
    if dec.size > e.cfg.max_num_batched_tokens:
        return 0
    n = int(dec.size)
    shortest = table_at(e.pred.dense_decode, n) + table_at(e.pred.head, n)
    return run_length(e, dec, (cut - clock) / shortest + 2 if cut < math.inf else math.inf)


def _plan(e, k: int):
    """A virtual engine's next k decode-only steps, priced at once (fastpath.decode_run's run): the
    requests, host seconds per step, each step's GPU seconds and the batch size."""
    dec = e.running
    n = int(dec.size)
    gpu = e.pred.decode_run(e.computed[dec] + 1, k, n > e.cfg.graph_max).tolist()
    return dec, e.ov.step_s + e.ov.per_seq_s * n, gpu, n


def joint_decode(engines: list, heap: list) -> bool:
    """While every virtual engine with requests is decoding all of them and none is about to see a
    new one, their batches take turns on the stages exactly as one step at a time would (earliest
    clock first), so their times are computed in one pass and committed as runs. False when not."""
    if any(e.waiting or e.partial for e in engines):
        return False
    cut, busy = math.inf, []
    for clock, k in heap:
        e = engines[k]
        if e.running.size:
            e._issue(clock)  # what its own next step would see first
            if e.waiting:
                return False
            busy.append((clock, k))
        cut = min(cut, e.next_event())
    runs = {}
    for clock, k in busy:
        steps = _run(engines[k], clock, cut)
        if not steps:
            return False
        runs[k] = steps
    # batches go in clock order and stop at the first at or after `cut`: engines whose clock is
    # already there take no step, so only the others are priced
    plans = {k: _plan(engines[k], runs[k]) for clock, k in busy if clock < cut}
    if not plans:  # nothing taken (the stages are untouched)
        return False
    order = [(c, k) for c, k in heap if k in plans]
    heapq.heapify(order)
    ends: dict[int, list] = {k: [] for k in plans}
    stages = engines[next(iter(plans))].stages
    while order:
        clock, k = order[0]
        _, host, gpu, n = plans[k]
        j = len(ends[k])
        if clock >= cut or j == len(gpu):  # a request arrives, or this engine's run is over
            break
        # split into stages only the steps taken (the run was priced up to a bound on `cut`)
        stage_s, send = engines[k].pred.stages(gpu[j], n, n)
        end = stages.run(clock + host, stage_s, send)
        ends[k].append(end)
        heapq.heapreplace(order, (end, k))
    for k, done in ends.items():
        if done:  # commit reads the first gap off the requests' last token time, the rest from dt
            at = np.asarray(done)
            gaps = np.empty(at.size)
            gaps[0], gaps[1:] = 0.0, at[1:] - at[:-1]
            commit(engines[k], plans[k][0], len(done), gaps, at)
    heap[:] = [(ends[k][-1] if ends.get(k) else c, k) for c, k in heap if engines[k].done < engines[k].n]
    heapq.heapify(heap)
    return True
