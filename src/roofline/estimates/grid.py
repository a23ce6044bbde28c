"""`grid()`: one model over every combination of GPUs × batch sizes × prompt lengths × output
lengths, in one vectorized pass (a million configurations take about a second).

Each GPU's roofs and formats become arrays along the first axis, the workload axes follow, and the
cost graph and memory model evaluate every operator once for the whole grid:

    g = roofline.grid("llama-3.1-8b", ["a100", "h100", "l40s"], batch_sizes=range(1, 257),
                      input_lens=[128, 512, 2048], output_lens=[128, 512])
    g.tpot_s.shape            # (3, 256, 3, 2): GPU × batch × input × output
    g.cheapest_meeting(...)   # see below
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..catalog import get_gpu, get_model
from ..catalog.factors import factor
from ..cost.graph import Widths, step_ops
from ..errors import RooflineError
from ..specs.model import ModelSpec
from ..specs.parallel import Parallel
from ..specs.precision import resolve_precision
from .estimate import MAX_BATCH, MAX_TOKENS
from .memory import activation_bytes, kv_cache_bytes, weight_split
from .timing import CommLink, Roofs, roofs, time_step

MAX_CONFIGS = 50_000_000  # ~ a few GB of float64 intermediates


def _axis(name: str, values, maximum: int) -> np.ndarray:
    a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float).ravel()
    if a.size == 0:
        raise RooflineError(f"{name} is empty")
    if not np.all(np.isfinite(a)) or np.any(a < 1) or np.any(a != np.round(a)) or np.any(a > maximum):
        raise RooflineError(f"{name} must be whole numbers in 1..{maximum:,}")
    return a


def _stack(items: list, cls):
    """Dataclass of arrays (one entry per GPU, shaped (G, 1, 1, 1)) from a list of dataclasses."""
    out = {}
    for f in fields(cls):
        vals = [getattr(x, f.name) for x in items]
        if all(isinstance(v, (int, float, np.floating, np.integer)) for v in vals):
            out[f.name] = np.asarray(vals, dtype=float).reshape(-1, 1, 1, 1)
        else:
            out[f.name] = vals[0]
    return cls(**out)


def _stack_links(links: list[CommLink | None]) -> CommLink | None:
    if any(link is None for link in links):
        return None
    return CommLink("per GPU", np.asarray([l.bandwidth for l in links]).reshape(-1, 1, 1, 1),
                    np.asarray([l.latency for l in links]).reshape(-1, 1, 1, 1))


@dataclass(frozen=True)
class Grid:
    gpus: list[str]
    batch_sizes: np.ndarray
    input_lens: np.ndarray
    output_lens: np.ndarray
    ttft_s: np.ndarray  # (G, B, I, 1)
    tpot_s: np.ndarray  # (G, B, I, O)
    memory_bytes: np.ndarray  # per GPU, (G, B, I, O)
    capacity_bytes: np.ndarray  # (G, 1, 1, 1)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.tpot_s.shape

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def fits(self) -> np.ndarray:
        return self.memory_bytes <= self.capacity_bytes

    @property
    def e2e_latency_s(self) -> np.ndarray:
        return self.ttft_s + (self.output_lens.reshape(1, 1, 1, -1) - 1) * self.tpot_s

    @property
    def output_tokens_per_s(self) -> np.ndarray:
        b = self.batch_sizes.reshape(1, -1, 1, 1)
        n = self.output_lens.reshape(1, 1, 1, -1)
        return b * n / self.e2e_latency_s

    def best(self, *, max_ttft_s: float = np.inf, max_tpot_s: float = np.inf) -> dict | None:
        """The configuration with the highest output throughput that fits and meets the targets."""
        ok = self.fits & (self.ttft_s <= max_ttft_s) & (self.tpot_s <= max_tpot_s)
        if not ok.any():
            return None
        score = np.where(ok, self.output_tokens_per_s, -np.inf)
        g, b, i, o = np.unravel_index(int(np.argmax(score)), self.shape)
        return {"gpu": self.gpus[g], "batch_size": int(self.batch_sizes[b]), "input_len": int(self.input_lens[i]),
                "output_len": int(self.output_lens[o]), "ttft_s": float(self.ttft_s[g, b, i, 0]),
                "tpot_s": float(self.tpot_s[g, b, i, o]), "output_tokens_per_s": float(self.output_tokens_per_s[g, b, i, o])}


def grid(model, gpus, *, batch_sizes, input_lens, output_lens, tp: int = 1, dtype=None, weight_dtype=None,
         kv_cache_dtype=None, activation_dtype=None, weight_bits=None, ideal: bool = False) -> Grid:
    """TTFT, TPOT, throughput and memory for every GPU × batch × input × output combination.

    Single-replica, no pipeline: the split is tensor parallelism `tp` on every GPU."""
    m = model if isinstance(model, ModelSpec) else get_model(model)
    names = [gpus] if isinstance(gpus, str) else list(gpus)
    if not names:
        raise RooflineError("grid needs at least one GPU")
    hw = [get_gpu(n) for n in names]
    b = _axis("batch_sizes", batch_sizes, MAX_BATCH)
    L = _axis("input_lens", input_lens, MAX_TOKENS)
    out = _axis("output_lens", output_lens, MAX_TOKENS)
    size = len(hw) * b.size * L.size * out.size
    if size > MAX_CONFIGS:
        raise RooflineError(f"a grid of {size:,} configurations exceeds the cap of {MAX_CONFIGS:,}")
    par = Parallel(tp=tp)
    par.check(m)
    precs = [resolve_precision(g, dtype, weight_dtype, kv_cache_dtype, activation_dtype, weight_bits) for g in hw]
    rf = [roofs(g, p, par, ideal) for g, p in zip(hw, precs)]
    stacked = _stack(rf, Roofs)
    stacked = Roofs(**{**{f.name: getattr(stacked, f.name) for f in fields(Roofs)},
                       "tp_link": _stack_links([r.tp_link for r in rf]), "pp_link": None, "ep_link": None})
    w = _stack([Widths.of(p) for p in precs], Widths)
    B, I, O = b.reshape(1, -1, 1, 1), L.reshape(1, 1, -1, 1), out.reshape(1, 1, 1, -1)
    pre = time_step(step_ops(m, w, par, "prefill", B, I, 1), stacked, par)
    dec = time_step(step_ops(m, w, par, "decode", B, I, O), stacked, par)
    ws = weight_split(m, par)
    p0 = precs[0]
    weights = np.asarray([ws.bytes(p) for p in precs]).reshape(-1, 1, 1, 1)
    mem = (weights + kv_cache_bytes(m, p0, par, B, I + O) + activation_bytes(m, p0, par, B, I)
           + factor("runtime_overhead_bytes").value)
    full = (len(hw), b.size, L.size, out.size)
    return Grid([g.name for g in hw], b, L, out, np.broadcast_to(pre.time, full[:3] + (1,)).copy(),
                np.broadcast_to(dec.time, full).copy(), np.broadcast_to(mem, full).copy(),
                np.asarray([g.memory_bytes for g in hw], dtype=float).reshape(-1, 1, 1, 1))
