"""A user's own benchmark run, read from flags, a `vllm bench serve` / benchmark_serving.py result
JSON, or a `trtllm-bench throughput` report. Everything in SI units (seconds, tokens/s)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import RooflineError


@dataclass
class MeasuredRun:
    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_latency_s: float | None = None
    output_tokens_per_s: float | None = None  # all GPUs of the deployment together
    batch_size: int | None = None  # concurrency: sequences in flight
    input_len: int | None = None
    output_len: int | None = None
    source: str = "flags"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _positive(name: str, value) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RooflineError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise RooflineError(f"{name} must be a positive number, got {value!r}")
    return v


def _count(name: str, value) -> int | None:
    v = _positive(name, value)
    return None if v is None else max(1, round(v))


def from_vllm(data: dict, path: str) -> MeasuredRun:
    """vLLM's `vllm bench serve --save-result` / benchmark_serving.py JSON: mean_ttft_ms,
    mean_tpot_ms, output_throughput, total_input_tokens, total_output_tokens, completed,
    max_concurrency (absent: all requests at once)."""
    need = ("mean_ttft_ms", "mean_tpot_ms", "output_throughput", "completed")
    missing = [k for k in need if k not in data]
    if missing:
        raise RooflineError(f"{path}: not a vLLM benchmark result (no {', '.join(missing)})")
    done = _count(f"{path}: completed", data["completed"])
    run = MeasuredRun(ttft_s=_positive("mean_ttft_ms", data["mean_ttft_ms"]) / 1e3,
                      tpot_s=_positive("mean_tpot_ms", data["mean_tpot_ms"]) / 1e3,
                      output_tokens_per_s=_positive("output_throughput", data["output_throughput"]),
                      source=f"vLLM benchmark result {path}")
    if data.get("mean_e2el_ms") is not None:
        run.e2e_latency_s = _positive("mean_e2el_ms", data["mean_e2el_ms"]) / 1e3
    if data.get("total_input_tokens"):
        run.input_len = _count("total_input_tokens", data["total_input_tokens"] / done)
    if data.get("total_output_tokens"):
        run.output_len = _count("total_output_tokens", data["total_output_tokens"] / done)
    conc = data.get("max_concurrency")
    run.batch_size = _count("max_concurrency", conc) if conc else done
    run.notes.append("serving run: TTFT includes queueing and the prefill of other requests; matched to a static "
                     f"batch of {run.batch_size} sequences (the concurrency)")
    return run


# trtllm-bench throughput's PERFORMANCE OVERVIEW / REQUEST DETAILS lines: label -> (field, scale to SI)
TRTLLM_LINES = {
    r"Average Input Length \(tokens\)": ("input_len", 1.0),
    r"Average Output Length \(tokens\)": ("output_len", 1.0),
    r"(?:Total Output|Token) Throughput \(tokens/sec\)": ("output_tokens_per_s", 1.0),
    r"Average time-to-first-token \[TTFT\] \(ms\)": ("ttft_s", 1e-3),
    r"Average time-per-output-token \[TPOT\] \(ms\)": ("tpot_s", 1e-3),
    r"Average request latency \(ms\)": ("e2e_latency_s", 1e-3),
    r"Max Runtime Batch Size": ("batch_size", 1.0),
}


def from_trtllm(text: str, path: str) -> MeasuredRun:
    run = MeasuredRun(source=f"trtllm-bench report {path}")
    for label, (name, scale) in TRTLLM_LINES.items():
        m = re.search(label + r"\s*:\s*([0-9.eE+-]+)", text)
        if m:
            v = _positive(f"{path}: {name}", m.group(1)) * scale
            setattr(run, name, round(v) if name in ("input_len", "output_len", "batch_size") else v)
    if run.output_tokens_per_s is None:
        raise RooflineError(f"{path}: not a trtllm-bench report (no 'Token Throughput (tokens/sec)' line)")
    run.notes.append("max-throughput run: requests issued at once; matched to a static batch of the runtime batch size")
    return run


def read_result(path: str) -> MeasuredRun:
    p = Path(path)
    if not p.is_file():
        raise RooflineError(f"no such file: {path}")
    text = p.read_text(errors="replace")
    if text.lstrip().startswith("{"):
        from ..specs.strict_json import loads  # no NaN, Infinity or runaway nesting in a result either

        data = loads(text, str(path))
        if not isinstance(data, dict):
            raise RooflineError(f"{path}: expected a JSON object (a vLLM benchmark result)")
        return from_vllm(data, path)
    return from_trtllm(text, path)


def merge(run: MeasuredRun, **flags) -> MeasuredRun:
    """Flags override what a file says (and fill what it lacks)."""
    for k, v in flags.items():
        if v is None:
            continue
        setattr(run, k, _count(k, v) if k in ("batch_size", "input_len", "output_len") else _positive(k, v))
    if not any(getattr(run, k) for k in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s")):
        raise RooflineError("nothing measured to analyze: give --ttft, --tpot, --e2e or --output-throughput, or --result FILE")
    return run
