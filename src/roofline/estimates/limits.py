"""Bounds on a scenario's sizes: beyond them a number is a typo, not a workload."""

from __future__ import annotations

import numpy as np

from ..errors import RooflineError

MAX_TOKENS = 100_000_000  # beyond any context window in use
MAX_BATCH = 10_000_000
MAX_SPLIT = 4096


def check_count(name: str, value, *, minimum: int = 1, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or (isinstance(value, float) and not value.is_integer()):
        raise RooflineError(f"{name} must be a whole number, got {value!r}")
    v = int(value)
    if v < minimum:
        raise RooflineError(f"{name} must be at least {minimum}, got {v}")
    if v > maximum:
        raise RooflineError(f"{name} = {v} is beyond any real workload (max {maximum:,})")
    return v
