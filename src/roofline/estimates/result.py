"""Typed results. `to_dict()` is exactly what `--json` prints: SI units, no NaN or infinity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .capacity import Capacity
from .memory import Memory
from .phases import BOUNDS, OpRow, Phase, PhaseParts  # noqa: F401  (re-exported: the result types)


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
        from .phases import op_rows

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
        from .capacity import capacity_of

        return capacity_of(self.setup)

    @cached_property
    def kv_capacity(self):
        """The KV cache a serving engine (vLLM's rule, its defaults) allots, and the concurrency it holds."""
        from .capacity import engine_kv_capacity

        return engine_kv_capacity(self.setup)

    @cached_property
    def ranges(self) -> dict:
        """`ttft_s_range`, `tpot_s_range`, `e2e_latency_s_range`, `output_tokens_per_s_range`: the
        80% interval of each figure from the held-out errors of the calibration set in its regime
        and situation (docs/accuracy.md), or None where the set has no basis for one."""
        from ..evidence.uncertainty import ranges

        return ranges(self)

    @cached_property
    def cost(self) -> dict | None:
        """$ per million input and output tokens at the GPU's built-in price (roofline prices); None
        without a price or when the workload does not fit."""
        from .costs import estimate_cost

        return estimate_cost(self)

    @cached_property
    def critical_batch_size(self) -> int | None:
        from .capacity import critical_batch

        return critical_batch(self.setup)

    def explain(self):
        """The trace: every figure with its formula and the numbers substituted, recorded by
        re-running this estimate's evaluation with recording on."""
        from .working import trace_estimate

        return trace_estimate(self)

    @staticmethod
    def _step_figures(st) -> dict:
        """One (micro-)batch forward step: its physical limit (everything fused and overlapped) and
        its operators' times summed one after another."""
        return {"step_limit_s": float(st.limit_time), "step_per_op_sum_s": float(st.op_sum_time)}

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
            "prefill": {**self.prefill.to_dict(), **self._step_figures(self.evaluation.prefill_step)},
            "decode": {
                "time_per_token_s": self.tpot_s,
                "tokens_per_s": self.decode_tokens_per_s,
                "tokens_per_s_per_user": 1.0 / self.tpot_s,
                **{k: v for k, v in self.decode.to_dict().items() if k != "time_s"},
                **self._step_figures(self.evaluation.decode_step),
            },
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "e2e_latency_s": self.e2e_latency_s,
            "output_tokens_per_s": self.output_tokens_per_s,
            "output_tokens_per_s_per_gpu": self.output_tokens_per_s / n_gpus,
            **self.ranges,
            "comm": {"time_s": comm, "prefill_s": self.prefill.comm_s, "decode_step_s": self.decode.comm_s,
                     "share": comm / self.e2e_latency_s, **self.comm},
            "pipeline": self.pipeline,
            "speculative": self.speculative,
            "ridge_point_flop_per_byte": self.ridge_point_flop_per_byte,
            "critical_batch_size": self.critical_batch_size,
            "cost": self.cost,
            "notes": list(self.notes),
        }
        if explain:
            out["explain"] = self.explain().to_list()
            out["ops"] = [o.to_dict() for o in self.ops]
        return clean(out)
