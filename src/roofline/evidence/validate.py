"""Predictions against a file of measurements: the error per case and the median |error| per metric.

The file is CSV with a header line; lines starting with `#` are comments. Columns:
  required  model, gpu, metric, value
  optional  id, tp, pp, batch_size, input_len, output_len, dtype, weight_dtype, weight_bits,
            activation_dtype, kv_cache_dtype
metric is one of METRICS (SI units: seconds, tokens/s). A malformed line is an error naming the
line and why; nothing is guessed.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..errors import RooflineError
from ..scenario import estimate
from .uncertainty import interval, situation_of

# metric -> (what it means, the estimate figure it is read from, how)
METRICS = {
    "ttft_s": "time to first token, seconds",
    "tpot_s": "time per output token, seconds",
    "e2e_latency_s": "end-to-end latency of a request, seconds",
    "output_tokens_per_s": "output tokens/s, all GPUs together",
    "output_tokens_per_s_per_gpu": "output tokens/s per GPU",
    "decode_tokens_per_s": "decode tokens/s of one sequence (1 / TPOT)",
}
REQUIRED = ("model", "gpu", "metric", "value")
COUNTS = ("tp", "pp", "batch_size", "input_len", "output_len")
TEXTS = ("id", "dtype", "weight_dtype", "activation_dtype", "kv_cache_dtype")
OPTIONAL = (*COUNTS, *TEXTS, "weight_bits")


def _number(line: int, name: str, text: str, whole: bool = False) -> float:
    try:
        v = float(text)
    except ValueError:
        raise RooflineError(f"line {line}: {name} {text!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise RooflineError(f"line {line}: {name} must be a positive number, got {text!r}")
    if whole and not v.is_integer():
        raise RooflineError(f"line {line}: {name} must be a whole number, got {text!r}")
    return int(v) if whole else v


def parse_row(line: int, row: dict) -> dict:
    for k in REQUIRED:
        if not (row.get(k) or "").strip():
            raise RooflineError(f"line {line}: no {k}")
    metric = row["metric"].strip()
    if metric not in METRICS:
        raise RooflineError(f"line {line}: unknown metric {metric!r} (one of {', '.join(METRICS)})")
    case = {"line": line, "id": (row.get("id") or "").strip() or f"line {line}", "model": row["model"].strip(),
            "gpu": row["gpu"].strip(), "metric": metric, "measured": _number(line, "value", row["value"].strip())}
    opts = {}
    for k in OPTIONAL:
        text = (row.get(k) or "").strip()
        if not text or k == "id":
            continue
        opts[k] = _number(line, k, text, whole=k in COUNTS) if k in (*COUNTS, "weight_bits") else text
    case["options"] = opts
    return case


def read_cases(path: str) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise RooflineError(f"no such file: {path}")
    lines = [(i, t) for i, t in enumerate(p.read_text(errors="replace").splitlines(), 1)
             if t.strip() and not t.lstrip().startswith("#")]
    if not lines:
        raise RooflineError(f"{path}: no header line")
    header_line, header = lines[0]
    columns = [c.strip() for c in next(csv.reader([header]))]
    unknown = [c for c in columns if c not in (*REQUIRED, *OPTIONAL)]
    missing = [c for c in REQUIRED if c not in columns]
    if missing or unknown:
        why = f"missing column {', '.join(missing)}" if missing else f"unknown column {', '.join(unknown)}"
        raise RooflineError(f"{path}: line {header_line}: {why} (columns: {', '.join((*REQUIRED, *OPTIONAL))})")
    cases = []
    for i, text in lines[1:]:
        values = next(csv.reader([text]))
        if len(values) != len(columns):
            raise RooflineError(f"{path}: line {i}: {len(values)} fields, the header has {len(columns)}")
        try:
            cases.append(parse_row(i, dict(zip(columns, values))))
        except RooflineError as e:
            raise RooflineError(f"{path}: {e}") from None
    if not cases:
        raise RooflineError(f"{path}: no measurements after the header")
    return cases


def predicted(est, metric: str) -> tuple[float, str]:
    """The estimate's value of `metric`, and the estimate figure whose interval applies."""
    if metric == "output_tokens_per_s_per_gpu":
        return est.output_tokens_per_s / est.parallel["num_gpus"], "output_tokens_per_s"
    if metric == "decode_tokens_per_s":
        return 1.0 / est.tpot_s, "output_tokens_per_s"
    return getattr(est, metric), metric


def score_case(case: dict, level: float) -> dict:
    o = dict(case["options"])
    kw = {"tp": o.pop("tp", 1), "pp": o.pop("pp", 1), **o}
    try:
        est = estimate(case["model"], case["gpu"], **kw)
    except RooflineError as e:
        raise RooflineError(f"line {case['line']}: {e}") from None
    value, figure = predicted(est, case["metric"])
    rng = interval(figure, value, situation_of(est), level)
    if rng and figure != case["metric"]:  # same relative interval, rescaled to this metric
        rng = {**rng, "low": value * rng["low"] / getattr(est, figure), "high": value * rng["high"] / getattr(est, figure)}
    m = case["measured"]
    return {"id": case["id"], "line": case["line"], "model": case["model"], "gpu": case["gpu"], "metric": case["metric"],
            "measured": m, "predicted": value, "error": value / m - 1.0, "range": rng,
            "within_range": (rng["low"] <= m <= rng["high"]) if rng else None}


def validate(path: str, level: float = 0.8) -> dict:
    cases = [score_case(c, level) for c in read_cases(path)]
    summary = {}
    for metric in dict.fromkeys(c["metric"] for c in cases):
        errs = np.array([abs(c["error"]) for c in cases if c["metric"] == metric])
        ranged = [c["within_range"] for c in cases if c["metric"] == metric and c["within_range"] is not None]
        summary[metric] = {"rows": int(errs.size), "median_abs_error": float(np.median(errs)),
                           "p90_abs_error": float(np.quantile(errs, 0.9)),
                           "within_range": (sum(ranged) / len(ranged)) if ranged else None}
    return {"file": path, "level": level, "cases": cases, "summary": summary}
