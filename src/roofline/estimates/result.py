"""Typed results. `to_dict()` is exactly what `--json` prints: SI units, no NaN or infinity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

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


@dataclass(frozen=True)
class Estimate:
    model: dict
    gpu: dict
    precision: dict
    parallel: dict
    workload: dict
    ideal: bool
    memory: Memory
    prefill: Phase
    decode: Phase  # one mean decode step (per-token time for each sequence of the batch)
    ridge_point_flop_per_byte: float
    critical_batch_size: int | None
    notes: tuple[str, ...]
    ops: tuple[OpRow, ...] = ()
    comm: dict = field(default_factory=dict)  # links used by each collective
    pipeline: dict | None = None  # stages, micro-batches, bubble (pipeline parallelism)
    speculative: dict | None = None  # draft, k, acceptance, expected tokens, speed-up
    _explain: Callable[[], Any] | None = field(default=None, repr=False, compare=False)
    _capacity: Callable[[], dict] | None = field(default=None, repr=False, compare=False)

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

    @property
    def capacity(self) -> dict:
        """Largest batch at this context, longest context at this batch, fewest GPUs that hold the
        workload (computed on first use)."""
        cached = self.__dict__.get("_capacity_value")
        if cached is None:
            cached = self._capacity() if self._capacity else {}
            object.__setattr__(self, "_capacity_value", cached)
        return cached

    def explain(self):
        """The trace: every figure with its formula and the numbers substituted."""
        if self._explain is None:
            raise RuntimeError("this estimate carries no explain trace")
        return self._explain()

    def to_dict(self, explain: bool = False) -> dict:
        n_gpus = self.parallel["num_gpus"]
        out = {
            "model": self.model,
            "gpu": self.gpu,
            "precision": self.precision,
            "parallel": self.parallel,
            "workload": self.workload,
            "ideal": self.ideal,
            "memory": {**self.memory.to_dict(), **self.capacity},
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
            "comm": {"time_s": self.prefill.comm_s + (self.workload["output_len"] - 1) * self.decode.comm_s,
                     "prefill_s": self.prefill.comm_s, "decode_step_s": self.decode.comm_s,
                     "share": (self.prefill.comm_s + (self.workload["output_len"] - 1) * self.decode.comm_s) / self.e2e_latency_s,
                     **self.comm},
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
