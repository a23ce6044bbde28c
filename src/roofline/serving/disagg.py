"""Disaggregated serving: prompts on a prefill pool, generation on a decode pool.

Each pool is a number of instances of its own split (pools.py): the prefill pool's tp × pp GPUs
per instance and the decode pool's, each with the KV-cache capacity and step times of that split.
Requests go round-robin to the prefill instances, which run only prompts (their steps carry no
decodes) and produce the first token. A request with more to generate then has its KV cache moved
to a decode instance (round-robin in the order the caches become ready): the first token reaches
the user when the cache has arrived there (the decode instance streams it, as SGLang's and vLLM's
prefill/decode set-ups do), and the decode instance admits the request when it has the blocks.

KV transfer of a prompt of L tokens. Every decode GPU must receive its shard: kv_d(L) bytes, the
decode split's per-GPU KV cache (heads split over tp_d, layers over pp; replicated KV heads are
received by each GPU that holds them). The N_d = tp_d × pp GPUs of the decode instance receive
N_d × kv_d(L) in all, sent by the N_p = tp_p × pp GPUs of the prefill instance, every GPU on its
own NIC and in parallel. The busiest NIC carries N_d × kv_d(L) / min(N_p, N_d) bytes, so
    t = link latency + N_d × kv_d(L) / (min(N_p, N_d) × link bandwidth per direction)
which for equal splits is the usual latency + one GPU's shard / bandwidth.

Beside it two aggregated deployments are simulated, with the same routing, each instance in full:
on the same GPUs (instances of the prefill split, else of the decode split, as many as the GPUs
make), and on the prefill pool's GPUs alone (x instances of the prefill split), the comparison
for "what does taking decodes off the prefill GPUs buy".
"""

from __future__ import annotations

import math

import numpy as np

from ..catalog import get_link
from ..errors import RooflineError
from .pools import Pool, parse_layout, pool_options  # noqa: F401  (parse_layout: re-exported)
from .closedloop import ClosedLoop, PoolTooSmall
from .replicas import Merged, run_units
from .scheduler import KVCache, TooLarge
from .workload import Workload


def _link(s, bandwidth) -> tuple[float, float, str]:
    if bandwidth is not None:
        if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or not bandwidth > 0:
            raise RooflineError(f"kv_transfer_bandwidth must be positive bytes/s (math.inf: free), got {bandwidth!r}")
        return float(bandwidth), 0.0, "given"
    name = s.par.inter_node_link or s.gpu.scale_out_link
    if not name:
        raise RooflineError(f"{s.gpu.name} has no network link in the catalog; give kv_transfer_bandwidth")
    link = get_link(name)
    return float(link.bandwidth_per_direction), float(link.latency_s), link.name


def transfer_s(kv_decode: KVCache, pre: Pool, dec: Pool, input_len, bandwidth: float, latency: float):
    """Seconds to move each prompt's KV cache from a prefill instance to a decode instance (module doc)."""
    if bandwidth == math.inf:
        return np.full(np.shape(input_len), float(latency))
    n_p, n_d = pre.gpus_per_instance, dec.gpus_per_instance
    return latency + n_d * kv_decode.bytes_for(input_len) / (min(n_p, n_d) * bandwidth)


class _Setup:
    """One pool's resolved setup: (s, cfg, kv, how, pred) of simulation.prepare for its split."""

    def __init__(self, pool: Pool, prepared):
        self.pool = pool
        self.s, self.cfg, self.kv, self.how, self.pred = prepared


def _prepare(model, gpu, engine, pool: Pool, estimate_options, engine_options) -> _Setup:
    from .simulation import prepare

    try:
        return _Setup(pool, prepare(model, gpu, engine, pool_options(pool, estimate_options), **engine_options))
    except RooflineError as e:
        raise RooflineError(f"{pool.role} pool (tp={pool.tp}): {e}") from None


class _DoesNotFit(Exception):
    def __init__(self, request: int):
        super().__init__(request)
        self.request = request


def _cached(hit: float, inp: np.ndarray, block: int):
    return (np.floor(hit * inp / block) * block).astype(np.int64) if hit else None


def _run_pool(su: _Setup, k: int, order: np.ndarray, arrival, wl: Workload, out, ov, conc=None, cached=None,
              resumed=False, record=False) -> Merged:
    """k instances of one split serving the requests `order` (in the order they reach the pool),
    dealt round-robin as in aggregated serving (replicas.run_units: every instance, and with pp > 1
    every virtual engine of each, simulated)."""
    try:
        return run_units(su.cfg, su.pred, su.kv, ov, arrival, wl.input_len, out, cached, conc, k, su.s.par.pp,
                         wl.prefix_len, order=order, resumed=resumed, record=record)
    except TooLarge as e:
        raise _DoesNotFit(e.request) from None


def _too_large_note(su: _Setup, wl: Workload, request: int, role: str) -> str:
    inp, out = int(wl.input_len[request]), int(wl.output_len[request])
    cfg = su.cfg
    if role != "decode" and not cfg.chunked_prefill and inp > cfg.max_num_batched_tokens:
        return (f"does not fit: a prompt of {inp} tokens exceeds the {role} instances' token budget of "
                f"{cfg.max_num_batched_tokens} per step, and {cfg.label} does not chunk prompts here")
    need = float(su.kv.bytes_for(inp + out if role != "prefill" else inp))
    return (f"does not fit: a request of {inp} + {out} tokens needs {need / 1e9:.3g} GB of KV cache per GPU on the "
            f"{role} instances (tp={su.pool.tp}); the engine leaves {su.kv.capacity / su.pool.pp / 1e9:.3g} GB ({su.how})")


def _aggregated(su: _Setup, k: int, wl: Workload, ctx, what: str) -> dict:
    """k aggregated instances of `su`'s split on the same requests: the comparison `what`."""
    from .simulation import build_result

    notes, fits = [], True
    try:
        merged = _run_pool(su, k, np.arange(wl.size), wl.arrival_s, wl, wl.output_len, ctx["ov"], ctx["conc"],
                           _cached(ctx["hit"], wl.input_len, su.cfg.block_size))
    except _DoesNotFit as e:
        merged, fits, notes = Merged(wl.size), False, [_too_large_note(su, wl, e.request, "aggregated")]
    s = su.s
    res = build_result(s, su.cfg, su.kv, su.how, ctx["ov_row"], merged, wl.input_len, wl.output_len, k, ctx["conc"],
                       ctx["slos"], ctx["request_rate"], fits, notes)
    res.deployment = {"tp": s.par.tp, "pp": s.par.pp, "dp": k, "ep": s.par.ep, "num_gpus": k * s.par.num_gpus}
    d = res.to_dict()
    keys = ("throughput", "ttft_s", "tpot_s", "itl_s", "e2e_s", "goodput", "deployment", "kv_cache", "cost", "notes")
    return {"comparison": what, **{key: d.get(key) for key in keys}}


def _same_gpus(P: _Setup, D: _Setup, total: int):
    for su in (P, D):
        if total % su.pool.gpus_per_instance == 0:
            return su, total // su.pool.gpus_per_instance
    return None, 0


def _instances(k: int, pool: Pool) -> str:
    return f"{k} instance{'s' if k > 1 else ''} of tp={pool.tp}" + (f" × pp={pool.pp}" if pool.pp > 1 else "")


def _pool_doc(su: _Setup) -> dict:
    p = su.pool
    return {"instances": p.instances, "tp": p.tp, "pp": p.pp, "ep": su.s.par.ep, "gpus_per_instance": p.gpus_per_instance,
            "num_gpus": p.num_gpus, "kv_capacity_bytes_per_gpu": su.kv.capacity, "kv_capacity_tokens": su.kv.tokens_capacity(),
            "max_num_seqs": su.cfg.max_num_seqs}


def simulate_disaggregated(model, gpu, engine, wl: Workload, conc, hit, pools, kv_bandwidth, slos, overheads,
                           engine_options, estimate_options, request_rate):
    from .simulation import overheads_for

    pre, dec = pools
    P = _prepare(model, gpu, engine, pre, estimate_options, engine_options)
    D = P if dec.tp == pre.tp else _prepare(model, gpu, engine, dec, estimate_options, engine_options)
    D = _Setup(dec, (D.s, D.cfg, D.kv, D.how, D.pred))
    ov, ov_row = overheads_for(P.cfg.engine) if overheads is None else (overheads, {"basis": "given"})
    bw, lat, link_name = _link(P.s, kv_bandwidth)
    ctx = dict(ov=ov, ov_row=ov_row, conc=conc, hit=hit, slos=slos, request_rate=request_rate)
    transfer = transfer_s(D.kv, pre, dec, wl.input_len, bw, lat)
    fits, notes, longest = True, [], 0.0
    try:
        merged = _serve(P, D, wl, conc, transfer, ov, _cached(hit, wl.input_len, P.cfg.block_size))
        longest = merged.longest_step_s
    except PoolTooSmall as e:
        fits, merged = False, Merged(wl.size)
        notes.append(_too_large_note(P if e.role == "prefill" else D, wl, e.request, e.role))
    if conc is not None:
        notes.append(f"closed loop: at most {conc} requests in flight across both pools; the client sends the next "
                     "request when one has finished (its last token), so both pools run in one event loop")
    res = _build(D, merged, wl, fits, notes, ctx, pre, dec)
    agg_same, k = _same_gpus(P, D, pre.num_gpus + dec.num_gpus)
    moved = transfer[wl.output_len > 1]
    res.disaggregated = {
        "layout": f"{pre.instances}P{dec.instances}D", "prefill": _pool_doc(P) | {"longest_step_s": longest}, "decode": _pool_doc(D),
        "link": link_name, "link_bandwidth": bw if bw != math.inf else None, "link_latency_s": lat,
        "kv_transfer_s": {"mean": float(moved.mean()) if moved.size else 0.0, "max": float(moved.max()) if moved.size else 0.0},
        "kv_transfer_working": (f"latency {lat:g} s + {dec.gpus_per_instance} decode GPUs × their KV shard / "
                                f"(min({pre.gpus_per_instance} prefill GPUs, {dec.gpus_per_instance}) × link bandwidth)"),
        "aggregated": None if agg_same is None else _aggregated(agg_same, k, wl, ctx, (
            f"aggregated on the same {pre.num_gpus + dec.num_gpus} GPUs: {_instances(k, agg_same.pool)}")),
        "aggregated_equal_prefill_gpus": _aggregated(P, pre.instances, wl, ctx, (
            f"aggregated on the prefill pool's {pre.num_gpus} GPUs: {_instances(pre.instances, pre)}")),
    }
    if agg_same is None:
        res.notes.append(f"no aggregated deployment of either pool's split fills exactly {pre.num_gpus + dec.num_gpus} GPUs")
    return res


def _serve(P: _Setup, D: _Setup, wl: Workload, conc, transfer, ov, cached) -> Merged:
    """Both pools on the workload: open loop (arrival times known), the prefill pool then the
    decode pool; closed loop, one event loop over both (closedloop.py)."""
    if conc is not None:
        return ClosedLoop(P, D, wl, conc, transfer, ov, cached).run()
    try:
        merged = _run_pool(P, P.pool.instances, np.arange(wl.size), wl.arrival_s, wl, np.ones(wl.size, np.int64), ov,
                           None, cached, record=True)
    except _DoesNotFit as e:
        raise PoolTooSmall("prefill", e.request) from None
    moves = wl.output_len > 1
    merged.first = np.where(moves, merged.first + transfer, merged.first)  # delivered once the KV has arrived
    try:
        _decode(D, wl, merged, ov)
    except _DoesNotFit as e:
        raise PoolTooSmall("decode", e.request) from None
    return merged


def _decode(D: _Setup, wl: Workload, merged: Merged, ov) -> None:
    """The decode pool: requests with more than one token, dealt in the order their KV arrives;
    their finish times, gaps and the pool's timeline go into `merged`."""
    movers = np.nonzero(wl.output_len > 1)[0]
    order = movers[np.argsort(merged.first[movers], kind="stable")]
    dec = _run_pool(D, D.pool.instances, order, merged.first, wl, wl.output_len, ov, resumed=True)
    merged.finish[order] = dec.finish[order]
    merged.itl_values, merged.itl_weights = dec.itl_values, dec.itl_weights
    merged.steps, merged.preemptions = dec.steps, merged.preemptions + dec.preemptions


def _build(D: _Setup, merged: Merged, wl: Workload, fits: bool, notes, ctx, pre: Pool, dec: Pool):
    from .simulation import build_result

    s = D.s
    notes = notes + ["kv_cache, batch size, queue and timeline are the decode pool's; each pool's KV capacity is in "
                     "disaggregated.prefill and disaggregated.decode"]
    res = build_result(s, D.cfg, D.kv, D.how, ctx["ov_row"], merged, wl.input_len, wl.output_len, 1, ctx["conc"],
                       ctx["slos"], ctx["request_rate"], fits, notes)
    res.deployment = {"tp": s.par.tp, "pp": s.par.pp, "dp": 1, "ep": s.par.ep, "num_gpus": pre.num_gpus + dec.num_gpus,
                      "prefill_instances": pre.instances, "decode_instances": dec.instances,
                      "prefill_tp": pre.tp, "decode_tp": dec.tp}
    res.workload["random_prefix_len"] = wl.prefix_len
    return res
