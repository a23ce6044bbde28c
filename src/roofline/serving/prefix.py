"""A prompt prefix every request shares, under the engine's prefix cache.

`vllm bench serve --random-prefix-len P` starts every prompt with the same P tokens, before its own
input_len random ones. With automatic prefix caching (on by default in vLLM V1, SGLang's radix cache,
TensorRT-LLM's block reuse: shared/reference/engines.csv) the first request to schedule them
computes them; every request scheduled after it, in the same step or later, finds the prefix's
whole blocks cached and neither recomputes nor stores them again: it starts its prefill at
⌊P / block⌋ × block and its KV cache holds only what follows. The shared blocks stay cached
(counted once) for the rest of the run. Each engine instance (a replica, or a pipeline's virtual
engine) has its own cache and so computes the prefix once itself.

Accounting: a request's `held` bytes count every block of its sequence, the shared ones included;
`credit` is what the shared blocks contributed to that, returned to the cache's use once (when the
prefix is computed, its blocks then belonging to the cache rather than to that request).
"""

from __future__ import annotations

import numpy as np


class SharedPrefix:
    def __init__(self, prefix_len: int, kv, n: int):
        self.tokens = int(prefix_len) // kv.block * kv.block  # whole blocks are shared
        self.bytes = kv.bytes_for_one(self.tokens) if self.tokens else 0.0
        self.kv, self.ready = kv, False
        self.credit = np.zeros(n)

    def start(self, start: int) -> int:
        """Where a request's prefill starts, the cached prefix skipped."""
        return max(start, self.tokens) if self.ready else start

    def saving(self, i: int, start: int) -> float:
        """Bytes request i would not add to the cache if scheduled from `start`."""
        return self.bytes if self.ready and self.tokens and start >= self.tokens and not self.credit[i] else 0.0

    def scheduled(self, i: int, start: int, tokens: int) -> None:
        """Request i was scheduled to compute `tokens` from `start`."""
        if not self.tokens or self.credit[i]:
            return
        if self.ready and start >= self.tokens:
            self.credit[i] = self.bytes
            self.kv.used -= self.bytes
        elif not self.ready and start + tokens >= self.tokens:
            # the first to compute the prefix: its blocks become the cache's (charged once, as the
            # request's own hold until now), so the request is credited and the cache charged alike
            self.ready = True
            self.credit[i] = self.bytes

    def release(self, i: int) -> None:
        """Request i finished or was preempted: its held bytes leave the cache, its credit returns."""
        self.kv.used += self.credit[i]
        self.credit[i] = 0.0
