"""What a million tokens cost: the hourly price of the GPUs over the tokens they serve in that hour.

    cost per million tokens = $/GPU-hour × GPUs ÷ (tokens/s × 3600 s/h) × 10⁶

(shared/reference/prices.md). The input and the output figure each charge the whole GPU time to one
kind of token — the convention of InferenceX and of API price lists that quote a blended rate — so
they are two views of the same bill, not two parts of it. Where no price is known the cost is None,
never a guess.

Error bars: at a fixed price the cost is inversely proportional to the token rate, so the rate's
interval [rate_low, rate_high] gives the cost's [price ÷ rate_high, price ÷ rate_low] (the low cost
at the high throughput), at the same level and from the same held-out errors (`*_range` objects,
evidence/uncertainty.py); without a rate interval the cost has none.
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


def cost_range(usd_per_gpu_hour: float, num_gpus: float, rate_range: dict | None) -> dict | None:
    """The interval of a cost per million tokens from its token rate's interval (`{low, high, level,
    regime, basis, rows}`): cost falls as the rate rises, so low = cost at the rate's high and
    high = cost at the rate's low; None where the rate has no interval."""
    if not rate_range:
        return None
    low = cost_per_million_tokens(usd_per_gpu_hour, num_gpus, rate_range["high"])
    high = cost_per_million_tokens(usd_per_gpu_hour, num_gpus, rate_range["low"])
    if low is None or high is None:
        return None
    return {**rate_range, "low": low, "high": high}


def cost_per_token(gpu: str, num_gpus: int, *, input_tokens_per_s: float, output_tokens_per_s: float,
                   prices: dict[str, Price] | None = None, input_rate_range: dict | None = None,
                   output_rate_range: dict | None = None) -> dict | None:
    """The cost block of an estimate or a simulation: None when `gpu` (a catalog name) has no price.

    `prices`: a table from `catalog.prices.load_prices(file)`; default the built-in prices.
    `*_rate_range`: the token rates' intervals, which give each cost's `*_range` (see `cost_range`)."""
    price = price_of(gpu, prices)
    if price is None:
        return None
    per_hour, usd = price.usd_per_gpu_hour * num_gpus, price.usd_per_gpu_hour
    return {
        "usd_per_gpu_hour": usd,
        "num_gpus": num_gpus,
        "usd_per_hour": per_hour,
        "usd_per_million_input_tokens": cost_per_million_tokens(usd, num_gpus, input_tokens_per_s),
        "usd_per_million_input_tokens_range": cost_range(usd, num_gpus, input_rate_range),
        "usd_per_million_output_tokens": cost_per_million_tokens(usd, num_gpus, output_tokens_per_s),
        "usd_per_million_output_tokens_range": cost_range(usd, num_gpus, output_rate_range),
        "price_source": price.source,
        "price_observed": price.observed,
        "note": "each figure charges the whole GPU time to one kind of token",
    }


def estimate_cost(est, prices: dict[str, Price] | None = None) -> dict | None:
    """The cost block of a static estimate (`estimates.result.Estimate`): the batch's input and
    output tokens over its end-to-end time, on all the deployment's GPUs. The input rate is
    tokens ÷ end-to-end time, so its interval is tokens ÷ the end-to-end latency's interval."""
    e2e = est.e2e_latency_s
    w = est.workload
    if not (e2e > 0) or not est.memory.fits:
        return None
    tokens_in = w["batch_size"] * w["input_len"]
    t_rng = est.ranges.get("e2e_latency_s_range")
    in_rng = {**t_rng, "low": tokens_in / t_rng["high"], "high": tokens_in / t_rng["low"]} if t_rng else None
    return cost_per_token(est.gpu["name"], int(est.parallel["num_gpus"]), input_tokens_per_s=tokens_in / e2e,
                          output_tokens_per_s=est.output_tokens_per_s, prices=prices, input_rate_range=in_rng,
                          output_rate_range=est.ranges.get("output_tokens_per_s_range"))


def simulation_cost(gpu: str, num_gpus: int, sim: dict, prices: dict[str, Price] | None = None) -> dict | None:
    """The cost block of a simulation result (`SimResult.to_dict()`): its simulated token rates, and
    their intervals (`throughput_range`, where the serving measurements give one) for the costs'."""
    t, rng = sim.get("throughput") or {}, sim.get("throughput_range") or {}
    return cost_per_token(gpu, num_gpus, input_tokens_per_s=float(t.get("input_tokens_per_s") or 0.0),
                          output_tokens_per_s=float(t.get("output_tokens_per_s") or 0.0), prices=prices,
                          input_rate_range=rng.get("input_tokens_per_s"), output_rate_range=rng.get("output_tokens_per_s"))
