"""`grid()`: one model over every combination of GPUs × batch sizes × prompt lengths × output
lengths — the one evaluation (estimates/evaluation.py) with three workload axes, per GPU.

Every option of `estimate()` applies (splits, pipeline schedule, replicas, speculative decoding,
formats), so each cell equals the estimate at that point:

    g = roofline.grid("llama-3.1-8b", ["a100", "h100", "l40s"], batch_sizes=range(1, 257),
                      input_lens=[128, 512, 2048], output_lens=[128, 512])
    g.tpot_s.shape                                  # (3, 256, 3, 2): GPU × batch × input × output
    g.best(input_len=2048, output_len=512, max_tpot_s=0.02)   # fastest fitting GPU and batch
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RooflineError
from .capacity import MAX_BATCH, MAX_TOKENS
from .evaluation import evaluate

MAX_CONFIGS = 50_000_000  # ~ a few GB of float64 intermediates


def _axis(name: str, values, maximum: int) -> np.ndarray:
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        raise RooflineError(f"{name} must be a list of whole numbers, got {values!r}")
    try:
        a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    except (TypeError, ValueError):
        raise RooflineError(f"{name} must be a list of whole numbers, got {values!r}") from None
    if a.ndim != 1:
        raise RooflineError(f"{name} must be a flat list of whole numbers")
    if a.size == 0:
        raise RooflineError(f"{name} is empty")
    if not np.all(np.isfinite(a)) or np.any(a < 1) or np.any(a != np.round(a)) or np.any(a > maximum):
        raise RooflineError(f"{name} must be whole numbers in 1..{maximum:,}")
    return a


@dataclass(frozen=True)
class Grid:
    gpus: list[str]
    batch_sizes: np.ndarray
    input_lens: np.ndarray
    output_lens: np.ndarray
    ttft_s: np.ndarray  # (G, B, I, O)
    tpot_s: np.ndarray  # (G, B, I, O)
    memory_bytes: np.ndarray  # per GPU, (G, B, I, O)
    capacity_bytes: np.ndarray  # (G, 1, 1, 1)
    num_gpus: int = 1  # GPUs per deployment (tp × pp × dp)
    data_parallel_size: int = 1
    situations: tuple = ()  # per GPU: what changes the estimate's error (evidence.uncertainty)

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

    def range(self, figure: str, level: float = 0.8) -> tuple[np.ndarray, np.ndarray] | None:
        """(low, high) arrays of the `level` interval of `figure` (ttft_s, tpot_s, e2e_latency_s or
        output_tokens_per_s) at every cell, from the held-out errors of the calibration set in each
        cell's regime (batch 1 per replica: single-stream decode; more: batched decode) and
        situation; None where the set has no basis for some cell."""
        from ..evidence.uncertainty import band

        value = np.broadcast_to(getattr(self, figure), self.shape)
        b_rep = np.ceil(self.batch_sizes / self.data_parallel_size).reshape(-1, 1, 1)
        low, high = np.empty(self.shape), np.empty(self.shape)
        for g, situation in enumerate(self.situations):
            got = band(figure, situation, b_rep, value[g], level)
            if got is None:
                return None
            low[g], high[g] = got
        return low, high

    def _index(self, name: str, axis: np.ndarray, value) -> int:
        if value is None:
            if axis.size > 1:
                raise RooflineError(f"the grid has {axis.size} values of {name}: say which workload ({name}=...); "
                                    "the workload is given, not optimised")
            return 0
        hit = np.nonzero(axis == float(value))[0]
        if hit.size == 0:
            raise RooflineError(f"{name}={value} is not on the grid ({', '.join(f'{v:g}' for v in axis[:8])})")
        return int(hit[0])

    def best(self, *, input_len=None, output_len=None, max_ttft_s: float = np.inf,
             max_tpot_s: float = np.inf) -> dict | None:
        """For one workload (input and output length: given, not optimised), the GPU and batch size
        with the highest output throughput that fit and meet the latency targets; None if none does."""
        i = self._index("input_len", self.input_lens, input_len)
        o = self._index("output_len", self.output_lens, output_len)
        ok = self.fits[:, :, i, o] & (self.ttft_s[:, :, i, o] <= max_ttft_s) & (self.tpot_s[:, :, i, o] <= max_tpot_s)
        if not ok.any():
            return None
        score = np.where(ok, self.output_tokens_per_s[:, :, i, o], -np.inf)
        g, b = np.unravel_index(int(np.argmax(score)), score.shape)
        return {"gpu": self.gpus[g], "batch_size": int(self.batch_sizes[b]), "input_len": int(self.input_lens[i]),
                "output_len": int(self.output_lens[o]), "ttft_s": float(self.ttft_s[g, b, i, o]),
                "tpot_s": float(self.tpot_s[g, b, i, o]),
                "output_tokens_per_s": float(self.output_tokens_per_s[g, b, i, o])}


def grid(model, gpus, *, batch_sizes, input_lens, output_lens, **options) -> Grid:
    """TTFT, TPOT, throughput and memory for every GPU × batch × input × output combination.

    `options` are `estimate()`'s (tp, pp, dp, formats, speculative decoding, ...); the batch sizes
    are the deployment's, shared by data-parallel replicas as in `estimate()`."""
    names = [gpus] if isinstance(gpus, str) else list(gpus) if isinstance(gpus, (list, tuple)) else None
    if not names or not all(isinstance(n, str) for n in names):
        raise RooflineError(f"grid needs a GPU name or a list of GPU names, got {gpus!r}")
    b = _axis("batch_sizes", batch_sizes, MAX_BATCH)
    L = _axis("input_lens", input_lens, MAX_TOKENS)
    out = _axis("output_lens", output_lens, MAX_TOKENS)
    size = len(names) * b.size * L.size * out.size
    if size > MAX_CONFIGS:
        raise RooflineError(f"a grid of {size:,} configurations exceeds the cap of {MAX_CONFIGS:,}")
    axes = {"batch_size", "input_len", "output_len"} & set(options)
    if axes:
        raise RooflineError(f"grid takes {', '.join(sorted(axes))} as axes (batch_sizes, input_lens, output_lens), not options")
    from ..scenario import Scenario

    setups = [Scenario.of(model, g, batch_size=int(b.max()), input_len=int(L[0]), output_len=int(out[0]), **options).setup()
              for g in names]
    B, I, O = b.reshape(-1, 1, 1), L.reshape(1, -1, 1), out.reshape(1, 1, -1)
    full = (b.size, L.size, out.size)
    ttft, tpot, mem = [], [], []
    for s in setups:  # GPUs differ in formats and links; each is one vectorized evaluation
        ev = evaluate(s, B, I, O)
        ttft.append(np.broadcast_to(ev.ttft_s, full))
        tpot.append(np.broadcast_to(ev.tpot_s, full))
        mem.append(np.broadcast_to(ev.total_bytes, full))
    cap = np.asarray([s.capacity for s in setups], dtype=float).reshape(-1, 1, 1, 1)
    from ..evidence.uncertainty import setup_situation

    situations = tuple(setup_situation(s) for s in setups)
    return Grid([s.gpu.name for s in setups], b, L, out, np.stack(ttft), np.stack(tpot), np.stack(mem), cap,
                setups[0].par.num_gpus, setups[0].par.dp, situations)
