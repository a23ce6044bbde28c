"""Speed of the serving simulator: 10,000 requests in under a second, in-process.

    python benchmarks/serving_speed.py

Each case is timed three times after one warm-up (which builds the step-time tables once per model,
format, split and GPU, as a planner reusing a deployment would); the best time is reported.
"""

from __future__ import annotations

import math
import time

from roofline.serving import simulate

CASES = [
    ("Poisson 20 req/s, 1024 in / 128 out, vLLM", dict(request_rate=20.0, input_len=1024, output_len=128)),
    ("offline, 512 in / 256 out, SGLang", dict(request_rate=math.inf, input_len=512, output_len=256, engine="sglang")),
    ("closed loop C=256, 1024 in / 1024 out (drawn 0.8-1), TensorRT-LLM",
     dict(max_concurrency=256, input_len=1024, output_len=1024, random_range_ratio=0.8, engine="trtllm")),
    ("Poisson 80 req/s over 4 data-parallel replicas (each simulated), 1024 in / 128 out, vLLM",
     dict(request_rate=80.0, input_len=1024, output_len=128, dp=4)),
]
LIMIT_S = 1.0


def main() -> int:
    worst = 0.0
    for name, kw in CASES:
        args = dict(num_prompts=10_000, **kw)
        simulate("llama-3.1-8b", "h100", **dict(args, num_prompts=100))
        best = math.inf
        for _ in range(3):
            t = time.perf_counter()
            r = simulate("llama-3.1-8b", "h100", **args)
            best = min(best, time.perf_counter() - t)
        d = r.to_dict()
        worst = max(worst, best)
        print(f"{name}: {best:.3f} s for 10,000 requests ({d['steps']:,} steps, "
              f"{d['throughput']['output_tokens_per_s']:,.0f} output tokens/s simulated)")
    ok = worst < LIMIT_S
    print(f"{'PASS' if ok else 'FAIL'}: slowest {worst:.3f} s (limit {LIMIT_S} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
