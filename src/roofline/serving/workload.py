"""Requests: how many, how long, and when they arrive.

Lengths are fixed, or drawn uniformly from [⌊ratio·L⌋, L] per request as `vllm bench serve
--dataset-name random --random-range-ratio` does in the benchmark_serving client the published
sweeps used; or read from a JSONL dataset (`{"input_len": …, "output_len": …}` per line, with an
optional `"arrival_time"` in seconds from the start). Arrival gaps are gamma-distributed with
shape `burstiness` and mean 1 / rate (burstiness 1 is a Poisson process, as in vLLM's client);
an infinite rate sends everything at t = 0. One seed gives one workload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RooflineError

MAX_REQUESTS = 1_000_000
MAX_LEN = 10_000_000


@dataclass(frozen=True)
class Workload:
    arrival_s: np.ndarray  # when the client would send each request (before any concurrency limit)
    input_len: np.ndarray  # prompt tokens, the shared prefix included
    output_len: np.ndarray
    prefix_len: int = 0  # tokens every prompt starts with (`--random-prefix-len`)

    @property
    def size(self) -> int:
        return int(self.input_len.size)


def _whole(name: str, value, minimum: int = 1, maximum: int = MAX_LEN) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise RooflineError(f"{name} must be a whole number, got {value!r}")
    v = int(value)
    if not minimum <= v <= maximum:
        raise RooflineError(f"{name} must be from {minimum:,} to {maximum:,}, got {v:,}")
    return v


def check_rate(request_rate) -> float:
    if request_rate is None:
        return math.inf
    if isinstance(request_rate, str):
        try:
            request_rate = float(request_rate)
        except ValueError:
            raise RooflineError(f"--request-rate must be a number of requests per second or 'inf', got {request_rate!r}") from None
    if isinstance(request_rate, bool) or not isinstance(request_rate, (int, float)) or math.isnan(request_rate):
        raise RooflineError(f"--request-rate must be a number of requests per second or 'inf', got {request_rate!r}")
    if request_rate <= 0:
        raise RooflineError(f"--request-rate must be positive (requests per second), got {request_rate:g}")
    return float(request_rate)


def arrivals(n: int, rate: float, burstiness: float, rng: np.random.Generator) -> np.ndarray:
    if isinstance(burstiness, bool) or not isinstance(burstiness, (int, float)) or not 0 < burstiness < math.inf:
        raise RooflineError(f"--burstiness must be a positive number (1 = Poisson), got {burstiness!r}")
    if rate == math.inf:
        return np.zeros(n)
    gaps = rng.gamma(shape=burstiness, scale=1.0 / (rate * burstiness), size=n)
    return np.cumsum(gaps) - gaps[0]  # the first request goes out at t = 0


def lengths(n: int, length: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    if ratio >= 1.0:
        return np.full(n, length, dtype=np.int64)
    return rng.integers(max(int(length * ratio), 1), length + 1, size=n)


def synthetic(num_prompts, input_len, output_len, request_rate, burstiness=1.0, random_range_ratio=1.0,
              seed=0) -> Workload:
    n = _whole("--num-prompts", num_prompts, maximum=MAX_REQUESTS)
    L, O = _whole("--input-len", input_len), _whole("--output-len", output_len)
    if isinstance(random_range_ratio, bool) or not isinstance(random_range_ratio, (int, float)) or not 0 <= random_range_ratio <= 1:
        raise RooflineError(f"--random-range-ratio must be in [0, 1], got {random_range_ratio!r}")
    rng = np.random.default_rng(_whole("--seed", seed, minimum=0, maximum=2**63 - 1))
    ins = lengths(n, L, float(random_range_ratio), rng)
    outs = lengths(n, O, float(random_range_ratio), rng)
    return Workload(arrivals(n, check_rate(request_rate), burstiness, rng), ins, outs)


def with_prefix(wl: Workload, prefix_len) -> Workload:
    """Every prompt preceded by the same `prefix_len` tokens (vLLM bench serve's
    --random-prefix-len: the prompt is the prefix, then its own input_len tokens)."""
    p = _whole("--random-prefix-len", prefix_len, minimum=0)
    return wl if p == 0 else Workload(wl.arrival_s, wl.input_len + p, wl.output_len, p)


def _dataset_line(number: int, text: str) -> tuple[int, int, float | None]:
    from ..specs.strict_json import loads  # no NaN, Infinity or runaway nesting in a dataset either

    row = loads(text, f"dataset line {number}")
    if not isinstance(row, dict):
        raise RooflineError(f"dataset line {number}: expected an object with input_len and output_len")
    out = []
    for key in ("input_len", "output_len"):
        if key not in row:
            raise RooflineError(f"dataset line {number}: missing {key!r}")
        v = row[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()) or not 1 <= v <= MAX_LEN:
            raise RooflineError(f"dataset line {number}: {key} must be a whole number from 1 to {MAX_LEN:,}, got {v!r}")
        out.append(int(v))
    t = row.get("arrival_time")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < math.inf):
        raise RooflineError(f"dataset line {number}: arrival_time must be seconds ≥ 0, got {t!r}")
    return out[0], out[1], None if t is None else float(t)


def from_dataset(path, request_rate=None, burstiness=1.0, seed=0, num_prompts=None) -> Workload:
    """Requests from a JSONL file; arrival times from the file where every line has one, else from
    the rate (or all at t = 0)."""
    p = Path(path)
    if not p.is_file():
        raise RooflineError(f"dataset {str(path)!r} is not a file")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise RooflineError(f"dataset {str(path)!r} cannot be read: {e}") from None
    rows = [_dataset_line(i + 1, t) for i, t in enumerate(lines) if t.strip()]
    if not rows:
        raise RooflineError(f"dataset {str(path)!r} is empty: one JSON object per line, e.g. "
                            '{"input_len": 1024, "output_len": 128}')
    if num_prompts is not None:
        rows = rows[:_whole("--num-prompts", num_prompts, maximum=MAX_REQUESTS)]
    if len(rows) > MAX_REQUESTS:
        raise RooflineError(f"dataset has {len(rows):,} requests; at most {MAX_REQUESTS:,}")
    ins = np.array([r[0] for r in rows], dtype=np.int64)
    outs = np.array([r[1] for r in rows], dtype=np.int64)
    times = [r[2] for r in rows]
    if all(t is not None for t in times):
        if request_rate is not None and check_rate(request_rate) != math.inf:
            raise RooflineError("the dataset gives arrival times; leave out --request-rate")
        arr = np.array(times, dtype=float)
        return Workload(arr - arr.min(), ins, outs)
    if any(t is not None for t in times):
        missing = next(i for i, t in enumerate(times) if t is None)
        raise RooflineError(f"dataset line {missing + 1}: arrival_time missing (give it on every line or none)")
    rng = np.random.default_rng(seed)
    return Workload(arrivals(len(rows), check_rate(request_rate), burstiness, rng), ins, outs)
