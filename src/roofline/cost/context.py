"""How many earlier tokens each position attends to, for global, sliding-window and chunked layers.

S(L) = Σ_{p=1..L} attended(p) is the causal-attention work of a prefill of L tokens (in units of
one query × one key); decode at position p attends attended(p) = S(p) − S(p−1) keys. Global
layers give S(L) = L(L+1)/2: causal prefill does half the score FLOPs of a full square.
"""

from __future__ import annotations

import numpy as np

from ..specs.model import Layer
from .ops import Num


def attended_sum(length: Num, layer: Layer) -> Num:
    """S(L): total (query, key) pairs of a causal prefill of `length` tokens."""
    L = np.asarray(length, dtype=float)
    full = L * (L + 1) / 2
    if layer.window_kind == "global" or not layer.window:
        return full
    w = float(layer.window)
    if layer.window_kind == "sliding":  # position p sees min(p, W) keys
        return np.where(L <= w, full, w * (w + 1) / 2 + (L - w) * w)
    # chunked: position p sees the keys of its own chunk up to itself
    chunks, rest = np.floor_divide(L, w), np.mod(L, w)
    return chunks * w * (w + 1) / 2 + rest * (rest + 1) / 2


def mean_decode_context(input_len: Num, output_len: Num, layer: Layer) -> Num:
    """Mean keys attended per decode step while generating `output_len` tokens after the prompt.

    The first output token comes from the prefill; decode steps process positions L+1 .. L+n−1
    (one step when n = 1, so a step time is defined), hence (S(L+m) − S(L)) / m with m = max(n−1, 1).
    """
    L = np.asarray(input_len, dtype=float)
    m = np.maximum(np.asarray(output_len, dtype=float) - 1, 1)
    return (attended_sum(L + m, layer) - attended_sum(L, layer)) / m


def kv_tokens_held(total_len: Num, layer: Layer) -> Num:
    """Tokens a layer must keep in its KV cache at `total_len`: all for global layers, the window
    (or chunk) otherwise. Chunked layers are charged a full chunk, the worst case."""
    T = np.asarray(total_len, dtype=float)
    if layer.window_kind == "global" or not layer.window:
        return T
    return np.minimum(T, float(layer.window))
