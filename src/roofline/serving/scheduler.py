"""Iteration-level (continuous) batching of one engine replica, step by step.

Each step the scheduler decides what the step carries, the predictor prices it, and the clock
moves on by that time:
* running requests whose prompt is done decode one token each;
* unfinished prompts, then waiting requests in arrival order, get prefill tokens from what is left
  of the token budget (`max_num_batched_tokens`), the last one chunked when the engine chunks,
  while fewer than `max_num_seqs` run and the paged KV cache has blocks for them;
* "prefill_first" engines (SGLang) run a prefill-only step whenever a prefill can be formed and
  a decode-only step otherwise; "mixed" engines (vLLM, TensorRT-LLM) put both in one step;
* when decodes need a block and none is free, the newest running request is preempted: its
  blocks are freed and it recomputes its whole context later (vLLM V1's policy);
* admission follows the engine: free blocks for the next chunk (vLLM), free KV beyond a reserve
  for the running requests' remaining outputs (SGLang), or the whole prompt and output reserved up
  front so nothing is ever evicted (TensorRT-LLM's GUARANTEED_NO_EVICT).

The client side is `vllm bench serve`'s: request i is sent at its arrival time, or, under a
concurrency limit, when one of the in-flight requests finishes.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .fastpath import decode_run
from .prefix import SharedPrefix

WATERMARK = 0.01  # vLLM keeps 1% of the blocks free when admitting a prompt (block_manager.py:65, V0)
RESERVE_CAP = 4096  # SGLang reserves at most this many future tokens per running request


@dataclass(frozen=True)
class Overheads:
    """Fitted host-side times (serving_overheads.toml): per step, per sequence in a step, and per
    request between the client sending it and the engine scheduling it (HTTP, tokenization)."""

    step_s: float = 0.0
    per_seq_s: float = 0.0
    request_s: float = 0.0


class KVCache:
    """Paged KV memory of one GPU: bytes held by a request of `t` tokens, blocks rounded up;
    sliding-window layers hold at most their window (plus the block being written)."""

    def __init__(self, capacity: float, block: int, per_token_global: float, windowed: list[tuple[float, float]]):
        self.capacity, self.block = float(capacity), int(block)
        self.g, self.windowed = float(per_token_global), windowed  # [(window, bytes per token)]
        self.used = 0.0

    def bytes_for(self, tokens):
        t = np.ceil(np.divide(tokens, self.block)) * self.block
        out = self.g * t
        for w, b in self.windowed:
            out = out + b * np.minimum(t, w + self.block)
        return out

    def bytes_for_one(self, tokens: int) -> float:
        """bytes_for() of one request, in plain floats (it runs for every admission and chunk)."""
        t = -(-int(tokens) // self.block) * self.block
        return self.g * t + sum(b * min(t, w + self.block) for w, b in self.windowed)

    def tokens_capacity(self) -> int:
        per = self.g + sum(b for _, b in self.windowed)
        return int(self.capacity // per) if per else 0


class Replica:
    """One engine instance serving `n` requests; arrays are indexed by request."""

    def __init__(self, cfg, predictor, kv: KVCache, overheads: Overheads, issue_s, input_len, output_len,
                 cached=None, resumed=None, max_concurrency=None, record=False, stages=None, prefix_len=0):
        self.cfg, self.pred, self.kv, self.ov = cfg, predictor, kv, overheads
        self.stages = stages  # pipeline.Stages shared by the virtual engines of a pipeline; None: pp = 1
        n = len(input_len)
        self.n = n
        self.arrival = np.asarray(issue_s, dtype=float)
        self.inp, self.out = np.asarray(input_len, dtype=np.int64), np.asarray(output_len, dtype=np.int64)
        self.cached = np.zeros(n, np.int64) if cached is None else np.minimum(cached, self.inp - 1)
        self.resumed = np.zeros(n, bool) if resumed is None else np.asarray(resumed, bool)
        self.prefix = SharedPrefix(prefix_len, kv, n)  # the prompt prefix all requests share (prefix.py)
        self.target = self.inp.copy()  # tokens to have in the KV cache before decoding (re)starts
        self.computed = np.zeros(n, np.int64)
        self.generated = np.zeros(n, np.int64)
        self.held = np.zeros(n)
        self.sent = np.full(n, np.nan)
        self.first = np.full(n, np.nan)
        self.last = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.preemptions = 0
        self.limit = max_concurrency or n
        self.running = np.zeros(0, np.int64)
        self.waiting: deque[int] = deque()
        self.partial: set[int] = set()  # running requests whose prompt is not all in the KV cache yet
        self.arriving: deque[tuple[float, int]] = deque()  # sent, not yet seen by the engine: (when it will be, request)
        self.next, self.outstanding, self.done, self.last_free = 0, 0, 0, 0.0
        self.steps: list[tuple] = []
        self.itl_values: list[np.ndarray] = []  # inter-token gaps, with how many tokens saw each
        self.itl_weights: list[float] = []  # one weight for every gap of the matching array
        self.step_index = 0
        # with `record`, each step's graph time and sequence count, and the step after which each
        # request was sent, got its first token and finished: the overheads can then be refitted
        # without simulating again (benchmarks/fit_serving.py)
        self.record = record
        self.rec_dt: list = []
        self.rec_n: list = []
        self.sent_step, self.first_step, self.finish_step = (np.full(n, -1, np.int64) for _ in range(3))

    # ----------------------------------------------------------------- client
    def _issue(self, t: float) -> None:
        while self.next < self.n and self.arrival[self.next] <= t and self.outstanding < self.limit:
            i = self.next
            self.sent[i] = max(self.arrival[i], self.last_free) if self.limit < self.n else self.arrival[i]
            self.sent_step[i] = self.step_index
            if self.resumed[i]:  # KV handed over by a prefill instance: the first token is already out
                self.generated[i] = 1
                self.first[i] = self.last[i] = self.sent[i]
                self.arriving.append((self.sent[i], i))
            else:
                self.arriving.append((self.sent[i] + self.ov.request_s, i))
            self.next += 1
            self.outstanding += 1
        while self.arriving and self.arriving[0][0] <= t:
            self.waiting.append(self.arriving.popleft()[1])

    def next_event(self) -> float:
        """When the next request reaches the engine (math.inf: none before something finishes)."""
        t = self.arriving[0][0] if self.arriving else math.inf
        if self.next < self.n and self.outstanding < self.limit:
            t = min(t, float(self.arrival[self.next]) + (0.0 if self.resumed[self.next] else self.ov.request_s))
        return t

    def run(self) -> "Replica":
        t = 0.0
        while self.done < self.n:
            t = self.step(t)
        return self

    def step(self, t: float) -> float:
        """One pass of the engine loop from time t: the clock after it (a step, a run of decode
        steps, or a wait for the next request)."""
        self._issue(t)
        if self.running.size == 0 and not self.waiting:
            return max(t, self.next_event())
        dec, chunks = self._schedule()
        if dec.size == 0 and not chunks and self._joined:  # KV handed over: they decode from the next pass
            return t
        if dec.size == 0 and not chunks:  # nothing fits: wait for an arrival, or the cache is too small
            if self.running.size and self.next_event() < math.inf:
                return max(t, self.next_event())
            raise _TooLarge(int(self.running[0] if self.running.size else self.waiting[0]), self)
        if self.stages is None and not chunks and dec.size == self.running.size:
            end = decode_run(self, dec, t)  # decode-only: price the run up to the next event
            if end is not None:
                return end
        gpu_s, host_s, tokens, rows = self._price(dec, chunks)
        if self.stages is None:
            t += gpu_s + host_s
        else:  # one virtual engine of a pipeline: the stages may be busy with the others' batches
            stage_s, send_s = self.pred.stages(gpu_s, tokens, rows)
            t = self.stages.run(t + host_s, stage_s, send_s)
        self._advance(dec, chunks, t)
        return t

    # ----------------------------------------------------------------- scheduling
    def _schedule(self) -> tuple[np.ndarray, list[tuple[int, int]]]:
        cfg = self.cfg
        budget = cfg.max_num_batched_tokens
        self._dec_need, self._joined = 0.0, False
        if cfg.step_composition == "prefill_first":
            chunks = self._prefills(budget)
            if chunks:
                return np.zeros(0, np.int64), chunks
            return self._decodes(budget), []
        dec = self._decodes(budget)
        return dec, self._prefills(budget - dec.size)

    def _decodes(self, budget: int) -> np.ndarray:
        r = self.running
        dec = (r[self.computed[r] >= self.target[r]] if self.partial else r)[:budget]
        self._dec_need = 0.0
        if dec.size == 0:
            return dec
        new, old = self.kv.bytes_for(self.computed[dec] + 1), self.held[dec]
        need = float((new - old).sum())
        while self.kv.used + need > self.kv.capacity and self.running.size > 1 and self.cfg.preemption != "none":
            victim = int(self.running[-1])
            self._preempt(victim)
            keep = dec != victim
            dec, new, old = dec[keep], new[keep], old[keep]
            need = float((new - old).sum())
        self._dec_need = need
        self._dec_new = new  # the bytes each decode holds after this step
        return dec

    def _preempt(self, i: int) -> None:
        self.prefix.release(i)
        self.kv.used -= self.held[i]
        self.held[i] = 0.0
        self.target[i] = max(int(self.computed[i]), int(self.target[i]))
        self.computed[i] = 0
        self.partial.discard(i)
        self.running = self.running[self.running != i]
        self.waiting.appendleft(i)
        self.preemptions += 1

    def _fits(self, i: int, upto: int, extra: float) -> bool:
        cfg, kv = self.cfg, self.kv
        if cfg.admission == "guaranteed":
            upto = int(self.inp[i] + self.out[i])
        need = self.kv.bytes_for_one(upto) - self.held[i]
        reserve = 0.0
        if cfg.admission == "reserve_ratio" and self.held[i] == 0:
            r = self.running
            left = np.minimum(self.out[r] - self.generated[r], RESERVE_CAP).sum() + min(self.out[i], RESERVE_CAP)
            reserve = self._ratio() * float(left) * (kv.g + sum(b for _, b in kv.windowed))
        if cfg.admission == "blocks" and self.held[i] == 0:
            reserve = WATERMARK * kv.capacity
        return kv.used + extra + need + reserve <= kv.capacity

    def _ratio(self) -> float:
        init, low = 0.7, self.cfg.new_token_ratio or 0.098
        return max(low, init - (init - low) * self.step_index / 600)

    def _prefills(self, budget: int) -> list[tuple[int, int]]:
        cfg, chunks, extra = self.cfg, [], self._dec_need
        for i in (self.running[self.computed[self.running] < self.target[self.running]] if self.partial else ()):
            if budget <= 0:
                return chunks
            c = int(min(self.target[i] - self.computed[i], budget))
            if not self._fits(int(i), int(self.computed[i]) + c, extra):
                return chunks
            self.prefix.scheduled(int(i), int(self.computed[i]), c)
            extra += self.kv.bytes_for_one(self.computed[i] + c) - self.held[i]
            chunks.append((int(i), c))
            budget -= c
        while self.waiting and budget > 0 and self.running.size < cfg.max_num_seqs:
            i = self.waiting[0]
            start = int(self.computed[i]) if self.target[i] > self.inp[i] else max(int(self.computed[i]), int(self.cached[i]))
            if self.resumed[i] and self.target[i] == self.inp[i]:
                start = int(self.inp[i])  # KV arrived from a prefill instance
            start = self.prefix.start(start)
            left = int(self.target[i]) - start
            c = min(left, budget) if cfg.chunked_prefill else left
            if c > budget or not self._fits(i, start + max(c, 1), extra - self.prefix.saving(i, start)):
                break
            self.waiting.popleft()
            self.prefix.scheduled(i, start, c)
            self.computed[i] = start
            self.running = np.append(self.running, i)
            if c == 0:  # nothing to compute: joins the decodes from the next step
                self._hold(i, start)
                self._joined = True
                continue
            extra += self.kv.bytes_for_one(start + c) - self.held[i]
            self.partial.add(i)
            chunks.append((i, c))
            budget -= c
        return chunks

    def _hold(self, i: int, tokens: int) -> None:
        cfg = self.cfg
        upto = int(self.inp[i] + self.out[i]) if cfg.admission == "guaranteed" else tokens
        b = self.kv.bytes_for_one(upto)
        self.kv.used += b - self.held[i]
        self.held[i] = b

    # ----------------------------------------------------------------- pricing and advancing
    def _price(self, dec: np.ndarray, chunks: list[tuple[int, int]]) -> tuple[float, float, int, int]:
        """(GPU seconds, host seconds, tokens, logit rows) of a step."""
        p, cfg = self.pred, self.cfg
        keys = p.decode_keys(self.computed[dec] + 1) if dec.size else {}
        tokens, pairs, prior, rows = 0, {}, {}, int(dec.size)
        for i, c in chunks:
            pr, pk = p.chunk_work(int(self.computed[i]), c)
            for w in pr:
                pairs[w] = pairs.get(w, 0.0) + pr[w]
                prior[w] = prior.get(w, 0.0) + pk[w]
            tokens += c
            rows += int(self.computed[i] + c >= self.target[i])
        T = int(dec.size) + tokens
        eager = T > cfg.graph_max if cfg.graph_mode == "tokens" else (tokens > 0 or dec.size > cfg.graph_max)
        t = p.step_time(int(dec.size), keys, tokens, pairs, prior, rows, eager)
        if self.record:
            self.rec_dt.append(t)
            self.rec_n.append(dec.size + len(chunks))
        return t, self.ov.step_s + self.ov.per_seq_s * (dec.size + len(chunks)), T, rows

    def _advance(self, dec: np.ndarray, chunks: list[tuple[int, int]], t: float) -> None:
        self.step_index += 1
        ended = []
        if dec.size:
            self.computed[dec] += 1
            gen = self.generated[dec] + 1
            self.generated[dec] = gen
            if self.cfg.admission != "guaranteed":
                self.kv.used += self._dec_need
                self.held[dec] = self._dec_new
            self.itl_values.append(t - self.last[dec])
            self.itl_weights.append(1.0)
            self.last[dec] = t
            if (gen >= self.out[dec]).any():
                ended.extend(dec[gen >= self.out[dec]].tolist())
        prefill_tokens = 0
        for i, c in chunks:
            self.computed[i] += c
            prefill_tokens += c
            self._hold(i, int(self.computed[i]))
            if self.computed[i] >= self.target[i]:
                self.partial.discard(i)
            if self.computed[i] >= self.target[i] and self.generated[i] == 0:
                self.generated[i] = 1
                self.first[i] = self.last[i] = t
                self.first_step[i] = self.step_index
                if self.out[i] <= 1:
                    ended.append(i)
        for i in ended:
            self._finish(i, t)
        self.steps.append((t, int(dec.size), prefill_tokens, int(self.running.size), len(self.waiting),
                           self.kv.used / self.kv.capacity if self.kv.capacity else 0.0, 1))

    def _finish(self, i: int, t: float) -> None:
        self.finish[i] = t
        self.finish_step[i] = self.step_index
        self.prefix.release(i)
        self.kv.used -= self.held[i]
        self.held[i] = 0.0
        self.running = self.running[self.running != i]
        self.done += 1
        self.outstanding -= 1
        self.last_free = t


class _TooLarge(Exception):
    def __init__(self, request: int, replica=None):
        super().__init__(request)
        self.request, self.replica = request, replica


TooLarge = _TooLarge
