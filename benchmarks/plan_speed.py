"""Planner speed: candidates screened and finalists simulated, against the target of ≥ 10,000
candidates in < 5 s (issue 10).

    .venv/bin/python benchmarks/plan_speed.py [--no-simulate]
"""

from __future__ import annotations

import sys
import time

from roofline.planning import plan

TARGET_S, TARGET_CANDIDATES = 5.0, 10_000


def main() -> int:
    simulate = "--no-simulate" not in sys.argv
    plan("llama-3.1-8b", request_rate=1, input_len=128, output_len=16, max_gpus=2, gpus="h100", simulate=False)  # warm caches
    worst, all_ok = 0.0, True
    for model, rate, gpus in (("llama-3.1-8b", 20, None), ("llama-3.1-70b", 4, None), ("mixtral-8x7b", 8, None)):
        t = time.perf_counter()
        r = plan(model, request_rate=rate, input_len=1024, output_len=256, ttft_slo=1.0, tpot_slo=0.05, gpus=gpus,
                 max_gpus=16, simulate=simulate)
        dt = time.perf_counter() - t
        worst = max(worst, dt)
        n = r.screened
        ok = n >= TARGET_CANDIDATES and dt < TARGET_S
        all_ok &= ok
        print(f"{model:14s} {rate:>3} req/s: {n:>7,} candidates screened, {len(r.finalists)} finalists"
              f"{' simulated' if simulate else ' (not simulated)'} in {dt:.2f} s  [{'ok' if ok else 'MISS'}]")
    print(f"target: ≥ {TARGET_CANDIDATES:,} candidates in < {TARGET_S:g} s; slowest run {worst:.2f} s")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
