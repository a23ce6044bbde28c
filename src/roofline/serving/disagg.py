"""Disaggregated serving: prompts on prefill instances, generation on decode instances.

`xPyD`: x prefill and y decode instances, each of the estimate's split (tp × pp GPUs). A prefill
instance runs only prompts (its steps carry no decodes) and emits the first token; the request's KV
cache then travels to a decode instance, every GPU sending its shard in parallel over the network
between them: latency + KV bytes per GPU / link bandwidth (the GPU's scale-out NIC, or
`kv_transfer_bandwidth`). The decode instance admits it when it has the blocks and generates the
rest. The aggregated deployment on the same (x + y) instances is simulated beside it.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..catalog import get_link
from ..errors import RooflineError
from .scheduler import Replica, TooLarge
from .workload import Workload

LAYOUT = re.compile(r"^\s*(\d+)\s*p\s*(\d+)\s*d\s*$", re.IGNORECASE)


def parse_layout(text) -> tuple[int, int]:
    m = LAYOUT.match(str(text))
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1 or max(int(m.group(1)), int(m.group(2))) > 1024:
        raise RooflineError(f"--disaggregate takes xPyD with x, y from 1 to 1024 (e.g. 1P1D, 2P3D), got {text!r}")
    return int(m.group(1)), int(m.group(2))


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


def _instances(n: int, k: int) -> list[np.ndarray]:
    return [np.arange(i, n, k) for i in range(k)]


def simulate_disaggregated(model, gpu, engine, wl: Workload, conc, hit, layout, kv_bandwidth, slos, overheads,
                           engine_options, estimate_options, request_rate):
    from .simulation import build_result, overheads_for, prepare, run_aggregated

    x, y = parse_layout(layout)
    s, cfg, kv, how, pred = prepare(model, gpu, engine, estimate_options, **engine_options)
    if s.par.dp > 1:
        raise RooflineError("--disaggregate sets the instances itself; leave out --data-parallel-size / --num-gpus")
    ov, ov_row = overheads_for(cfg.engine) if overheads is None else (overheads, {"basis": "given"})
    bw, lat, link_name = _link(s, kv_bandwidth)
    n = wl.size
    first = np.full(n, np.nan)
    sent = np.full(n, np.nan)
    notes = []
    try:
        for idx in _instances(n, x):  # prefill pool: output 1 token each, prompts only
            rep = Replica(cfg, pred, _fresh(kv), ov, wl.arrival_s[idx], wl.input_len[idx], np.ones(idx.size, np.int64),
                          max_concurrency=None if conc is None else max(1, math.ceil(conc / x))).run()
            first[idx], sent[idx] = rep.first, rep.sent
        transfer = lat + kv.bytes_for(wl.input_len) / bw
        ready = first + transfer
        decode = []
        for idx in _instances(n, y):
            order = idx[np.argsort(ready[idx], kind="stable")]
            rep = Replica(cfg, pred, _fresh(kv), ov, ready[order], wl.input_len[order], wl.output_len[order],
                          resumed=np.ones(order.size, bool)).run()
            decode.append((order, rep))
    except TooLarge:
        raise RooflineError("a request does not fit in one instance's KV cache; use a larger split") from None
    finish = np.full(n, np.nan)
    itl_v, itl_w, steps, pre = [], [], [], 0
    for order, rep in decode:
        finish[order] = rep.finish
        itl_v += rep.itl_values
        itl_w += rep.itl_weights
        steps += rep.steps
        pre += rep.preemptions
    merged = _Merged(sent, first, finish, itl_v, itl_w, sorted(steps), pre)
    agg = run_aggregated(*prepare(model, gpu, engine, dict(estimate_options, dp=x + y), **engine_options),
                         ov, ov_row, wl, conc, hit, slos, request_rate)
    res = build_result(s, cfg, kv, how, ov_row, merged, wl.input_len, wl.output_len, 1, conc, slos, request_rate, True, notes)
    res.deployment = {"tp": s.par.tp, "pp": s.par.pp, "dp": 1, "ep": s.par.ep, "num_gpus": (x + y) * s.par.num_gpus,
                      "prefill_instances": x, "decode_instances": y}
    a = agg.to_dict()
    res.disaggregated = {
        "layout": f"{x}P{y}D", "link": link_name, "link_bandwidth": bw if bw != math.inf else None, "link_latency_s": lat,
        "kv_transfer_s": {"mean": float(np.mean(transfer)), "max": float(np.max(transfer))} if bw != math.inf else {"mean": 0.0, "max": 0.0},
        "aggregated": {k: a[k] for k in ("throughput", "ttft_s", "tpot_s", "itl_s", "e2e_s", "goodput", "deployment")},
    }
    return res


def _fresh(kv):
    from .scheduler import KVCache

    return KVCache(kv.capacity, kv.block, kv.g, kv.windowed)


class _Merged:
    """The request arrays of both pools, shaped like one Replica for build_result."""

    def __init__(self, sent, first, finish, itl_values, itl_weights, steps, preemptions):
        self.sent, self.first, self.finish, self.steps, self.preemptions = sent, first, finish, steps, preemptions
        self.itl_values, self.itl_weights = itl_values, itl_weights
