"""KV-cache bytes per token on one GPU: what each token's keys and values (or MLA latent) cost."""

from __future__ import annotations

import math

from ..specs.model import Layer, ModelSpec
from ..specs.parallel import Parallel, Shard
from ..specs.precision import Precision


def kv_bytes_per_token(m: ModelSpec, p: Precision, par: Parallel, layer: Layer | None = None) -> float:
    """KV bytes one token adds on one layer of this GPU (all layers of the stage if layer is None)."""
    a = m.attention
    s = Shard.of(m, par)
    if a.mla:  # one latent plus one shared rope key, replicated on every tensor-parallel rank
        per_layer = (a.mla.kv_lora_rank + a.mla.qk_rope_head_dim) * p.kv_cache.bytes
    else:
        per_layer = s.kv_heads * (a.head_dim + a.v_head_dim) * p.kv_cache.bytes
    if layer is not None:
        return per_layer
    return per_layer * math.ceil(m.num_layers / par.pp)
