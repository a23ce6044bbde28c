"""The planner's answer: the frontier, the choice, the nearest miss, and why the others lost."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..estimates.result import clean
from ..units import fmt_time
from .candidates import Candidate
from .pareto import cheapest_meeting, nearest_miss, pareto_front, slo_excess


@dataclass
class PlanResult:
    model: str
    workload: dict
    screened: int  # candidates screened
    finalists: list[Candidate]
    frontier: list[Candidate]
    chosen: Candidate | None  # cheapest meeting the targets
    nearest: Candidate | None  # when none meets them: the closest
    unfit: list = field(default_factory=list)  # (Shape, reason) that cannot serve at all
    counts: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict:
        return clean({
            "model": self.model, "workload": self.workload, "candidates_screened": self.screened,
            "summary": self.summary,
            "chosen": _with_cost_ranges(self.chosen.to_dict() if self.chosen else None),
            "nearest_miss": _with_cost_ranges(self.nearest.to_dict() if self.nearest else None),
            "frontier": [_with_cost_ranges(c.to_dict()) for c in self.frontier],
            "finalists": [_with_cost_ranges(c.to_dict()) for c in self.finalists],
            "screen": self.counts,
            "unfit_shapes": [{"gpu": s.gpu, "split": s.split_label, "weight_dtype": s.weight_dtype,
                              "kv_cache_dtype": s.kv_cache_dtype, "reason": r} for s, r in self.unfit[:50]],
            "notes": self.notes,
        })


def _money(x: float) -> str:
    return f"${x:,.3g}" if x < 100 else f"${x:,.0f}"


def _targets(ttft_slo, tpot_slo) -> str:
    parts = ([f"TTFT ≤ {fmt_time(ttft_slo)}"] if ttft_slo else []) + ([f"TPOT ≤ {fmt_time(tpot_slo)}"] if tpot_slo else [])
    return " and ".join(parts) or "no latency targets"


def _miss(c: Candidate, ttft_slo, tpot_slo, with_range: bool = False) -> str:
    """The targets `c` misses; `with_range`: each figure with its interval (the summary's one line)."""
    out = []
    for name, slo, what in (("ttft_s", ttft_slo, "TTFT"), ("tpot_s", tpot_slo, "TPOT")):
        v = c.metric(name)
        if slo and v > slo:
            shown = _latency(c, name) if with_range else f"{_pct(c)}{fmt_time(v)}"
            out.append(f"{what} {shown} > {fmt_time(slo)} (+{v / slo - 1:.0%})")
    return "; ".join(out)


def _pct(c: Candidate) -> str:
    return "p90 " if c.simulated is not None else "≈ "


def _verdict(c: Candidate, best: Candidate | None, keeps: bool, on_front: bool, rate: float, ttft_slo, tpot_slo) -> str:
    if not keeps:
        return f"falls behind: keeps up with {c.served_requests_per_s:.3g} of {rate:.3g} requests/s"
    miss = _miss(c, ttft_slo, tpot_slo)
    if miss:
        return "misses the targets: " + miss
    if best is None or c is best:
        return "cheapest deployment meeting the targets"
    extra = c.usd_per_million_output_tokens / best.usd_per_million_output_tokens - 1
    e2e, e2e_best = c.metric("e2e_s"), best.metric("e2e_s")
    speed = f"e2e {_pct(c)}{fmt_time(e2e)} vs {fmt_time(e2e_best)}"
    if extra < 0.005:
        return f"meets the targets at the same cost; {speed}"
    tail = f", faster: {speed}" if e2e < e2e_best else f", slower: {speed}"
    return f"meets the targets at +{extra:.0%} cost" + tail


def _shape_situation(spec, shape, workload: dict) -> dict:
    """What changes a replica shape's error (GPUs, link, formats): evidence.uncertainty.situation."""
    from ..estimates.estimate import setup
    from ..evidence.uncertainty import setup_situation

    return setup_situation(setup(spec, shape.gpu, input_len=workload["input_len"], output_len=workload["output_len"],
                                 **shape.options()))


def add_screen_ranges(finals: list[Candidate], spec, workload: dict) -> None:
    """Put the 80% interval beside each finalist's screened means (`estimate.ttft_s_range`, …): the
    static estimate's cells (see evidence.uncertainty.screen_ranges); None for disaggregated ones."""
    from ..evidence.uncertainty import DISAGG_NO_BASIS, screen_ranges

    for c in finals:
        if c.disaggregated:
            c.estimate |= screen_ranges(c.estimate, None, None, c.batch)
            if DISAGG_NO_BASIS not in c.notes:
                c.notes.append(DISAGG_NO_BASIS)
            continue
        sit = _shape_situation(spec, c.profile.shape, workload)
        c.estimate |= screen_ranges(c.estimate, sit, sit, c.batch)


def latency_range(c: Candidate, name: str) -> dict | None:
    """The interval of the latency `Candidate.metric` reports: the simulated p90's, else the screened mean's."""
    src = (c.simulated or {}).get(f"{name}_range") if c.simulated is not None else c.estimate.get(f"{name}_range")
    return (src or {}).get("p90") if c.simulated is not None else src


def _latency(c: Candidate, name: str) -> str:
    """`p90 120 ms (80%: 90 ms – 160 ms)`: the figure and its interval where one has a basis."""
    r = latency_range(c, name)
    rng = f" ({r['level']:.0%}: {fmt_time(r['low'])} – {fmt_time(r['high'])})" if r else ""
    return f"{_pct(c)}{fmt_time(c.metric(name))}{rng}"


def _no_range(c: Candidate) -> str:
    """Why the summary's latencies have no interval, when neither has one."""
    if latency_range(c, "ttft_s") or latency_range(c, "tpot_s"):
        return ""
    from ..evidence.uncertainty import DISAGG_NO_BASIS

    return f" ({DISAGG_NO_BASIS})" if c.disaggregated else " (no intervals: the measurements give none for these figures)"


# The plan's cost is the rent over the offered load, which the price and the rate fix exactly: the
# estimate's error shows in whether a deployment keeps up and meets the targets, not in its cost.
PLAN_COST_NO_RANGE = ("no interval: the rent over the offered load, fixed by the price and the request rate; "
                      "the estimate's error shows in whether the deployment keeps up and meets the targets")


def _with_cost_ranges(d: dict | None) -> dict | None:
    if d is None:
        return None
    d["cost"] |= {"usd_per_million_output_tokens_range": None, "usd_per_million_input_tokens_range": None,
                  "range_note": PLAN_COST_NO_RANGE}
    return d


def decide(model: str, workload: dict, screened: int, finals: list[Candidate], unfit, counts: dict, notes: list[str],
           rate: float, ttft_slo, tpot_slo, keep_up: float, spec=None) -> PlanResult:
    """The choice among the finalists; `spec` (the ModelSpec) gives the screened means their intervals."""
    if spec is not None:
        add_screen_ranges(finals, spec, workload)
    keeps = np.asarray([c.served_requests_per_s is None or c.served_requests_per_s >= keep_up * rate for c in finals], bool)
    cost = np.asarray([c.usd_per_million_output_tokens for c in finals], dtype=float)
    lat = np.asarray([c.metric("e2e_s") for c in finals], dtype=float)
    excess = slo_excess([c.metric("ttft_s") for c in finals], [c.metric("tpot_s") for c in finals], ttft_slo, tpot_slo)
    idx = np.nonzero(keeps)[0]
    front = [finals[i] for i in idx[pareto_front(cost[idx], lat[idx])]] if idx.size else []
    pick = cheapest_meeting(cost[idx], lat[idx], excess[idx]) if idx.size else None
    chosen = finals[idx[pick]] if pick is not None else None
    nearest = None
    if chosen is None and finals:
        pool = idx if idx.size else np.arange(len(finals))
        nearest = finals[pool[nearest_miss(cost[pool], excess[pool])]]
    for i, c in enumerate(finals):
        c.verdict = _verdict(c, chosen, bool(keeps[i]), c in front, rate, ttft_slo, tpot_slo)
    if any(c.simulated is None for c in finals):
        notes.append("not simulated: latencies are the screen's steady-state means, not percentiles; their intervals "
                     "are the static estimate's (prefill for TTFT, single-stream or batched decode for TPOT and end to "
                     "end): the step times' held-out errors, not the queueing approximation's")
    r = PlanResult(model, workload, screened, finals, front, chosen, nearest, unfit, counts, notes)
    r.summary = _summary(r, ttft_slo, tpot_slo)
    return r


def _gpus(n: int) -> str:
    return f"{n} GPU" if n == 1 else f"{n} GPUs"


def _summary(r: PlanResult, ttft_slo, tpot_slo) -> str:
    w = r.workload
    head = f"{w['request_rate']:g} requests/s of {w['input_len']} → {w['output_len']} tokens, {_targets(ttft_slo, tpot_slo)}: "
    if r.chosen is not None:
        c = r.chosen
        return (head + f"{c.label}, at {_money(c.usd_per_million_output_tokens)} per million output tokens "
                f"({_money(c.usd_per_hour)}/hour); TTFT {_latency(c, 'ttft_s')}, TPOT {_latency(c, 'tpot_s')}{_no_range(c)}")
    if r.nearest is not None:
        n = r.nearest
        return (head + f"no deployment within {_gpus(w['max_gpus'])} meets them. Nearest miss: {n.label} "
                f"({_money(n.usd_per_million_output_tokens)} per million output tokens): "
                f"{_miss(n, ttft_slo, tpot_slo, with_range=True) or n.verdict}")
    why = "none fits or keeps up"
    if r.unfit and not r.finalists:
        shape, reason = r.unfit[-1]  # the largest split tried
        why = f"no replica shape fits (the last tried, {shape.gpu} {shape.split_label}: {reason})"
    return head + f"no deployment within {_gpus(w['max_gpus'])} can serve this load: {why}"
