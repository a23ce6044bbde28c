"""Speed budgets of the issue, measured (never in timed tests):

  one estimate in-process                          < 1 ms
  a vectorized sweep of 1,000,000 configurations   < 2 s   (10 GPUs × 100 batches × 100 prompts × 10 outputs)
  `roofline --help`                                < 0.3 s

    python benchmarks/speed.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import roofline

sys.path.insert(0, str(Path(__file__).parent))
from help_time import help_median  # noqa: E402

GPUS = ["a100", "h100", "h200", "l40s", "b200", "mi300x", "rtx-4090", "l4", "a10g", "h20"]


def per_call(fn, n: int) -> float:
    fn(0)
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n


def main() -> int:
    ok = True
    t = per_call(lambda i: roofline.estimate("llama-3.1-8b", "h100", batch_size=1 + i % 64, input_len=128 + i), 500)
    print(f"estimate (llama-3.1-8b, h100, varying batch and prompt): {t * 1e3:.3f} ms per call   budget 1 ms")
    ok &= t < 1e-3
    t_moe = per_call(lambda i: roofline.estimate("mixtral-8x7b", "h100", tp=2, batch_size=1 + i % 64), 200)
    print(f"estimate (mixtral-8x7b, tp=2):                            {t_moe * 1e3:.3f} ms per call")

    runs = []
    for _ in range(3):
        start = time.perf_counter()
        g = roofline.grid("llama-3.1-8b", GPUS, batch_sizes=np.arange(1, 101), input_lens=np.linspace(128, 8192, 100).round(),
                          output_lens=np.linspace(16, 2048, 10).round())
        runs.append(time.perf_counter() - start)
    print(f"grid of {g.size:,} configurations:                         {min(runs):.3f} s   budget 2 s")
    ok &= g.size == 1_000_000 and min(runs) < 2.0

    h = help_median(7)
    print(f"roofline --help (median of 7 runs):                      {h * 1e3:.0f} ms   budget 300 ms")
    ok &= h < 0.3
    print("all within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
