"""Execution-time predictor: how long one engine step takes, from the tokens it carries.

A continuous-batching step carries the decode tokens of running requests (each attending to its own
cached context) and prefill chunks (each attending to itself and to what its request already
cached). Its time comes from the one vectorized evaluation of the estimate
(`estimates.evaluation.evaluate`), called once over a token axis, and splits the way the operator
graph does:

* everything but attention, lm_head and sampling depends only on the tokens in the step, T: one
  table over T = 0 … max tokens, the evaluation's decode step of T sequences (captured in a CUDA
  graph) and its prefill of T tokens (less its eager launches, added back per step below);
* lm_head and sampling run once per sequence that gets a token (decodes and prompts that finish):
  a second table over that row count;
* attention, per layer group (global, sliding window, chunked), is linear in the keys read by the
  decodes and in the (query, key) pairs of the prefill chunks: its FLOPs and bytes coefficients
  are read off the same evaluation, then timed with the graph's own rule
  max(t_c, t_m) + (1 − overlap) × min(t_c, t_m) + kernels × kernel overhead (`timing.time_op`);
* a step that is not replayed from a CUDA graph pays the eager launch cost of every kernel and
  collective on top (`timing.time_op`'s surcharge);
* with pipeline parallelism the step splits into stages as the estimate's pipeline schedule does
  (`stages`), for serving/pipeline.py.

A pure decode step equals the estimate's TPOT at output length 2, and a pure prefill step the
estimate's TTFT of one prompt (tests/test_serving.py, tests/test_serving_parallel.py).
Everything here is re-pointable: `StepPredictor` is the only thing the scheduler calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..cost.context import attended_sum
from ..estimates.evaluation import evaluate
from ..estimates.pipeline import stage_layers
from ..estimates.timing import StepTime, eager_surcharge

HEAD_OPS = ("lm_head", "sampling")


@dataclass(frozen=True)
class AttentionCoefficients:
    """One attention operator of one layer group: FLOPs and bytes per key, pair and token."""

    count: int  # layers in the group
    kernels: float
    window: float  # keys a position sees at most (inf for global layers)
    layer: object  # the specs.model.Layer, for attended_sum
    dec_flops_per_key: float
    dec_bytes_per_key: float
    dec_bytes_per_token: float
    pre_flops_per_pair: float
    pre_bytes_per_token: float
    combined: bool  # decode and prefill attention run as one kernel (same operator in both graphs)


def table_at(table: np.ndarray, n: int) -> float:
    """A table over 0 … max tokens read at n, linear beyond its end."""
    last = table.size - 1
    return float(table[n]) if n <= last else float(table[-1]) * n / last


def _axes(n: int, dp: int):
    """The one evaluation's axes: T = 1 … n sequences of one token (a decode step of T sequences at
    context 1; a prefill of T tokens, which is the same dense work as one prompt of T tokens), then
    one sequence of 2 tokens (the attention's cost per key and per pair). Batches are per deployment
    (dp replicas), as `evaluate` takes them."""
    T = np.arange(1, n + 1, dtype=float)
    return np.append(T, 1.0) * dp, np.append(np.ones(n), 2.0), 2.0


class StepPredictor:
    """Step time of an engine iteration for one replica of the setup `s` (per GPU of the replica)."""

    def __init__(self, s, max_tokens: int):
        self.setup = s
        r, n = s.roofs, int(max_tokens)
        self.max_tokens = n
        # one batch is one micro-batch through every stage; pipeline.py keeps pp of them in flight
        ev = evaluate(replace(s, requested_micro_batches=1), *_axes(n, s.par.dp))
        dec, pre = ev.decode_step.ops, ev.prefill_step.ops
        self._shape = ev.batch.shape  # (n + 1,)
        dense = lambda t: t.op.unit != "attention" and t.op.name not in HEAD_OPS  # noqa: E731
        self.dense_decode = self._table(dec, dense)
        # prefills are timed as launched eagerly; the table holds them captured, like every step
        self.dense_prefill = self._table(pre, dense) - np.concatenate([[0.0], np.full(n, self._eager(pre, dense))])
        self.head = self._table(dec, lambda t: t.op.name in HEAD_OPS)
        self.eager_surcharge = self._eager(dec, lambda t: True, eager=True)
        self.attention = self._coefficients(dec, pre, n)
        self.att_peak, self.bandwidth = float(r.attention), float(r.bandwidth)
        self.overlap, self.kernel_overhead = float(r.overlap), float(r.kernel_overhead)
        self.windows = sorted({a.window for a in self.attention})
        self.pp = s.par.pp
        if self.pp > 1:
            self._stage_tables(dec)

    def _table(self, ots, keep) -> np.ndarray:
        """The summed time of the kept operators over T = 0 … n tokens (0 s at 0)."""
        t = np.broadcast_to(np.asarray(StepTime([o for o in ots if keep(o)]).time, dtype=float), self._shape)
        return np.concatenate([[0.0], t[:self.max_tokens]])

    def _eager(self, ots, keep, eager: bool = False) -> float:
        """Seconds the kept operators spend on eager launches (those launched eagerly, or with
        `eager`, all of them): `timing.time_op`'s per-kernel and per-collective surcharge."""
        r, par = self.setup.roofs, self.setup.par
        return sum(t.op.count * float(np.max(eager_surcharge(t.op, r, par)))
                   for t in ots if keep(t) and (eager or t.op.eager))

    def _stage_tables(self, dec) -> None:
        """What a pipeline stage adds to its share of the layers: the embedding on the first, the
        final norm (and lm_head and sampling, `head`) on the last, and one activation hand-over between
        two stages; the same split as the static estimate's pipeline schedule (estimates/pipeline.py)."""
        s = self.setup
        self.first_extra = self._table(dec, lambda t: t.op.name == "embedding")
        self.last_extra = self._table(dec, lambda t: t.op.name == "final_norm")
        self.send = self._table(dec, lambda t: t.op.comm_kind == "p2p") / (self.pp - 1)
        layers = stage_layers(s.model.num_layers, self.pp)
        self.stage_share = [c / s.model.num_layers for c in layers]
        self._extras: dict[tuple[int, int], tuple[float, float, float]] = {}

    def _coefficients(self, dec, pre, n: int) -> list[AttentionCoefficients]:
        """Attention's FLOPs and bytes per key, pair and token, read off the evaluation at its first
        and last points: one sequence of 1 and of 2 tokens (decoding at context 1 and 2, prefilling 1
        and 2 tokens)."""
        x = np.array([1.0, 2.0])
        at = lambda v: np.broadcast_to(np.asarray(v, dtype=float), self._shape)[[0, n]]  # noqa: E731
        d_ops = [t.op for t in dec if t.op.unit == "attention"]
        p_ops = [t.op for t in pre if t.op.unit == "attention"]
        out = []
        for (layer, count), d, q in zip(self.setup.model.layer_groups(), d_ops, p_ops):
            window = float(layer.window) if layer.window_kind != "global" and layer.window else math.inf
            keys = np.array([min(2.0, window), min(3.0, window)])  # decode at position L+1 sees L+1 keys
            df, db = at(d.flops), at(d.bytes)
            fk = (df[1] - df[0]) / (keys[1] - keys[0])
            bk = (db[1] - db[0]) / (keys[1] - keys[0])
            pairs = attended_sum(x, layer)
            pf, pb = at(q.flops), at(q.bytes)
            out.append(AttentionCoefficients(
                count=int(d.count), kernels=float(d.kernels), window=window, layer=layer,
                dec_flops_per_key=float(fk), dec_bytes_per_key=float(bk),
                dec_bytes_per_token=float(db[0] - bk * keys[0]),
                pre_flops_per_pair=float((pf[1] - pf[0]) / (pairs[1] - pairs[0])),
                pre_bytes_per_token=float(pb[1] - pb[0]), combined=d.name == q.name))
        return out

    # ------------------------------------------------------------------ per-step pieces

    def decode_keys(self, context: np.ndarray) -> dict[float, float]:
        """Keys read by decodes whose sequences hold `context` tokens each (the new one included),
        per window size."""
        return {w: float(np.minimum(context, w).sum()) if w != math.inf else float(context.sum())
                for w in self.windows}

    def chunk_work(self, start: int, tokens: int) -> tuple[dict[float, float], dict[float, float]]:
        """(query, key) pairs of a prefill chunk of `tokens` after `start` cached tokens, and the
        cached keys it reads, per layer group window."""
        pairs, prior = {}, {}
        for a in self.attention:
            if a.window in pairs:
                continue
            if a.window == math.inf:  # S(L) = L(L+1)/2, in plain floats: this runs every step
                end = start + tokens
                pairs[a.window] = (end * (end + 1) - start * (start + 1)) / 2.0
            else:
                pairs[a.window] = float(attended_sum(start + tokens, a.layer) - attended_sum(start, a.layer))
            prior[a.window] = float(min(start, a.window))
        return pairs, prior

    def _op_time(self, flops: float, nbytes: float, kernels: float) -> float:
        c, mem = flops / self.att_peak, nbytes / self.bandwidth
        hi, lo = (c, mem) if c >= mem else (mem, c)
        return hi + (1.0 - self.overlap) * lo + kernels * self.kernel_overhead

    def attention_time(self, n_decode: int, dec_keys: dict, prefill_tokens: int, pre_pairs: dict,
                       pre_prior: dict) -> float:
        t = 0.0
        for a in self.attention:
            df = a.dec_flops_per_key * dec_keys.get(a.window, 0.0)
            db = a.dec_bytes_per_key * dec_keys.get(a.window, 0.0) + a.dec_bytes_per_token * n_decode
            pf = a.pre_flops_per_pair * pre_pairs.get(a.window, 0.0)
            pb = a.pre_bytes_per_token * prefill_tokens + a.dec_bytes_per_key * pre_prior.get(a.window, 0.0)
            if a.combined:
                t += a.count * self._op_time(df + pf, db + pb, a.kernels if (n_decode or prefill_tokens) else 0.0)
            else:
                if n_decode:
                    t += a.count * self._op_time(df, db, a.kernels)
                if prefill_tokens:
                    t += a.count * self._op_time(pf, pb, a.kernels)
        return t

    def step_time(self, n_decode: int, dec_keys: dict, prefill_tokens: int, pre_pairs: dict, pre_prior: dict,
                  rows: int, eager: bool) -> float:
        """Seconds for one step: `n_decode` decode tokens reading `dec_keys`, `prefill_tokens`
        prompt tokens with their pairs and prior keys, logits for `rows` sequences."""
        T = n_decode + prefill_tokens
        if T == 0:
            return 0.0
        t = table_at(self.dense_prefill if prefill_tokens else self.dense_decode, T)
        t += table_at(self.head, rows)
        t += self.attention_time(n_decode, dec_keys, prefill_tokens, pre_pairs, pre_prior)
        return t + (self.eager_surcharge if eager else 0.0)

    def stages(self, gpu_s: float, tokens: int, rows: int) -> tuple[list[float], float]:
        """A step of `gpu_s` seconds (all stages and hand-overs, as `step_time` gives it) split into
        each pipeline stage's time, and the time of one hand-over between stages."""
        if self.pp == 1:
            return [gpu_s], 0.0
        first, last, send = self._stage_extras(tokens, rows)
        layers = gpu_s - first - last - (self.pp - 1) * send
        out = [layers * share for share in self.stage_share]
        out[0] += first
        out[-1] += last
        return out, send

    def _stage_extras(self, tokens: int, rows: int) -> tuple[float, float, float]:
        """(first stage's extra, last stage's extra, one hand-over) of a step: table lookups, kept
        per (tokens, rows) since a pipeline reads them every step."""
        key = (tokens, rows)
        got = self._extras.get(key)
        if got is None:
            if len(self._extras) > 100_000:  # a long-lived predictor: keep the cache bounded
                self._extras.clear()
            got = self._extras[key] = (table_at(self.first_extra, tokens),
                                       table_at(self.last_extra, tokens) + table_at(self.head, rows),
                                       table_at(self.send, tokens))
        return got

    def decode_step(self, batch: int, context: float) -> float:
        """A pure decode step of `batch` sequences of `context` tokens each, captured in a graph."""
        keys = {w: batch * min(context, w) for w in self.windows}
        return self.step_time(batch, keys, 0, {}, {}, batch, eager=False)

    # ------------------------------------------------------------------ many decode steps at once

    def _op_times(self, flops: np.ndarray, nbytes: np.ndarray, kernels: float) -> np.ndarray:
        c, mem = flops / self.att_peak, nbytes / self.bandwidth
        return np.maximum(c, mem) + (1.0 - self.overlap) * np.minimum(c, mem) + kernels * self.kernel_overhead

    def decode_floor(self, n: int, eager: bool) -> float:
        """A lower bound on any pure-decode step of `n` sequences: `decode_run` without attention."""
        return float(self.dense_decode[n] + self.head[n]) + (self.eager_surcharge if eager else 0.0)

    def decode_run(self, context: np.ndarray, steps: int, eager: bool) -> np.ndarray:
        """Times of `steps` successive pure-decode steps of the same sequences, which hold `context`
        tokens each (the new one included) at the first step and one more at each next step."""
        n, j = int(context.size), np.arange(steps, dtype=float)
        if self.windows == [math.inf]:  # global attention only: the keys need no sorting (token counts
            c, prefix = None, [float(np.sum(context))]  # are whole numbers, so any order sums exactly)
        else:
            c = np.sort(np.asarray(context, dtype=float))
            prefix = np.concatenate([[0.0], np.cumsum(c)])
        keys = {}
        for w in self.windows:
            if w == math.inf:
                keys[w] = prefix[-1] + n * j
            else:  # Σ min(c_i + j, w): sequences still inside the window count c_i + j, the others w
                inside = np.searchsorted(c, w - j, side="left")
                keys[w] = prefix[inside] + j * inside + w * (n - inside)
        t = np.full(steps, float(self.dense_decode[n] + self.head[n]) + (self.eager_surcharge if eager else 0.0))
        for a in self.attention:
            k = keys[a.window]
            t += a.count * self._op_times(a.dec_flops_per_key * k, a.dec_bytes_per_key * k + a.dec_bytes_per_token * n,
                                          a.kernels)
        return t
