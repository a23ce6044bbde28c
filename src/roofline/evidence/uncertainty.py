"""Error bars: how far published measurements fell from the estimate, on sources left out of the fit.

Every latency or throughput figure gets an interval built from the leave-one-source-out residuals
of the calibration set (benchmarks/loso.py → benchmarks/intervals.py → data/uncertainty.toml),
chosen by the figure's regime (single-stream decode, batched decode, prefill, max-throughput or
online serving) and by the situation that changes the error (one GPU or several, the link between
them, quantized or 16-bit). A residual is r = ln(predicted time / measured time); if the estimate
is v seconds, the measured time lay in [v·e^(−q_hi), v·e^(−q_lo)] for that share of the held-out
rows. Throughputs take the reciprocal interval. Where no measurement of the regime exists, there is
no interval (None), never an invented one.

Serving figures (`roofline simulate`, `roofline plan`) take cells of regime × figure × statistic
built from the serving simulator's held-out residuals (benchmarks/serving_loso.py), never the
static regimes' cells: `simulation_ranges` puts `<figure>_range` beside each figure of a simulation.
"""

from __future__ import annotations

import math
import tomllib
from functools import lru_cache
from importlib import resources

from ..errors import RooflineError

LEVELS = (0.5, 0.8, 0.9)  # central intervals the data file supports (quantiles 0.05 ... 0.95)
REGIMES = ("single-stream decode", "batched decode", "prefill", "max-throughput serving", "online serving")
# calibration metric -> (regime, the metric is a time: True, a rate: False)
ROW_REGIME = {"ttft": ("prefill", True), "decode_tok_s_per_user": ("single-stream decode", False),
              "output_tok_s_per_gpu": ("batched decode", False), "output_tok_s_total": ("max-throughput serving", False),
              "ttft_mean": ("online serving", True), "itl_mean": ("online serving", True)}
# estimate figure -> is it a time (its interval is the residual's) or a rate (the reciprocal)
FIGURES = {"ttft_s": True, "tpot_s": True, "e2e_latency_s": True, "output_tokens_per_s": False}
SERVING_REGIMES = ("max-throughput serving", "online serving")
# serving measurement (benchmarks/serving_cases.py) -> (figure of `roofline simulate --json`, statistic)
SERVING_ROW = {"output_tok_s_per_gpu": ("throughput", ""), "total_tok_s_per_gpu": ("throughput", ""),
               "ttft_mean_s": ("ttft_s", "mean"), "ttft_median_s": ("ttft_s", "p50"), "ttft_p99_s": ("ttft_s", "p99"),
               "tpot_mean_s": ("tpot_s", "mean"), "tpot_median_s": ("tpot_s", "p50"), "itl_mean_s": ("itl_s", "mean"),
               "e2e_mean_s": ("e2e_s", "mean")}


def regime_of_row(metric: str, tags=()) -> str:
    """The regime a calibration row measures; '' for rows that are no end-to-end figure (kernels)
    or that repeat another row's run (bandwidths derived from the same tokens/s)."""
    return "" if "kernel" in tags else ROW_REGIME.get(metric, ("", True))[0]


def row_is_time(metric: str) -> bool:
    """A time (its residual is ln(predicted / measured)) or a rate (tokens/s: the reciprocal)."""
    return ROW_REGIME[metric][1] if metric in ROW_REGIME else "tok_s" not in metric


def figure_regime(figure: str, batch_per_replica: int) -> str:
    """TTFT is prefill; the decode figures are single-stream at batch 1, batched decode above."""
    if figure == "ttft_s":
        return "prefill"
    return "single-stream decode" if batch_per_replica == 1 else "batched decode"


def _link_class(comm: dict) -> str:
    links = [comm.get(k) for k in ("tp_link", "pp_link", "ep_link") if comm.get(k)]
    if any((ln.get("nodes") or 1) > 1 for ln in links):
        return "network"
    if any("pcie" in str(ln.get("name", "")).lower() or ln.get("kind") == "host" for ln in links):
        return "pcie"
    return "nvlink"


def situation(tp: int, pp: int, weight_bits: float, kv_cache_dtype: str, comm: dict, batch: int) -> dict:
    """What changes an estimate's error: GPUs working on one step (tp × pp), the link between them,
    quantized weights or KV cache, and the batch per replica (single-stream or batched)."""
    several = tp * pp > 1
    quant = weight_bits < 16 or kv_cache_dtype not in ("bf16", "fp16", "fp32")
    return {"gpus": "several" if several else "1", "link": _link_class(comm) if several else "",
            "quantized": "quantized" if quant else "16-bit", "batch": batch}


def situation_of(est) -> dict:
    """The situation of an Estimate (see `situation`)."""
    par, prec = est.parallel, est.precision
    return situation(par["tp"], par["pp"], prec["weight_bits"], prec["kv_cache_dtype"], est.comm,
                     est.workload["batch_per_replica"])


def cell_keys(regime: str, situation: dict) -> list[str]:
    """Most specific first; the first cell the data file holds is used. The last two pool every
    regime's residuals (of this GPU count, then of all): a regime measured by one source only
    borrows the spread of all sources rather than that one source's."""
    g, link, q = situation.get("gpus", "1"), situation.get("link", ""), situation.get("quantized", "16-bit")
    keys = [f"{regime}|{g}|{link}|{q}", f"{regime}|{g}|{link}", f"{regime}|{g}", regime, f"all|{g}", "all"]
    return list(dict.fromkeys(keys))


def serving_cell_keys(regime: str, figure: str, stat: str) -> list[str]:
    """The statistic's own cell (e.g. `online serving|ttft_s|p99`), then the figure's, pooling its
    measured statistics; nothing wider: a serving figure never takes another figure's or the static
    regimes' errors."""
    return [f"{regime}|{figure}|{stat}", f"{regime}|{figure}"] if stat else [f"{regime}|{figure}"]


def row_cell_keys(row: dict) -> list[str]:
    """Every cell a residual row (benchmarks/data/*_residuals.csv) counts in."""
    if row["regime"] in SERVING_REGIMES:
        return serving_cell_keys(row["regime"], *SERVING_ROW[row["metric"]])
    return cell_keys(row["regime"], row)


@lru_cache(maxsize=1)
def _data() -> dict:
    return tomllib.loads((resources.files("roofline") / "data" / "uncertainty.toml").read_text())


def quantile(qs: list[float], levels: list[float], p: float) -> float:
    """Linear interpolation in the stored quantiles."""
    for i in range(len(levels) - 1):
        if levels[i] <= p <= levels[i + 1]:
            t = (p - levels[i]) / (levels[i + 1] - levels[i])
            return qs[i] + t * (qs[i + 1] - qs[i])
    raise RooflineError(f"no stored quantile at {p}")


def bounds(metric: str, situation: dict, level: float = 0.8, cells: dict | None = None) -> dict | None:
    """Multipliers of an estimated figure that give its `level` interval: low = value × low_factor,
    high = value × high_factor (vectorizable: the same for every value of one regime and situation);
    None where no measurement backs one."""
    if metric not in FIGURES:
        raise RooflineError(f"no interval for {metric!r}: one of {', '.join(FIGURES)}")
    regime = situation.get("regime") or figure_regime(metric, int(situation.get("batch", 1)))
    return _factors(cell_keys(regime, situation), FIGURES[metric], level, regime, cells)


def _factors(keys: list[str], is_time: bool, level: float, regime: str, cells: dict | None) -> dict | None:
    """Multipliers from the first of `keys` the data holds (see `bounds`)."""
    if level not in LEVELS:
        raise RooflineError(f"interval level must be one of {', '.join(map(str, LEVELS))}, got {level!r}")
    data = cells if cells is not None else _data()
    key = next((k for k in keys if k in data["cells"]), None)
    if key is None:
        return None
    cell, levels = data["cells"][key], data["levels"]
    q_lo, q_hi = quantile(cell["quantiles"], levels, (1 - level) / 2), quantile(cell["quantiles"], levels, (1 + level) / 2)
    lo, hi = math.exp(-q_hi), math.exp(-q_lo)  # measured time = estimate · e^(−r)
    if not is_time:
        lo, hi = math.exp(q_lo), math.exp(q_hi)  # a rate: the reciprocal
    return {"low_factor": lo, "high_factor": hi, "level": level, "regime": regime, "basis": key, "rows": cell["rows"]}


def serving_interval(figure: str, stat: str, value, regime: str, level: float = 0.8, cells: dict | None = None,
                     is_time: bool | None = None) -> dict | None:
    """The `level` interval of one figure of a simulation (`ttft_s`, `tpot_s`, `itl_s`, `e2e_s` with
    a statistic, or `throughput`) in a serving regime, from the serving simulator's held-out
    residuals; None where no measurement of it backs one."""
    b = _factors(serving_cell_keys(regime, figure, stat), figure != "throughput" if is_time is None else is_time,
                 level, regime, cells)
    if b is None or value is None or not math.isfinite(value) or value <= 0:
        return None
    return {"low": value * b["low_factor"], "high": value * b["high_factor"], "level": level,
            "regime": regime, "basis": b["basis"], "rows": b["rows"]}


def interval(metric: str, value: float, situation: dict, level: float = 0.8, cells: dict | None = None) -> dict | None:
    """The `level` interval around an estimated figure, or None where no measurement backs one.

    metric: `ttft_s`, `tpot_s`, `e2e_latency_s` or `output_tokens_per_s`; situation: from
    `situation_of`, or a dict with `gpus` ('1'/'several'), `link` ('nvlink'/'pcie'/'network'),
    `quantized` ('quantized'/'16-bit'), `batch`, and optionally `regime` (e.g. 'online serving')."""
    b = bounds(metric, situation, level, cells)
    if b is None or value is None or not math.isfinite(value) or value <= 0:
        return None
    return {"low": value * b["low_factor"], "high": value * b["high_factor"], "level": level,
            "regime": b["regime"], "basis": b["basis"], "rows": b["rows"]}


def ranges(est, level: float = 0.8) -> dict[str, dict | None]:
    """`<figure>_range` for TTFT, TPOT, end-to-end latency and output tokens/s of one Estimate."""
    sit = situation_of(est)
    return {f"{k}_range": interval(k, getattr(est, k), sit, level) for k in FIGURES}


def band(metric: str, situation: dict, batch_per_replica, values, level: float = 0.8):
    """(low, high) arrays of the `level` interval of many values of one figure in one situation
    (batch 1 per replica: single-stream decode; more: batched decode); None without a basis."""
    import numpy as np

    b1, bn = (bounds(metric, {**situation, "batch": n}, level) for n in (1, 2))
    if b1 is None or bn is None:
        return None
    values = np.asarray(values, dtype=float)
    single = np.broadcast_to(np.asarray(batch_per_replica) == 1, values.shape)
    return (values * np.where(single, b1["low_factor"], bn["low_factor"]),
            values * np.where(single, b1["high_factor"], bn["high_factor"]))


def setup_situation(s) -> dict:
    """The situation of a resolved setup (estimates.estimate.Setup), batch aside."""
    from ..estimates.scaleout import comm_doc

    sit = situation(s.par.tp, s.par.pp, s.prec.weight.bits, s.prec.kv_cache.name, comm_doc(s), 1)
    sit.pop("batch")
    return sit


DISAGG_NO_BASIS = "no intervals: no measurement of disaggregated serving backs one"


def screen_ranges(figures: dict, prefill_situation: dict | None, decode_situation: dict | None, batch: float,
                  level: float = 0.8, cells: dict | None = None) -> dict:
    """`ttft_s_range`, `tpot_s_range`, `e2e_s_range` of the planner's screened means (planning/screen.py).
    The screen is an analytic estimate, so it takes the static estimate's cells: prefill for TTFT, and
    for TPOT and end-to-end latency single-stream decode at one sequence per replica, batched decode
    above (as `ranges` does). They hold the step times' held-out errors, not the queueing
    approximation's. A situation of None (a disaggregated deployment, which no measurement covers)
    gives None."""
    b = 1 if batch <= 1 else max(2, math.ceil(batch))
    pre = {**prefill_situation, "batch": 1} if prefill_situation is not None else None
    dec = {**decode_situation, "batch": b} if decode_situation is not None else None
    return {f"{fig}_range": interval(metric, figures.get(fig), sit, level, cells) if sit is not None else None
            for fig, metric, sit in (("ttft_s", "ttft_s", pre), ("tpot_s", "tpot_s", dec), ("e2e_s", "e2e_latency_s", dec))}


NAMES = {"ttft_s": "TTFT", "tpot_s": "TPOT", "itl_s": "ITL", "e2e_s": "e2e latency", "throughput": "throughput"}


def simulation_regime(doc: dict) -> str:
    """Every request at once with no client limit: max-throughput serving; else online serving."""
    w = doc["workload"]
    return "max-throughput serving" if w.get("request_rate") is None and not w.get("max_concurrency") else "online serving"


def simulation_ranges(doc: dict, level: float = 0.8) -> tuple[dict, str | None]:
    """`<figure>_range` beside each figure of a simulation (`SimResult.to_dict()`): per statistic
    for the latencies, per rate for `throughput`; each {low, high, level, regime, basis, rows} or
    None, and a note saying which figures have no basis (None when all have one)."""
    regime = simulation_regime(doc)
    out: dict = {}
    if doc.get("disaggregated"):  # no measurement of disaggregated serving exists in the set
        for fig in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
            out[f"{fig}_range"] = {k: None for k in doc[fig]}
        out["throughput_range"] = {k: None for k in doc["throughput"]}
        return out, DISAGG_NO_BASIS
    for fig in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        out[f"{fig}_range"] = {k: serving_interval(fig, k, v, regime, level) for k, v in doc[fig].items()}
    t = doc["throughput"]
    rng = {k: serving_interval("throughput", "", v, regime, level) for k, v in t.items() if k != "output_tokens_per_s_per_user"}
    # tokens/s per user is 1 / mean TPOT: the reciprocal of TPOT's interval
    rng["output_tokens_per_s_per_user"] = serving_interval("tpot_s", "mean", t.get("output_tokens_per_s_per_user"),
                                                          regime, level, is_time=False)
    out["throughput_range"] = rng
    missing = []
    for fig, d in out.items():
        gone = [k for k, v in d.items() if v is None and _value(doc, fig, k)]
        name = NAMES[fig[:-6]]
        if gone:
            missing.append(name if len(gone) == len(d) else f"{name} {', '.join(gone)}")
    note = None
    if missing:
        note = (f"no {level:.0%} interval for {'; '.join(missing)}: the {regime} measurements of the calibration "
                "set hold too few runs or sources of it (docs/accuracy.md)")
    return out, note


GOODPUT_NO_BASIS = ("no interval for goodput: the calibration set holds no measurement of how many requests met "
                    "latency targets, and the latency intervals bound a percentile, not how many requests cross a target")


def goodput_ranges(goodput: dict | None) -> tuple[dict | None, str | None]:
    """Goodput (requests meeting the SLOs per second) with `requests_per_s_range` and
    `output_tokens_per_s_range`: None, and the note saying why. No measured goodput exists to hold it
    against, and it is a count of requests under a threshold: an interval of a latency percentile does
    not move that count by any known amount, so none is borrowed."""
    if goodput is None:
        return None, None
    return goodput | {"requests_per_s_range": None, "output_tokens_per_s_range": None}, GOODPUT_NO_BASIS


def _value(doc: dict, fig: str, key: str):
    src = doc["throughput"] if fig == "throughput_range" else doc[fig[:-6]]
    return src.get(key)
