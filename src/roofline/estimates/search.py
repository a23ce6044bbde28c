"""The one search the capacity questions share: the boundary of a monotone predicate over whole numbers.

`pred` takes an array of candidates and answers for each; it must be monotone over [lo, hi]
(False then True for `first_true`). A log-spaced pass brackets the boundary, then each pass
narrows the bracket up to 4096-fold, so the answer is the exact integer after a few vectorized
evaluations whatever the range.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Pred = Callable[[np.ndarray], np.ndarray]


def first_true(pred: Pred, lo: int, hi: int, coarse: int = 128) -> int | None:
    """Smallest integer x in [lo, hi] with pred(x), or None when pred(hi) is False."""
    grid = np.unique(np.round(np.geomspace(lo, hi, coarse))) if hi > lo else np.asarray([float(lo)])
    grid = np.unique(np.concatenate(([float(lo)], grid, [float(hi)])))
    ok = np.asarray(pred(grid), dtype=bool)
    hit = np.nonzero(ok)[0]
    if hit.size == 0:
        return None
    if hit[0] == 0:
        return int(grid[0])
    a, b = grid[hit[0] - 1], grid[hit[0]]  # a fails, b holds
    while b - a > 1:
        step = np.unique(np.round(np.linspace(a, b, int(min(b - a + 1, 4097)))))
        ok = np.asarray(pred(step), dtype=bool)
        i = int(np.nonzero(ok)[0][0])
        a, b = step[i - 1], step[i]
    return int(b)


def last_true(pred: Pred, lo: int, hi: int, coarse: int = 128) -> int | None:
    """Largest integer x in [lo, hi] with pred(x) (pred True then False), or None when pred(lo) is False."""
    first_false = first_true(lambda x: ~np.asarray(pred(x), dtype=bool), lo, hi, coarse)
    if first_false is None:
        return hi
    if first_false == lo:
        return None
    return first_false - 1
