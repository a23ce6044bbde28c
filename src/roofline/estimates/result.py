"""Typed results. `to_dict()` is exactly what `--json` prints: SI units, no NaN or infinity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .memory import Memory


def clean(x: Any) -> Any:
    """JSON-safe: floats that are not finite become None (the tool never prints NaN or inf)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    return x


@dataclass(frozen=True)
class OpRow:
    phase: str
    name: str
    group: str
    count: int
    flops: float
    bytes: float
    time_s: float  # all instances
    bound: str  # compute | memory | overhead | communication

    @property
    def arithmetic_intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else float("inf")

    def to_dict(self) -> dict:
        return {
            "phase": self.phase, "name": self.name, "group": self.group, "count": self.count,
            "flops": self.flops, "bytes": self.bytes, "arithmetic_intensity": self.arithmetic_intensity,
            "time_s": self.time_s, "bound": self.bound,
        }


@dataclass(frozen=True)
class Phase:
    time_s: float
    flops: float
    bytes: float
    bound: str
    compute_s: float  # time in compute-bound operators
    memory_s: float  # time in memory-bound operators
    overhead_s: float  # kernel launches and dequantization
    comm_s: float  # collectives
    bubble_s: float = 0.0  # pipeline parallelism: time the busiest stage waits for work

    @property
    def arithmetic_intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else 0.0

    def to_dict(self) -> dict:
        return {
            "time_s": self.time_s, "flops": self.flops, "bytes": self.bytes,
            "arithmetic_intensity": self.arithmetic_intensity, "bound": self.bound,
            "compute_s": self.compute_s, "memory_s": self.memory_s, "overhead_s": self.overhead_s,
            "comm_s": self.comm_s, "bubble_s": self.bubble_s,
        }


BOUNDS = ("compute", "memory", "overhead", "communication")


@dataclass(frozen=True)
class PhaseParts:
    """A phase's time and where it goes, as arrays over an evaluation's axes (0-d at one point)."""

    time_s: Any
    flops: Any
    bytes: Any
    compute_s: Any  # time in compute-bound operators
    memory_s: Any  # time in memory-bound operators
    overhead_s: Any  # kernel launches and dequantization
    comm_s: Any  # collectives
    bubble_s: Any = 0.0  # pipeline parallelism: time the busiest stage waits for work

    def at(self, index=()) -> "Phase":
        """The phase at one point of the axes (an index into the broadcast arrays)."""
        import numpy as np

        vals = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (
            self.time_s, self.flops, self.bytes, self.compute_s, self.memory_s, self.overhead_s, self.comm_s, self.bubble_s)))
        t, f, b, c, m, o, cm, bu = (float(v[index]) for v in vals)
        parts = (c, m, o, cm)
        return Phase(t, f, b, BOUNDS[parts.index(max(parts))], c, m, o, cm, bu)


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


@dataclass(frozen=True)
class Estimate:
    """One point of the evaluation: memory, phases and what bounds them. Capacity, the critical
    batch and the explain trace are computed from the same setup on first use."""

    model: dict
    gpu: dict
    precision: dict
    parallel: dict
    workload: dict
    ideal: bool
    memory: Memory
    prefill: Phase
    decode: Phase  # one output token's decode time (per sequence of the batch)
    ridge_point_flop_per_byte: float
    notes: tuple[str, ...]
    comm: dict = field(default_factory=dict)  # links used by each collective
    pipeline: dict | None = None  # stages, micro-batches, bubble (pipeline parallelism)
    speculative: dict | None = None  # draft, k, acceptance, expected tokens, speed-up
    setup: Any = field(default=None, repr=False, compare=False)  # the resolved scenario it evaluates
    evaluation: Any = field(default=None, repr=False, compare=False)  # the evaluation it is one point of

    @cached_property
    def ops(self) -> tuple[OpRow, ...]:
        """Every operator of the prefill and the decode step with its FLOPs, bytes, time and bound."""
        from .estimate import op_rows

        ev = self.evaluation
        return tuple(op_rows("prefill", ev.prefill_step) + op_rows("decode", ev.decode_step))

    @property
    def ttft_s(self) -> float:
        return self.prefill.time_s

    @property
    def tpot_s(self) -> float:
        return self.decode.time_s

    @property
    def e2e_latency_s(self) -> float:
        return self.ttft_s + (self.workload["output_len"] - 1) * self.tpot_s

    @property
    def decode_tokens_per_s(self) -> float:
        return self.workload["batch_size"] / self.tpot_s

    @property
    def output_tokens_per_s(self) -> float:
        """Static batch: every sequence's output tokens over the whole request (prefill included)."""
        return self.workload["batch_size"] * self.workload["output_len"] / self.e2e_latency_s

    @cached_property
    def capacity(self) -> Capacity:
        """Largest batch at this context, longest context at this batch, fewest GPUs that hold the workload."""
        from .estimate import capacity_of

        return capacity_of(self.setup)

    @cached_property
    def kv_capacity(self):
        """The KV cache a serving engine (vLLM's rule, its defaults) allots, and the concurrency it holds."""
        from .estimate import engine_kv_capacity

        return engine_kv_capacity(self.setup)

    @cached_property
    def critical_batch_size(self) -> int | None:
        from .capacity import critical_batch

        return critical_batch(self.setup)

    def explain(self):
        """The trace: every figure with its formula and the numbers substituted, recorded by
        re-running this estimate's evaluation with recording on."""
        from .estimate import traced

        return traced(self.setup)

    def to_dict(self, explain: bool = False) -> dict:
        n_gpus = self.parallel["num_gpus"]
        comm = self.prefill.comm_s + (self.workload["output_len"] - 1) * self.decode.comm_s
        out = {
            "model": self.model,
            "gpu": self.gpu,
            "precision": self.precision,
            "parallel": self.parallel,
            "workload": self.workload,
            "ideal": self.ideal,
            "memory": {**self.memory.to_dict(), **self.capacity.to_dict(), "kv_capacity": self.kv_capacity.to_dict()},
            "prefill": self.prefill.to_dict(),
            "decode": {
                "time_per_token_s": self.tpot_s,
                "tokens_per_s": self.decode_tokens_per_s,
                "tokens_per_s_per_user": 1.0 / self.tpot_s,
                **{k: v for k, v in self.decode.to_dict().items() if k != "time_s"},
            },
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "e2e_latency_s": self.e2e_latency_s,
            "output_tokens_per_s": self.output_tokens_per_s,
            "output_tokens_per_s_per_gpu": self.output_tokens_per_s / n_gpus,
            "comm": {"time_s": comm, "prefill_s": self.prefill.comm_s, "decode_step_s": self.decode.comm_s,
                     "share": comm / self.e2e_latency_s, **self.comm},
            "pipeline": self.pipeline,
            "speculative": self.speculative,
            "ridge_point_flop_per_byte": self.ridge_point_flop_per_byte,
            "critical_batch_size": self.critical_batch_size,
            "notes": list(self.notes),
        }
        if explain:
            out["explain"] = self.explain().to_list()
            out["ops"] = [o.to_dict() for o in self.ops]
        return clean(out)
