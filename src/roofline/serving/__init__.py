"""Serving simulation: a continuous-batching engine serving a stream of requests, step by step.

API contract (stable; the planner, `plot serving` and the web serving view build on it):

    roofline.serving.simulate(model, gpu, *, num_prompts, request_rate, max_concurrency, input_len,
        output_len, engine, dataset=None, seed=0, random_range_ratio=1.0, burstiness=1.0,
        max_num_batched_tokens=None, max_num_seqs=None, block_size=None, gpu_memory_utilization=None,
        prefix_cache_hit_rate=0.0, ttft_slo=None, tpot_slo=None, disaggregate=None, prefill_gpus=None,
        decode_gpus=None, prefill_tp=None, decode_tp=None, kv_transfer_bandwidth=None, random_prefix_len=0,
        **estimate_options) -> SimResult

* `estimate_options` are the keyword arguments of `roofline.estimates.estimate.setup()` (tp, pp,
  dp, ep, dtype, weight_dtype, kv_cache_dtype, activation_dtype, weight_bits, num_gpus,
  gpus_per_node, inter_node_link, enable_expert_parallel, ideal); the workload is given by
  num_prompts / input_len / output_len / dataset instead of batch_size.
* `request_rate`: requests/s (math.inf or None: all at t = 0); `burstiness`: gamma shape of the
  arrival gaps (1 = Poisson); `max_concurrency`: closed loop, at most C requests in flight.
* `engine`: "vllm", "sglang" or "trtllm" (data/engines.toml, each default cited with its version);
  the engine keywords (max_num_batched_tokens, max_num_seqs, block_size, gpu_memory_utilization)
  override the profile.
* `random_prefix_len`: P tokens every prompt starts with (input_len follows), shared through the
  prefix cache (serving/prefix.py); `prefix_cache_hit_rate`: the statistical alternative.
* `disaggregate`: "xPyD" — x prefill and y decode instances, or `prefill_gpus` / `decode_gpus`
  (each pool's GPUs), each pool of its own tp (`prefill_tp`, `decode_tp`, default tp); the KV
  cache moves between them over the network (`kv_transfer_bandwidth` B/s per GPU overrides the
  link; math.inf = free); `disaggregated` carries both pools and the aggregated deployments on the
  same GPUs (`aggregated`) and on the prefill pool's GPUs (`aggregated_equal_prefill_gpus`).
* Bad input raises `roofline.errors.RooflineError` (one line). A request that can never fit in
  the KV cache is a result: `kv_cache.fits` false and a note.

`SimResult.to_dict()` (SI units: seconds, tokens, bytes) has at least:
    throughput.{requests_per_s, input_tokens_per_s, output_tokens_per_s, total_tokens_per_s,
                output_tokens_per_s_per_gpu, total_tokens_per_s_per_gpu, output_tokens_per_s_per_user}
    ttft_s / tpot_s / itl_s / e2e_s .{mean, p50, p90, p99}
    goodput.{ttft_slo_s, tpot_slo_s, requests_meeting_slo, fraction, requests_per_s, output_tokens_per_s}
                (null without SLOs)
    kv_cache.{capacity_bytes, capacity_tokens, block_size, working, fits, peak_usage, mean_usage}
    batch_size.{mean, max}, queue_length.{mean, max}, preemptions, steps, duration_s
    timeline.{time_s, batch_size, queue_length, kv_cache_usage, prefill_tokens} (≤ 200 samples)
    engine (the resolved profile and its sources), deployment.{tp, pp, dp, ep, num_gpus},
    workload, overheads (the fitted per-step overheads used), disaggregated, notes

Layout (vidur-style, one small registry per pluggable family): `simulation.py` (simulate), `workload.py` (requests and
arrivals), `engines.py` (engine profiles, KV sizing), `predictor.py` (step time from the estimate's
evaluation), `scheduler.py` (the batching loop of one engine instance), `replicas.py` (every
data-parallel replica), `pipeline.py` (pp virtual engines on shared stages), `prefix.py` (a shared
prompt prefix), `disagg.py`, `result.py`.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {"simulate": "roofline.serving.simulation", "SimResult": "roofline.serving.result"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'roofline.serving' has no attribute {name!r}")
