"""What a million tokens cost: the hourly price of the GPUs over the tokens they serve in that hour.

    cost per million tokens = $/GPU-hour × GPUs ÷ (tokens/s × 3600 s/h) × 10⁶

(shared/reference/prices.md). The input and the output figure each charge the whole GPU time to one
kind of token — the convention of InferenceX and of API price lists that quote a blended rate — so
they are two views of the same bill, not two parts of it. Where no price is known the cost is None,
never a guess.
"""

from __future__ import annotations

import math

from ..catalog.prices import Price, price_of

SECONDS_PER_HOUR = 3600.0


def cost_per_million_tokens(usd_per_gpu_hour: float, num_gpus: float, tokens_per_s) -> float | None:
    """$ per 10⁶ tokens for `num_gpus` GPUs at `usd_per_gpu_hour` producing `tokens_per_s`."""
    if not (tokens_per_s > 0 and math.isfinite(tokens_per_s)):
        return None
    return usd_per_gpu_hour * num_gpus / (tokens_per_s * SECONDS_PER_HOUR) * 1e6


def cost_per_token(gpu: str, num_gpus: int, *, input_tokens_per_s: float, output_tokens_per_s: float,
                   prices: dict[str, Price] | None = None) -> dict | None:
    """The cost block of an estimate or a simulation: None when `gpu` (a catalog name) has no price.

    `prices`: a table from `catalog.prices.load_prices(file)`; default the built-in prices."""
    price = price_of(gpu, prices)
    if price is None:
        return None
    per_hour = price.usd_per_gpu_hour * num_gpus
    return {
        "usd_per_gpu_hour": price.usd_per_gpu_hour,
        "num_gpus": num_gpus,
        "usd_per_hour": per_hour,
        "usd_per_million_input_tokens": cost_per_million_tokens(price.usd_per_gpu_hour, num_gpus, input_tokens_per_s),
        "usd_per_million_output_tokens": cost_per_million_tokens(price.usd_per_gpu_hour, num_gpus, output_tokens_per_s),
        "price_source": price.source,
        "price_observed": price.observed,
        "note": "each figure charges the whole GPU time to one kind of token",
    }


def estimate_cost(est, prices: dict[str, Price] | None = None) -> dict | None:
    """The cost block of a static estimate (`estimates.result.Estimate`): the batch's input and
    output tokens over its end-to-end time, on all the deployment's GPUs."""
    e2e = est.e2e_latency_s
    w = est.workload
    if not (e2e > 0) or not est.memory.fits:
        return None
    return cost_per_token(est.gpu["name"], int(est.parallel["num_gpus"]),
                          input_tokens_per_s=w["batch_size"] * w["input_len"] / e2e,
                          output_tokens_per_s=est.output_tokens_per_s, prices=prices)


def simulation_cost(gpu: str, num_gpus: int, sim: dict, prices: dict[str, Price] | None = None) -> dict | None:
    """The cost block of a simulation result (`SimResult.to_dict()`): its measured token rates."""
    t = sim.get("throughput") or {}
    return cost_per_token(gpu, num_gpus, input_tokens_per_s=float(t.get("input_tokens_per_s") or 0.0),
                          output_tokens_per_s=float(t.get("output_tokens_per_s") or 0.0), prices=prices)
