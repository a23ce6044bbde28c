"""Pipeline parallelism: stages working on different micro-batches at once, and the bubble.

The layers are split into p stages; the batch of b sequences into m micro-batches of ⌈b/m⌉
(default m = min(b, p), what vLLM's p concurrent virtual engines amount to). Stage k spends t_k on
one micro-batch; t_send is one activation hand-over between stages.

Prefill of a static batch follows the GPipe schedule (Huang et al. 2019, "GPipe"): micro-batch i
enters stage k when both it has left stage k − 1 and stage k has finished micro-batch i − 1, so the
last one leaves after Σ_k t_k + (m − 1)·max_k t_k + (p − 1)·t_send. With equal stages that is
(m + p − 1)·t_s, of which each GPU idles (p − 1)·t_s: the bubble fraction (p − 1)/(m + p − 1).

Decode is autoregressive: a micro-batch's next token can enter stage 1 only after its previous
token left stage p. One step of every sequence therefore takes
max(m·max_k t_k, Σ_k t_k + (p − 1)·t_send): the busiest stage's work when m ≥ p (the pipeline is
full), the round trip through every stage when m < p (p − m stages idle at any time). At m = 1 a
pipeline is no faster than one GPU; it only makes room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import RooflineError
from ..units import fmt_time
from .phases import PhaseParts
from .timing import StepTime


def stage_layers(num_layers: int, pp: int) -> list[int]:
    """Layers per stage. Uneven splits are allowed: like vLLM's default partition, the remainder
    goes to the stages before the last one (which also carries the final norm and lm_head)."""
    base, extra = divmod(num_layers, pp)
    parts = [base] * pp
    for i in range(extra):
        parts[-2 - i] += 1
    return parts


def micro_batches(batch: int, pp: int, requested: int | None) -> int:
    if requested is None:
        return max(1, min(batch, pp))
    if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)) or requested < 1:
        raise RooflineError(f"--num-micro-batches must be a whole number ≥ 1, got {requested!r}")
    if requested > batch:
        raise RooflineError(f"--num-micro-batches {requested} exceeds the batch of {batch} sequences per replica")
    return int(requested)


@dataclass(frozen=True)
class Schedule:
    """One phase run through the pipeline, in seconds (arrays over a sweep's axes)."""

    stage_s: tuple  # each stage's time on one micro-batch
    send_s: object  # one stage-to-stage hand-over
    time_s: object  # the phase: prefill makespan or one decode step
    busy_s: object  # the busiest stage's work: m × max_k t_k
    send_wait_s: object  # hand-overs on the critical path
    bubble_s: object  # time the busiest stage idles

    @property
    def bubble_fraction(self):
        t = np.asarray(self.time_s, dtype=float)
        return np.where(t > 0, np.asarray(self.bubble_s) / np.where(t > 0, t, 1.0), 0.0)

    def to_dict(self) -> dict:
        return {"stage_time_s": [float(t) for t in self.stage_s], "send_s": float(self.send_s),
                "time_s": float(self.time_s), "busy_s": float(self.busy_s), "send_wait_s": float(self.send_wait_s),
                "bubble_s": float(self.bubble_s), "bubble_fraction": float(self.bubble_fraction)}


def _parts(ots) -> np.ndarray:
    """[compute, memory, overhead, comm] time of a list of timed ops, stacked on a leading axis."""
    s = StepTime(ots)
    return np.stack(np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                          (s.compute_bound_time, s.memory_bound_time, s.overhead_time, s.comm_time))))


def _split(st: StepTime):
    """(layers, first-stage extras, last-stage extras) as stacked [compute, memory, overhead, comm]
    times, and the time of one stage hand-over."""
    layers, first, last, send = [], [], [], []
    for t in st.ops:
        if t.op.comm_kind == "p2p":
            send.append(t)
        elif t.op.group == "model":
            (first if t.op.name == "embedding" else last).append(t)
        else:
            layers.append(t)
    n_send = sum(t.op.count for t in send)
    one_send = np.asarray(StepTime(send).time, dtype=float) / n_send if n_send else np.asarray(0.0)
    return _parts(layers), _parts(first), _parts(last), one_send


def schedule(st: StepTime, phase: str, num_layers: int, pp: int, m) -> tuple[Schedule, PhaseParts]:
    """The phase's time through the pipeline from one micro-batch's step (all stages, per GPU);
    `m` (micro-batches) and every time may be arrays over a sweep's axes."""
    layers, first, last, send = _split(st)
    counts = stage_layers(num_layers, pp)
    m = np.asarray(m, dtype=float)
    stages = [c / num_layers * layers + (first if k == 0 else 0.0) + (last if k == pp - 1 else 0.0)
              for k, c in enumerate(counts)]
    stages = np.stack(np.broadcast_arrays(*stages))  # (pp, 4, ...)
    times = stages.sum(axis=1)  # (pp, ...)
    k_max = np.argmax(times, axis=0)
    t_max, t_sum, sends = times.max(axis=0), times.sum(axis=0), (pp - 1) * send
    busy = m * t_max
    if phase == "prefill":
        time = t_sum + (m - 1) * t_max + sends
        send_wait, bubble = sends + 0.0 * time, time - busy - sends
    else:
        time = np.maximum(busy, t_sum + sends)
        extra = time - busy
        send_wait = np.minimum(extra, sends)
        bubble = extra - send_wait
    bubble = np.maximum(bubble, 0.0)  # rounding only
    busiest = np.take_along_axis(stages, k_max[None, None, ...] if np.ndim(k_max) else np.asarray(k_max).reshape(1, 1), axis=0)[0]
    c, mem, ov, cm = (m * busiest[i] for i in range(4))
    ph = PhaseParts(time, m * np.asarray(st.flops, dtype=float), m * np.asarray(st.bytes, dtype=float),
                    c, mem, ov, cm + send_wait, bubble)
    return Schedule(tuple(times), send, time, busy, send_wait, bubble), ph


def describe(sch: Schedule, phase: str, pp: int, m: int, mb: int, counts: list[int]) -> list[tuple[str, str, str, str]]:
    """(name, formula, substituted, result) lines for the explain trace."""
    t_max, t_sum = max(sch.stage_s), sum(sch.stage_s)
    stages = " + ".join(fmt_time(t) for t in sch.stage_s)
    out = [(f"{phase} stage times", f"t_k = (layers_k / layers) × layer time + embedding (first) + lm_head (last), "
            f"stages of {counts} layers, micro-batch of {mb}", stages, f"max {fmt_time(t_max)}")]
    if phase == "prefill":
        out.append(("prefill makespan", "Σ t_k + (m − 1) × max t_k + (p − 1) × t_send",
                    f"{fmt_time(t_sum)} + {m - 1} × {fmt_time(t_max)} + {pp - 1} × {fmt_time(sch.send_s)}", fmt_time(sch.time_s)))
        out.append(("prefill bubble", "(p − 1)/(m + p − 1) with equal stages; here idle time / makespan",
                    f"({pp} − 1)/({m} + {pp} − 1) = {(pp - 1) / (m + pp - 1):.3g}", f"{sch.bubble_fraction:.3g}"))
    else:
        out.append(("decode step", "max(m × max t_k, Σ t_k + (p − 1) × t_send)",
                    f"max({m} × {fmt_time(t_max)}, {fmt_time(t_sum)} + {pp - 1} × {fmt_time(sch.send_s)})", fmt_time(sch.time_s)))
        out.append(("decode bubble", "idle time of the busiest stage / step", f"{fmt_time(sch.bubble_s)} / {fmt_time(sch.time_s)}",
                    f"{sch.bubble_fraction:.3g}"))
    return out


def micro_batch_size(batch: int, m: int) -> int:
    return math.ceil(batch / m)


def layer_split_sizes(num_gpus: int | None, tp: int, pp: int) -> tuple[int, int]:
    """(tp, pp) of `--split-mode layer` (llama.cpp's and ExLlamaV2's multi-GPU mode): whole layers per
    GPU, so no tensor parallelism, and every GPU of the deployment is one stage (num_gpus, else pp)."""
    if tp != 1:
        raise RooflineError("--split-mode layer puts whole layers on each GPU; it does not combine with "
                            "--tensor-parallel-size (use --split-mode tensor)")
    return 1, num_gpus or pp


def micro_batches_for(split_mode: str, batch: int, pp: int, requested: int | None) -> int:
    """Micro-batches per step: a layer split runs the whole batch through one GPU after another (a single
    micro-batch, so a stream gets no speed-up and only the hand-overs cost); a pipeline splits it."""
    if split_mode == "layer":
        if requested not in (None, 1):
            raise RooflineError("--split-mode layer runs one micro-batch; --num-micro-batches applies to pipeline parallelism")
        return 1
    return micro_batches(batch, pp, requested) if pp > 1 else 1
