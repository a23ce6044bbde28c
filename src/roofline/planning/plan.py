"""`plan()`: the cheapest deployment that serves a request rate within latency targets.

Search: GPU type × replica split (tp, pp, and ep = tp for MoE models) × weight and KV-cache
formats × token budget (max_num_batched_tokens) × either dp replicas (aggregated) or x prefill
and y decode replicas (disaggregated, each pool with its own tp), within --max-gpus. Every candidate is screened by the
steady-state model of screen.py in a few array passes; the most promising (the screen's cost–
latency frontier, the cheapest that meet the targets, the best of each GPU type) are simulated
request by request with `roofline.serving.simulate`; their simulated percentiles decide.

Cost is what the deployment rents for, spread over the tokens of the offered load:
$/GPU-hour × GPUs ÷ (R × output_len × 3600) × 10⁶ per million output tokens.
A deployment meets the targets when its simulated p90 TTFT and p90 TPOT are within them
(SLO_PERCENTILE) and it keeps up with the load (serves at least KEEP_UP of the offered rate:
past that, its queue grows for as long as the load lasts).
"""

from __future__ import annotations

import math

import numpy as np

from ..catalog import get_gpu, get_model
from ..catalog.prices import load_prices
from ..errors import RooflineError
from ..estimates.costs import SECONDS_PER_HOUR
from ..specs.model import ModelSpec
from .candidates import Candidate
from .pareto import slo_excess
from .result import PlanResult, decide  # noqa: F401  (PlanResult: the return type)
from .screen import OK, screen
from .shapes import TOKEN_BUDGETS, check_lengths, profile, shapes

DEFAULT_GPUS = ("h100-sxm", "h200-sxm", "b200", "a100-sxm-80gb", "l40s", "l4", "mi300x")
DEFAULT_WEIGHT_DTYPES = ("auto", "fp8")
DEFAULT_KV_DTYPES = ("auto", "fp8")
MAX_GPUS = 64
MAX_FINALISTS = 10
SLO_PERCENTILE = "p90"
KEEP_UP = 0.85  # a simulation serving less than this share of the offered rate is falling behind


def _positive(name: str, value, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise RooflineError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _names(values, default, what: str) -> list[str]:
    if values is None:
        return list(default)
    items = [v.strip() for v in (values.split(",") if isinstance(values, str) else values) if str(v).strip()]
    if not items:
        raise RooflineError(f"{what} is empty")
    return items


def _gpus(names: list[str], prices: dict, notes: list[str]) -> list[str]:
    out = []
    for n in names:
        g = get_gpu(n).name  # an unknown name is an error with suggestions
        if g not in prices:
            notes.append(f"{g} left out: no price is known for it (give one with --prices)")
        elif g not in out:
            out.append(g)
    if not out:
        raise RooflineError("none of the GPUs has a price; give prices with --prices FILE")
    return out


def _profiles(m: ModelSpec, gpus, max_gpus, weights, kvs, engine, L, O):
    good, bad = [], []
    for sh in shapes(m, gpus, max_gpus, weights, kvs):
        p = profile(m, sh, engine, L, O)
        (good if not isinstance(p, str) else bad).append(p if not isinstance(p, str) else (sh, p))
    return good, bad


def _candidate(profiles, sc, i: int, prices: dict, rate: float, L: int, O: int) -> Candidate:
    p = profiles[sc.shape[i]]
    usd_h = prices[p.shape.gpu].usd_per_gpu_hour * int(sc.num_gpus[i])
    per_token = usd_h / SECONDS_PER_HOUR * 1e6
    dis = bool(sc.disaggregated[i])
    return Candidate(p, int(TOKEN_BUDGETS[sc.budget[i]]), dis, int(sc.replicas[i]),
                     int(sc.decode_replicas[i]), int(sc.num_gpus[i]), float(sc.batch[i]), usd_h,
                     per_token / (rate * O), per_token / (rate * L),
                     {"ttft_s": float(sc.ttft_s[i]), "tpot_s": float(sc.tpot_s[i]), "e2e_s": float(sc.e2e_s[i])},
                     decode_profile=profiles[sc.decode_shape[i]] if dis else None)


def _finalists(sc, cost: np.ndarray, excess: np.ndarray, gpu_of_shape: np.ndarray) -> list[int]:
    """Indices worth simulating: the cheapest that meet the targets by the screen, the best of each
    GPU type (so that each type's loss can be told), then points along the screen's frontier; one
    per deployment (the token budget that screened best)."""
    from .pareto import pareto_front

    ok = np.nonzero(sc.status == OK)[0]
    if ok.size == 0:
        return []
    ok = ok[np.lexsort((sc.e2e_s[ok], excess[ok].clip(1.0), cost[ok]))]  # best first, so a deployment keeps its best budget
    picks: list[int] = list(ok[excess[ok] <= 1.0][:2])
    for g in dict.fromkeys(gpu_of_shape[sc.shape[ok]]):
        picks.append(int(ok[gpu_of_shape[sc.shape[ok]] == g][0]))
    front = ok[pareto_front(cost[ok], sc.e2e_s[ok])]
    picks += list(front[np.linspace(0, front.size - 1, min(front.size, 4)).round().astype(int)])
    chosen, seen = [], set()
    for i in picks:
        key = (sc.shape[i], sc.decode_shape[i], sc.disaggregated[i], sc.replicas[i], sc.decode_replicas[i])
        if key not in seen:
            seen.add(key)
            chosen.append(int(i))
    return chosen[:MAX_FINALISTS]


def _simulate(c: Candidate, m, rate: float, L: int, O: int, engine: str, num_prompts: int, seed: int) -> None:
    from ..serving import simulate

    shape = c.profile.shape
    opts = dict(request_rate=rate, max_concurrency=None, input_len=L, output_len=O, engine=engine, seed=seed,
                max_num_batched_tokens=c.budget, **shape.options())
    if c.disaggregated:
        dec = c.decode_shape
        r = simulate(m, shape.gpu, num_prompts=num_prompts, prefill_gpus=c.replicas * shape.gpus,
                     decode_gpus=c.decode_replicas * dec.gpus, prefill_tp=shape.tp, decode_tp=dec.tp, **opts)
    elif shape.ep > 1 and c.replicas > 1:
        # independent replicas, each its own expert-parallel group (the simulator's dp would spread
        # the experts over all tp × dp GPUs): one replica at its share of the Poisson stream
        opts["request_rate"] = rate / c.replicas
        r = simulate(m, shape.gpu, num_prompts=num_prompts, **opts)
        c.notes.append(f"one of the {c.replicas} replicas simulated at {rate / c.replicas:.3g} requests/s")
    else:  # the simulator follows one of the dp replicas, which gets every dp-th request
        r = simulate(m, shape.gpu, num_prompts=num_prompts * c.replicas, dp=c.replicas, **opts)
    c.simulated = d = r.to_dict()
    # A finite run's duration is the arrival span plus the last requests' latency; the rate the
    # deployment kept up with is the requests over the duration less one mean latency.
    span = float(d["duration_s"]) - float(d["e2e_s"]["mean"] or 0.0)
    scale = c.replicas if (shape.ep > 1 and c.replicas > 1 and not c.disaggregated) else 1
    c.served_requests_per_s = scale * float(d["num_requests"]) / span if span > 0 else 0.0
    c.notes += list(c.simulated.get("notes") or [])


def plan(model, *, request_rate, input_len, output_len, ttft_slo=None, tpot_slo=None, gpus=None, max_gpus=8,
         engine="vllm", prices=None, weight_dtypes=None, kv_cache_dtypes=None, disaggregate=True,
         num_prompts=150, seed=0, simulate=True) -> PlanResult:
    """Search deployments of `model` for `request_rate` requests/s of `input_len` → `output_len` tokens.

    `prices`: a file (CSV or TOML, see catalog.prices) or a table from `load_prices`; default built-in."""
    rate = _positive("--request-rate", request_rate)
    ttft_slo = _positive("--ttft-slo", ttft_slo, allow_none=True)
    tpot_slo = _positive("--tpot-slo", tpot_slo, allow_none=True)
    L, O = check_lengths(input_len, output_len)
    from ..estimates.estimate import check_count

    max_gpus = check_count("--max-gpus", max_gpus, maximum=MAX_GPUS)
    num_prompts = check_count("--num-prompts", num_prompts, maximum=100_000)
    table = prices if isinstance(prices, dict) else load_prices(prices)
    from ..serving.engines import resolve_engine

    engine, _ = resolve_engine(engine)
    m = model if isinstance(model, ModelSpec) else get_model(model)
    notes: list[str] = []
    gpu_names = _gpus(_names(gpus, DEFAULT_GPUS, "--gpus"), table, notes)
    weights = _names(weight_dtypes, DEFAULT_WEIGHT_DTYPES, "--weight-dtype")
    kvs = _names(kv_cache_dtypes, DEFAULT_KV_DTYPES, "--kv-cache-dtype")
    profiles, unfit = _profiles(m, gpu_names, max_gpus, weights, kvs, engine, L, O)
    workload = {"request_rate": rate, "input_len": L, "output_len": O, "ttft_slo_s": ttft_slo, "tpot_slo_s": tpot_slo,
                "slo_percentile": SLO_PERCENTILE, "engine": engine, "max_gpus": max_gpus}
    if not profiles:
        return decide(m.name, workload, 0, [], unfit, {}, notes, rate, ttft_slo, tpot_slo, KEEP_UP)
    sc = screen(profiles, TOKEN_BUDGETS, rate, L, O, max_gpus, disaggregate=disaggregate)
    usd_h = np.asarray([table[p.shape.gpu].usd_per_gpu_hour for p in profiles])[sc.shape] * sc.num_gpus
    cost = usd_h / SECONDS_PER_HOUR * 1e6 / (rate * O)
    excess = slo_excess(sc.ttft_s, sc.tpot_s, ttft_slo, tpot_slo)
    gpu_of_shape = np.asarray([p.shape.gpu for p in profiles])
    finals = [_candidate(profiles, sc, int(i), table, rate, L, O) for i in _finalists(sc, cost, excess, gpu_of_shape)]
    if simulate:
        for c in finals:
            _simulate(c, m, rate, L, O, engine, num_prompts, seed)
    counts = _counts(sc, cost, excess, finals)
    return decide(m.name, workload, sc.size, finals, unfit, counts, notes, rate, ttft_slo, tpot_slo, KEEP_UP, spec=m)


def _counts(sc, cost, excess, finals) -> dict:
    ok = sc.status == OK
    cheapest_final = min((c.usd_per_million_output_tokens for c in finals), default=math.inf)
    return {
        "screened": int(sc.size),
        "cannot_keep_up": int((~ok).sum()),
        "miss_targets_by_estimate": int((ok & (excess > 1)).sum()),
        "dearer_than_finalists": int((ok & (excess <= 1) & (cost > cheapest_final)).sum()),
        "simulated": len(finals),
    }
