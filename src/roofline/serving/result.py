"""What a simulation returns: latency distributions, throughput, goodput and the timeline."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TIMELINE_POINTS = 200


def stats(values: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """mean, p50, p90, p99 (seconds); null when there is nothing to measure. `weights`: how many
    samples each value stands for (a run of identical decode steps is stored once)."""
    v = np.asarray(values, dtype=float)
    w = np.ones(v.size) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(v) & (w > 0)
    v, w = v[ok], w[ok]
    if v.size == 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    if weights is None:
        p50, p90, p99 = np.percentile(v, [50, 90, 99])
    else:  # the sample at which the cumulative count first reaches q of the total (nearest rank)
        order = np.argsort(v, kind="stable")
        v, w = v[order], w[order]
        cum = np.cumsum(w)
        p50, p90, p99 = (v[min(int(np.searchsorted(cum, q * cum[-1], side="left")), v.size - 1)] for q in (0.5, 0.9, 0.99))
    return {"mean": float(np.average(v, weights=w)), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


def timeline(steps: list[tuple]) -> dict:
    """Batch size, queue length and KV-cache use over time, at most TIMELINE_POINTS samples."""
    if not steps:
        return {"time_s": [], "batch_size": [], "queue_length": [], "kv_cache_usage": [], "prefill_tokens": []}
    a = np.asarray(sorted(steps), dtype=float)
    idx = np.unique(np.linspace(0, len(a) - 1, min(len(a), TIMELINE_POINTS)).round().astype(int))
    a = a[idx]
    return {"time_s": a[:, 0].tolist(), "batch_size": a[:, 3].astype(int).tolist(),
            "queue_length": a[:, 4].astype(int).tolist(), "kv_cache_usage": a[:, 5].tolist(),
            "prefill_tokens": a[:, 2].astype(int).tolist()}


@dataclass
class SimResult:
    """One simulated serving run. `to_dict()` is `roofline simulate --json` (SI units)."""

    model: str
    gpu: str
    engine: dict
    deployment: dict
    workload: dict
    kv_cache: dict
    overheads: dict
    duration_s: float
    num_requests: int
    input_tokens: int
    output_tokens: int
    ttft: np.ndarray
    tpot: np.ndarray
    itl: tuple  # (gaps, how many tokens saw each gap)
    e2e: np.ndarray
    steps: list
    preemptions: int
    ttft_slo: float | None = None
    tpot_slo: float | None = None
    notes: list = field(default_factory=list)
    disaggregated: dict | None = None
    out_len: np.ndarray | None = None

    @property
    def num_gpus(self) -> int:
        return int(self.deployment["num_gpus"])

    @property
    def output_tokens_per_s(self) -> float:
        return self.output_tokens / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.num_requests / self.duration_s if self.duration_s > 0 else 0.0

    def throughput(self) -> dict:
        d = self.duration_s if self.duration_s > 0 else math.inf
        out, inp, g = self.output_tokens / d, self.input_tokens / d, self.num_gpus
        tpot = self.tpot[np.isfinite(self.tpot) & (self.tpot > 0)]
        return {
            "requests_per_s": self.num_requests / d, "input_tokens_per_s": inp, "output_tokens_per_s": out,
            "total_tokens_per_s": inp + out, "output_tokens_per_s_per_gpu": out / g,
            "total_tokens_per_s_per_gpu": (inp + out) / g,
            "output_tokens_per_s_per_user": float(1.0 / tpot.mean()) if tpot.size else None,
        }

    def goodput(self) -> dict | None:
        if self.ttft_slo is None and self.tpot_slo is None:
            return None
        ok = np.ones(self.ttft.size, bool)
        if self.ttft_slo is not None:
            ok &= self.ttft <= self.ttft_slo
        if self.tpot_slo is not None:
            ok &= ~(self.tpot > self.tpot_slo)  # single-token outputs have no TPOT and pass
        d = self.duration_s if self.duration_s > 0 else math.inf
        return {"ttft_slo_s": self.ttft_slo, "tpot_slo_s": self.tpot_slo, "requests_meeting_slo": int(ok.sum()),
                "fraction": float(ok.mean()) if ok.size else 0.0, "requests_per_s": float(ok.sum()) / d,
                "output_tokens_per_s": float(self.out_len[ok].sum()) / d if self.out_len is not None else None}

    def to_dict(self) -> dict:
        a = np.asarray(self.steps, dtype=float) if self.steps else np.zeros((0, 7))
        n = a[:, 6]  # steps each record stands for
        doc = {
            "model": self.model, "gpu": self.gpu, "engine": self.engine, "deployment": self.deployment,
            "workload": self.workload, "kv_cache": self.kv_cache | {
                "peak_usage": float(a[:, 5].max()) if len(a) else 0.0,
                "mean_usage": float(np.average(a[:, 5], weights=n)) if len(a) else 0.0},
            "overheads": self.overheads,
            "duration_s": self.duration_s, "num_requests": self.num_requests,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "throughput": self.throughput(),
            "ttft_s": stats(self.ttft), "tpot_s": stats(self.tpot), "itl_s": stats(*self.itl), "e2e_s": stats(self.e2e),
            "goodput": self.goodput(),
            "batch_size": {"mean": float(np.average(a[:, 3], weights=n)) if len(a) else 0.0, "max": int(a[:, 3].max()) if len(a) else 0},
            "queue_length": {"mean": float(np.average(a[:, 4], weights=n)) if len(a) else 0.0, "max": int(a[:, 4].max()) if len(a) else 0},
            "steps": int(n.sum()), "preemptions": self.preemptions,
            "timeline": timeline(self.steps),
            "disaggregated": self.disaggregated,
            "notes": self.notes,
        }
        from ..estimates.costs import simulation_cost  # $ per million tokens at the GPU's built-in price
        from ..evidence.uncertainty import goodput_ranges, simulation_ranges  # 80% intervals, held-out serving errors

        ranges, note = simulation_ranges(doc)
        doc |= ranges
        doc["cost"] = simulation_cost(self.gpu, int(self.deployment["num_gpus"]), doc)  # its ranges follow throughput's
        doc["goodput"], goodput_note = goodput_ranges(doc["goodput"])
        doc["notes"] = [*doc["notes"], *(n for n in (note, goodput_note) if n)]
        return doc
