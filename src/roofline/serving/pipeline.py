"""Pipeline parallelism in the simulator: pp batches in flight on one replica's stages.

Engines keep one batch per pipeline stage in flight. vLLM (V0, since v0.5.1) runs one scheduler per
stage, a "virtual engine" with its own waiting and running requests, its own 1 / pp of the KV-cache
blocks (`num_gpu_blocks //= pipeline_parallel_size` in vllm/core/scheduler.py) and its own
max_num_seqs, each adding a new request to the virtual engine with the fewest unfinished ones
(vllm/engine/llm_engine.py); SGLang's pipeline loop (`event_loop_pp`, v0.5) and TensorRT-LLM's
(`_executor_loop_pp`, 1.x) likewise keep pp micro-batches in flight. None of this is in
shared/reference/engines.csv yet; the versions are those of the source files named.

Here a replica with pp stages is pp virtual engines (scheduler.Replica), requests dealt to them in
turn (the least-loaded rule, for a stream of alike requests), sharing the stages as a flow shop:
a batch enters stage k when it has left stage k − 1 (plus one activation hand-over) and stage k has
finished the batch before it. A batch's step therefore lasts the sum of its stage times and
hand-overs when the stages are free, and with every virtual engine busy each one's batch comes
round every max(pp × busiest stage, Σ stages + (pp − 1) × hand-over): the static estimate's
decode schedule with pp micro-batches (estimates/pipeline.py), throughput about pp × one stage.
"""

from __future__ import annotations

import heapq


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
    through the shared `Stages`), the one with the earliest clock first."""
    heap = [(0.0, k) for k, e in enumerate(engines) if e.done < e.n]
    heapq.heapify(heap)
    while heap:
        t, k = heapq.heappop(heap)
        e = engines[k]
        t = e.step(t)
        if e.done < e.n:
            heapq.heappush(heap, (t, k))
