"""`simulate()`: one deployment serving a stream of requests, step by step (see serving/__init__)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..errors import RooflineError
from ..estimates.estimate import calibration_note, setup
from ..estimates.memory import kv_bytes_per_token
from .engines import engine_config, engine_kv, kv_capacity_bytes, overheads_for, resolve_engine
from .pools import resolve_pools
from .predictor import StepPredictor
from .result import SimResult
from .replicas import Merged, run_units
from .scheduler import KVCache, Overheads, TooLarge
from .workload import Workload, from_dataset, synthetic, with_prefix

NOT_SIMULATED = ("speculative_model", "num_speculative_tokens", "acceptance_rate")
WORKLOAD_KEYS = ("batch_size", "input_len", "output_len")


_PREDICTORS: dict = {}


def predictor_for(s, max_tokens: int) -> StepPredictor:
    """Predictors are cached per model (by value), format, split, GPU and token range (tables take ms
    to build); at most 64 are kept, so a server seeing many pasted configs holds a bounded set."""
    key = (s.model.name, s.prec, s.par, s.roofs, max_tokens)
    hit = _PREDICTORS.get(key)
    if hit is None or not (hit.setup.model is s.model or hit.setup.model == s.model):
        if len(_PREDICTORS) >= 64:
            _PREDICTORS.clear()
        hit = _PREDICTORS[key] = StepPredictor(s, max_tokens)
    return hit


def kv_cache_for(s, cfg) -> tuple[KVCache, str, float]:
    capacity, how = kv_capacity_bytes(s, cfg)
    fraction = engine_kv(s, cfg).memory_fraction  # SGLang derives its own from the other settings
    m, p, par = s.model, s.prec, s.par
    share = math.ceil(m.num_layers / par.pp) / m.num_layers
    glob, windowed = 0.0, {}
    for layer, count in m.layer_groups():
        b = kv_bytes_per_token(m, p, par, layer) * count * share
        if layer.window_kind == "global" or not layer.window:
            glob += b
        else:
            windowed[float(layer.window)] = windowed.get(float(layer.window), 0.0) + b
    return KVCache(capacity, cfg.block_size, glob, sorted(windowed.items())), how, fraction


def _check_slo(name: str, value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise RooflineError(f"--{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _concurrency(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise RooflineError(f"--max-concurrency must be a whole number ≥ 1, got {value!r}")
    return int(value)


def _hit_rate(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RooflineError(f"--prefix-cache-hit-rate must be in [0, 1], got {value!r}")
    return float(value)


def make_workload(num_prompts, request_rate, input_len, output_len, dataset, seed, random_range_ratio,
                  burstiness, slo_given: bool, random_prefix_len=0) -> Workload:
    if dataset is not None:
        wl = from_dataset(dataset, request_rate=request_rate, burstiness=burstiness, seed=seed, num_prompts=num_prompts)
        return with_prefix(wl, random_prefix_len)
    if input_len is None or output_len is None:
        what = "--ttft-slo/--tpot-slo need a workload" if slo_given else "no workload"
        raise RooflineError(f"{what}: give --input-len and --output-len, or --dataset FILE")
    return with_prefix(synthetic(1000 if num_prompts is None else num_prompts, input_len, output_len, request_rate,
                                 burstiness, random_range_ratio, seed), random_prefix_len)


def sglang_running_cap(s, kv: KVCache) -> int:
    """SGLang's max_running_requests when unset: min(pool tokens // 2, request slots), the slots
    clamp(pool tokens / context length × 512, 2048, 4096) (tp_worker.py:283, model_runner.py:1558)."""
    from ..catalog.engines import engine_defaults

    t = engine_defaults("sglang")
    tokens = kv.tokens_capacity()
    context = s.model.max_position_embeddings or 4096
    slots = min(max(int(tokens / context * 512), t["max_running_requests_min"]), t["max_running_requests_max"])
    return max(1, min(tokens // 2, slots))


def prepare(model, gpu, engine, estimate_options: dict, **engine_options):
    """The resolved setup, engine profile, KV cache and predictor of one replica."""
    bad = [k for k in estimate_options if k in WORKLOAD_KEYS]
    if bad:
        raise RooflineError(f"{bad[0]} is not a simulation option: the workload is num_prompts, input_len, output_len or dataset")
    if any(estimate_options.get(k) is not None for k in NOT_SIMULATED):
        raise RooflineError("speculative decoding is not simulated yet; `roofline estimate` models it for a static batch")
    from ..scenario import Scenario  # the estimate's options, validated once (names or short forms)

    s = Scenario.of(model, gpu, **{k: v for k, v in estimate_options.items() if k not in NOT_SIMULATED}).setup()
    cfg = engine_config(engine, s, **engine_options)
    kv, how, fraction = kv_cache_for(s, cfg)
    cfg = replace(cfg, memory_fraction=fraction)
    if cfg.engine == "sglang" and "max_num_seqs" not in cfg.overridden:
        cfg = replace(cfg, max_num_seqs=sglang_running_cap(s, kv))
    pred = predictor_for(s, max(cfg.max_num_batched_tokens, cfg.max_num_seqs))
    return s, cfg, kv, how, pred


def simulate(model, gpu, *, num_prompts=None, request_rate=math.inf, max_concurrency=None, input_len=None,
             output_len=None, engine="vllm", dataset=None, seed=0, random_range_ratio=1.0, burstiness=1.0,
             max_num_batched_tokens=None, max_num_seqs=None, block_size=None, gpu_memory_utilization=None,
             prefix_cache_hit_rate=0.0, ttft_slo=None, tpot_slo=None, disaggregate=None,
             enable_chunked_prefill=None, cuda_graph_max_bs=None, kv_transfer_bandwidth=None, overheads=None,
             prefill_gpus=None, decode_gpus=None, prefill_tp=None, decode_tp=None, random_prefix_len=0,
             frontend=None, **estimate_options) -> SimResult:
    ttft_slo, tpot_slo = _check_slo("ttft-slo", ttft_slo), _check_slo("tpot-slo", tpot_slo)
    pools = resolve_pools(disaggregate, prefill_gpus, decode_gpus, prefill_tp, decode_tp, estimate_options)
    wl = make_workload(num_prompts, request_rate, input_len, output_len, dataset, seed, random_range_ratio,
                       burstiness, ttft_slo is not None or tpot_slo is not None, random_prefix_len)
    conc = _concurrency(max_concurrency)
    hit = _hit_rate(prefix_cache_hit_rate)
    engine_options = dict(max_num_batched_tokens=max_num_batched_tokens, max_num_seqs=max_num_seqs,
                          block_size=block_size, gpu_memory_utilization=gpu_memory_utilization,
                          enable_chunked_prefill=enable_chunked_prefill, cuda_graph_max_bs=cuda_graph_max_bs)
    if frontend is not None and overheads is None:  # checked up front, whichever layout runs
        overheads_for(resolve_engine(engine)[0], frontend)
    if pools is not None:
        from .disagg import simulate_disaggregated

        if frontend is not None and overheads is None:
            overheads = overheads_for(resolve_engine(engine)[0], frontend)[0]
        return simulate_disaggregated(model, gpu, engine, wl, conc, hit, pools, kv_transfer_bandwidth,
                                      (ttft_slo, tpot_slo), overheads, engine_options, estimate_options,
                                      request_rate=request_rate)
    s, cfg, kv, how, pred = prepare(model, gpu, engine, estimate_options, **engine_options)
    ov, ov_row = overheads_for(cfg.engine, frontend) if overheads is None else (overheads, {"basis": "given"})
    return run_aggregated(s, cfg, kv, how, pred, ov, ov_row, wl, conc, hit, (ttft_slo, tpot_slo), request_rate)


def run_aggregated(s, cfg, kv, how, pred, ov, ov_row, wl: Workload, conc, hit, slos, request_rate) -> SimResult:
    """Every replica, and with pipeline parallelism every virtual engine of each (replicas.py)."""
    inp, out = wl.input_len, wl.output_len
    cached = (np.floor(hit * inp / cfg.block_size) * cfg.block_size).astype(np.int64) if hit else None
    notes = []
    try:
        merged = run_units(cfg, pred, kv, ov, wl.arrival_s, inp, out, cached, conc, s.par.dp, s.par.pp, wl.prefix_len)
        fits = True
    except TooLarge as e:
        fits, merged = False, Merged(wl.size)
        need = float(kv.bytes_for(int(inp[e.request] + out[e.request])))
        room = f"the engine leaves {kv.capacity / 1e9:.3g} GB ({how})"
        if s.par.pp > 1:  # each virtual engine of the pipeline has its own share of the blocks
            room = (f"each of the {s.par.pp} virtual engines gets {kv.capacity / s.par.pp / 1e9:.3g} GB of the "
                    f"{kv.capacity / 1e9:.3g} GB the engine leaves ({how})")
        notes.append(f"does not fit: a request of {int(inp[e.request])} + {int(out[e.request])} tokens needs "
                     f"{need / 1e9:.3g} GB of KV cache per GPU; {room}")
    res = build_result(s, cfg, kv, how, ov_row, merged, inp, out, s.par.dp, conc, slos, request_rate, fits, notes)
    res.workload["random_prefix_len"] = wl.prefix_len
    res.kv_cache["shared_prefix_tokens"] = wl.prefix_len // cfg.block_size * cfg.block_size
    return res


def itl_arrays(values: list, weights: list) -> tuple[np.ndarray, np.ndarray]:
    """Inter-token gaps and how many tokens saw each (one weight per array of gaps)."""
    if not values:
        return np.zeros(0), np.zeros(0)
    sizes = np.fromiter((np.size(v) for v in values), dtype=np.int64, count=len(values))
    return np.concatenate(values), np.repeat(np.asarray(weights, dtype=float), sizes)


def build_result(s, cfg, kv, how, ov_row, rep, inp, out, dp, conc, slos, request_rate, fits, notes) -> SimResult:
    done = np.isfinite(rep.finish)
    sent = rep.sent
    ttft = (rep.first - sent)[done]
    e2e = (rep.finish - sent)[done]
    multi = done & (out > 1)
    tpot = ((rep.finish - rep.first) / np.maximum(out - 1, 1))[multi]
    itl = itl_arrays(rep.itl_values, rep.itl_weights)
    duration = float(np.nanmax(rep.finish) - np.nanmin(sent)) if done.any() else 0.0
    measured = calibration_note(s)  # a calibration profile's measured factors for this GPU
    notes = [*notes, measured] if measured else list(notes)
    if ov_row.get("basis") == "not fitted":
        notes.append(f"{cfg.label}: no serving measurements fitted yet; host-side step overheads are taken as 0")
    return SimResult(
        model=s.model.name, gpu=s.gpu.name, engine=cfg.to_dict(),
        deployment={"tp": s.par.tp, "pp": s.par.pp, "dp": dp, "ep": s.par.ep, "num_gpus": s.par.num_gpus},
        workload={"num_prompts": int(out.size), "request_rate": None if request_rate in (None, math.inf) else float(request_rate),
                  "max_concurrency": conc, "mean_input_len": float(inp.mean()), "mean_output_len": float(out.mean())},
        kv_cache={"capacity_bytes": kv.capacity, "capacity_tokens": kv.tokens_capacity(), "block_size": cfg.block_size,
                  "working": how, "fits": fits},
        overheads={k: ov_row[k] for k in ("step_s", "per_seq_s", "frontend", "request_s", "request_s_basis", "basis", "fitted_on")
                   if k in ov_row},
        duration_s=duration, num_requests=int(done.sum()), input_tokens=int(inp[done].sum()),
        output_tokens=int(out[done].sum()), ttft=ttft, tpot=tpot, itl=itl, e2e=e2e, steps=rep.steps,
        preemptions=rep.preemptions, ttft_slo=slos[0], tpot_slo=slos[1], notes=notes, out_len=out[done] * 1)
