"""One evaluation: every figure of a resolved scenario, as NumPy arrays over any axes.

`evaluate(setup, batch, input_len, output_len)` broadcasts the three workload axes and computes,
in one pass per phase: the memory per GPU (weights, KV cache, activations, overhead, any draft
model), the prefill and decode steps from the operator graph, the pipeline schedule, speculative
decoding, and data-parallel replicas. `estimate()` is this evaluation at one point; sweeps, the
grid, the charts, the report and the planners are the same call with axes, so every surface
answers the same question:

    batch per replica  b_r = ⌈batch / dp⌉
    micro-batches      m   = min(b_r, pp) (or --num-micro-batches), size ⌈b_r / m⌉
    TTFT   = prefill schedule (+ the draft's prefill)
    TPOT   = decode schedule, or (k·t_draft + t_verify + t_extra) / E with a drafter
    e2e    = TTFT + (output_len − 1) × TPOT;  output tokens/s = batch × output_len / e2e
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cost.graph import step_ops
from ..explain import Trace
from .memory import activation_bytes, kv_cache_bytes, weight_split
from .pipeline import Schedule, schedule
from .phases import PhaseParts
from .speculative import SpecResult
from .speculative import evaluate as evaluate_speculative
from .timing import StepTime, time_step


def phase_parts(st: StepTime) -> PhaseParts:
    return PhaseParts(st.time, st.flops, st.bytes, st.compute_bound_time, st.memory_bound_time,
                      st.overhead_time, st.comm_time)


class Footprint:
    """Memory per GPU from its four parts; an evaluation and a memory sweep both have them."""

    weights_bytes: object
    kv_cache_bytes: object
    activation_bytes: object
    overhead_bytes: object
    capacity_bytes: object

    @property
    def total_bytes(self) -> np.ndarray:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.overhead_bytes

    @property
    def fits(self) -> np.ndarray:
        return self.total_bytes <= self.capacity_bytes


@dataclass(frozen=True)
class Evaluation(Footprint):
    """Every figure at every point of the broadcast (batch, input_len, output_len) axes."""

    setup: object  # the resolved scenario (estimates.estimate.Setup)
    batch: np.ndarray  # sequences in flight across all replicas
    input_len: np.ndarray
    output_len: np.ndarray
    batch_per_replica: np.ndarray
    micro_batches: np.ndarray
    micro_batch_size: np.ndarray
    weights_bytes: float  # per GPU, a draft model's included
    kv_cache_bytes: np.ndarray  # per GPU, a draft model's included
    activation_bytes: np.ndarray
    overhead_bytes: float
    capacity_bytes: float
    prefill: PhaseParts  # TTFT and where it goes
    decode: PhaseParts  # one output token's decode time and where it goes
    prefill_step: StepTime  # one (micro-)batch's plain forward steps, per operator
    decode_step: StepTime
    schedules: tuple[Schedule, Schedule] | None = None
    spec: SpecResult | None = None

    @property
    def ttft_s(self) -> np.ndarray:
        return np.asarray(self.prefill.time_s, dtype=float)

    @property
    def tpot_s(self) -> np.ndarray:
        return np.asarray(self.decode.time_s, dtype=float)

    @property
    def e2e_latency_s(self) -> np.ndarray:
        return self.ttft_s + (self.output_len - 1) * self.tpot_s

    @property
    def decode_tokens_per_s(self) -> np.ndarray:
        return self.batch / self.tpot_s

    @property
    def output_tokens_per_s(self) -> np.ndarray:
        return self.batch * self.output_len / self.e2e_latency_s

    @property
    def comm_s(self) -> np.ndarray:
        return np.asarray(self.prefill.comm_s) + (self.output_len - 1) * np.asarray(self.decode.comm_s)

    @property
    def prefill_intensity(self) -> np.ndarray:
        return np.asarray(self.prefill.flops, dtype=float) / np.asarray(self.prefill.bytes, dtype=float)

    @property
    def decode_intensity(self) -> np.ndarray:
        return np.asarray(self.decode.flops, dtype=float) / np.asarray(self.decode.bytes, dtype=float)


def _axes(s, batch, input_len, output_len):
    b = np.asarray(s.total_batch if batch is None else batch, dtype=float)
    L = np.asarray(s.input_len if input_len is None else input_len, dtype=float)
    out = np.asarray(s.output_len if output_len is None else output_len, dtype=float)
    return np.broadcast_arrays(b, L, out)


def _micro_batches(s, b_rep: np.ndarray) -> np.ndarray:
    """vLLM runs pp virtual engines: min(batch per replica, pp) micro-batches unless asked; a
    requested count is capped by the batch at sweep points smaller than it."""
    if s.par.pp == 1:
        return np.ones_like(b_rep)
    want = s.requested_micro_batches or s.par.pp
    return np.minimum(b_rep, want)


def evaluate(s, batch=None, input_len=None, output_len=None, *, trace: Trace | None = None) -> Evaluation:
    """Evaluate the setup at every point of the broadcast axes (its own workload where omitted).
    With `trace`, the operator graph records each operator's formula (one point only)."""
    b, L, out = _axes(s, batch, input_len, output_len)
    m, p, par, r = s.model, s.prec, s.par, s.roofs
    b_rep = np.ceil(b / par.dp)
    mbs = _micro_batches(s, b_rep)
    mb = np.ceil(b_rep / mbs)
    weights = weight_split(m, par).bytes(p)
    kv = kv_cache_bytes(m, p, par, b_rep, L + out)
    act = activation_bytes(m, p, par, b_rep, L)
    traced = trace is not None
    pre_st = time_step(step_ops(m, p, par, "prefill", mb, L, out, trace=traced), r, par)
    dec_st = time_step(step_ops(m, p, par, "decode", mb, L, out, trace=traced), r, par)
    prefill, decode, schedules, spec = phase_parts(pre_st), phase_parts(dec_st), None, None
    if par.pp > 1:
        ps, prefill = schedule(pre_st, "prefill", m.num_layers, par.pp, mbs)
        ds, decode = schedule(dec_st, "decode", m.num_layers, par.pp, mbs)
        schedules = (ps, ds)
    if s.speculative is not None:
        spec = evaluate_speculative(s.speculative, m, p, par, r, b_rep, L, out, dec_st,
                                    s.profile.value("speculative_step_kernels"))
        decode = spec.decode
        weights = weights + spec.draft_weights_bytes
        kv = kv + spec.draft_kv_bytes
        prefill = PhaseParts(prefill.time_s + spec.draft_prefill_s, prefill.flops, prefill.bytes, prefill.compute_s,
                             prefill.memory_s, prefill.overhead_s + spec.draft_prefill_s, prefill.comm_s, prefill.bubble_s)
    return Evaluation(s, b, L, out, b_rep, mbs, mb, weights, kv, act, s.profile.value("runtime_overhead_bytes"),
                      s.capacity, prefill, decode, pre_st, dec_st, schedules, spec)
