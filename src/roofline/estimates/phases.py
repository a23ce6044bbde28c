"""A phase's time and where it goes: per point (Phase), over an evaluation's axes (PhaseParts),
and per operator (OpRow). Plain records, imported by the physics and the results alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


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
        vals = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (
            self.time_s, self.flops, self.bytes, self.compute_s, self.memory_s, self.overhead_s, self.comm_s, self.bubble_s)))
        t, f, b, c, m, o, cm, bu = (float(v[index]) for v in vals)
        parts = (c, m, o, cm)
        return Phase(t, f, b, BOUNDS[parts.index(max(parts))], c, m, o, cm, bu)


def op_rows(phase: str, st) -> list[OpRow]:
    """One row per operator of a timed step (estimates.timing.StepTime), all its instances summed."""
    rows = []
    for t in st.ops:
        c, mem, ov = float(t.compute), float(t.memory), float(t.overhead)
        bound = "communication" if t.op.unit == "comm" else ("compute" if c >= mem else "memory")
        if t.op.unit != "comm" and ov > max(c, mem):
            bound = "overhead"
        rows.append(OpRow(phase, t.op.name, t.op.group, t.op.count, float(t.op.flops) * t.op.count,
                          float(t.op.bytes) * t.op.count, float(t.total) * t.op.count, bound))
    return rows
