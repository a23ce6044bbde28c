"""Memory per GPU: weights, KV cache, peak prefill activations and runtime overhead, against capacity.

All quantities are per GPU under the parallel split (what must fit in one GPU's memory) and
vectorize over batch and lengths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cost.context import kv_tokens_held
from ..cost.kv import kv_bytes_per_token  # noqa: F401  (re-exported)
from ..cost.params import layer_params
from ..explain import Trace
from ..specs.model import Layer, ModelSpec
from ..specs.parallel import Parallel, Shard
from ..specs.precision import Precision
from ..units import fmt_bytes, fmt_num
from ..cost.ops import Num


@dataclass(frozen=True)
class WeightSplit:
    quantized: float  # linear-layer weight elements on this GPU
    unquantized: float  # embeddings, lm_head, norms, router: kept in the model dtype
    # linear elements by module class (attention, mlp, experts, shared_experts), summing to `quantized`
    by_module: tuple[tuple[str, float], ...] = ()

    def bytes(self, p: Precision) -> float:
        if not p.module_weights or not self.by_module:
            return self.quantized * p.weight.bytes + self.unquantized * p.model.bytes
        return sum(n * p.weight_for(m).bytes for m, n in self.by_module) + self.unquantized * p.model.bytes


def _add(a: tuple[tuple[str, float], ...], b: tuple[tuple[str, float], ...], scale: float = 1.0) -> tuple[tuple[str, float], ...]:
    out = dict(a)
    for m, n in b:
        out[m] = out.get(m, 0.0) + scale * n
    return tuple(out.items())


def _layer_weights(m: ModelSpec, layer: Layer, s: Shard, par: Parallel) -> WeightSplit:
    a, d, tp = m.attention, m.hidden_size, par.tp
    lp = layer_params(m, layer)
    norms = lp.norms + (2 * a.head_dim if a.qk_norm else 0) + (a.num_heads / tp if a.sinks else 0)
    if a.mla:
        r = a.mla
        lat = r.kv_lora_rank + r.qk_rope_head_dim
        qk = r.qk_nope_head_dim + r.qk_rope_head_dim
        replicated = d * lat + (d * r.q_lora_rank if r.q_lora_rank else 0)  # q_a, kv_a are not split
        split = (r.q_lora_rank or d) * a.num_heads * qk + r.kv_lora_rank * a.num_heads * (r.qk_nope_head_dim + a.v_head_dim) + a.num_heads * a.v_head_dim * d
        attn = replicated + split / tp
        norms += r.kv_lora_rank + (r.q_lora_rank or 0)
    else:
        q_o = d * a.num_heads * (a.head_dim + a.v_head_dim) / tp
        kv = d * s.kv_heads * (a.head_dim + a.v_head_dim)
        attn = q_o + kv
    mats = 3 if m.mlp.gated else 2
    if layer.moe and m.moe:
        parts = (("attention", attn), ("experts", s.experts * mats * d * s.expert_width),
                 ("shared_experts", mats * d * s.shared_width))
        router = lp.router
    else:
        parts = (("attention", attn), ("mlp", mats * d * s.mlp))
        router = 0
    return WeightSplit(sum(n for _, n in parts), norms + router, parts)


def weight_split(m: ModelSpec, par: Parallel) -> WeightSplit:
    """Weights on the most loaded GPU: its share of one pipeline stage plus embedding or lm_head."""
    s = Shard.of(m, par)
    q = u = 0.0
    parts: tuple[tuple[str, float], ...] = ()
    for layer, count in m.layer_groups():
        ws = _layer_weights(m, layer, s, par)
        q += count * ws.quantized
        u += count * ws.unquantized
        parts = _add(parts, ws.by_module, count)
    per_stage = math.ceil(m.num_layers / par.pp) / m.num_layers
    emb = (m.vocab_size + m.learned_positions) * m.hidden_size / par.tp
    head = 0.0 if m.tie_word_embeddings else m.vocab_size * m.hidden_size / par.tp
    ends = emb + head if par.pp == 1 else max(emb, head)
    return WeightSplit(q * per_stage, u * per_stage + ends + m.hidden_size, _add((), parts, per_stage))


def kv_cache_bytes(m: ModelSpec, p: Precision, par: Parallel, batch: Num, tokens: Num) -> Num:
    """KV cache on this GPU for `batch` sequences of `tokens` tokens each, windows respected."""
    per_layer = kv_bytes_per_token(m, p, par, m.layers[0])
    held = 0.0
    for layer, count in m.layer_groups():
        held = held + count * kv_tokens_held(tokens, layer)
    share = math.ceil(m.num_layers / par.pp) / m.num_layers
    return np.asarray(batch, dtype=float) * held * per_layer * share


def activation_bytes(m: ModelSpec, p: Precision, par: Parallel, batch: Num, input_len: Num) -> Num:
    """Peak transient activations of a prefill of batch × input_len tokens: the residual stream and
    hidden state, the widest intermediate (QKV+attention output, or the MLP's gate/up/act), and the
    fp32 logits of the last positions."""
    s = Shard.of(m, par)
    a, d = m.attention, m.hidden_size
    T = np.asarray(batch, dtype=float) * np.asarray(input_len, dtype=float)
    attn_w = s.heads * (a.head_dim + a.v_head_dim) + s.kv_heads * (a.head_dim + a.v_head_dim)
    mlp_w = (3 if m.mlp.gated else 2) * s.mlp
    if m.moe:
        mlp_w = max(mlp_w if not all(l.moe for l in m.layers) else 0,
                    m.moe.experts_per_token * (3 if m.mlp.gated else 2) * s.expert_width)
    widest = max(attn_w, mlp_w)
    return T * (2 * d + widest) * p.model.bytes + np.asarray(batch, dtype=float) * s.vocab * 4.0


@dataclass(frozen=True)
class Memory:
    weights_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    overhead_bytes: float
    capacity_bytes: float
    kv_bytes_per_token: float  # on this GPU, all its layers, at full context

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.overhead_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.capacity_bytes

    @property
    def shortfall_bytes(self) -> float:
        return max(0.0, self.total_bytes - self.capacity_bytes)

    @property
    def headroom_bytes(self) -> float:
        return max(0.0, self.capacity_bytes - self.total_bytes)

    def to_dict(self) -> dict:
        return {
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "activation_bytes": self.activation_bytes,
            "overhead_bytes": self.overhead_bytes,
            "total_bytes": self.total_bytes,
            "capacity_bytes": self.capacity_bytes,
            "fits": self.fits,
            "shortfall_bytes": self.shortfall_bytes,
            "headroom_bytes": self.headroom_bytes,
            "kv_bytes_per_token": self.kv_bytes_per_token,
        }


def memory(m: ModelSpec, p: Precision, par: Parallel, batch: int, input_len: int, output_len: int,
           capacity: float, overhead: float, trace: Trace | None = None) -> Memory:
    ws = weight_split(m, par)
    w = ws.bytes(p)
    kv = float(kv_cache_bytes(m, p, par, batch, input_len + output_len))
    act = float(activation_bytes(m, p, par, batch, input_len))
    per_tok = float(kv_cache_bytes(m, p, par, 1, 1))
    mem = Memory(w, kv, act, overhead, capacity, per_tok)
    if trace is not None:
        trace.begin("memory (per GPU)")
        split = f" (tp={par.tp}, pp={par.pp})" if par.num_gpus > 1 else ""
        if p.module_weights:  # a checkpoint that stores module classes in different formats
            linear = " + ".join(f"{m} {n:,.0f} × {p.weight_for(m).bytes:g} B" for m, n in ws.by_module if n)
            trace.add("weights", "Σ linear weights of each module class × its format + other weights × a",
                      f"{linear} + {ws.unquantized:,.0f} × {p.model.bytes:g} B{split}", fmt_bytes(w))
        else:
            trace.add("weights", "linear weights × w + other weights × a",
                      f"{ws.quantized:,.0f} × {p.weight.bytes:g} B + {ws.unquantized:,.0f} × {p.model.bytes:g} B{split}", fmt_bytes(w))
        a = m.attention
        if a.mla:
            form, sub = "layers × (kv_lora_rank + rope_dim) × kv", f"{math.ceil(m.num_layers / par.pp)} × ({a.mla.kv_lora_rank} + {a.mla.qk_rope_head_dim}) × {p.kv_cache.bytes:g} B"
        else:
            s = Shard.of(m, par)
            form = "layers × kv_heads × (d_k + d_v) × kv"
            sub = f"{math.ceil(m.num_layers / par.pp)} × {fmt_num(s.kv_heads)} × ({a.head_dim} + {a.v_head_dim}) × {p.kv_cache.bytes:g} B"
        trace.add("KV per token", form, sub, f"{kv_bytes_per_token(m, p, par):,.0f} B")
        windowed = any(l.window_kind != "global" for l in m.layers)
        trace.add("KV cache", "batch × (input + output) tokens × KV per token" + (" (windowed layers hold at most their window)" if windowed else ""),
                  f"{batch} × {input_len + output_len} × {kv_bytes_per_token(m, p, par):,.0f} B" if not windowed else f"{batch} sequences × {input_len + output_len} tokens", fmt_bytes(kv))
        trace.add("activations", "T·(2·d + widest intermediate)·a + b·vocab·4 (fp32 logits), T = batch × input",
                  f"{batch * input_len} tokens", fmt_bytes(act))
        trace.add("overhead", "runtime_overhead_bytes (CUDA context, workspaces)", "", fmt_bytes(overhead))
        trace.add("total", "weights + KV + activations + overhead",
                  f"{fmt_bytes(w)} + {fmt_bytes(kv)} + {fmt_bytes(act)} + {fmt_bytes(overhead)}", fmt_bytes(mem.total_bytes))
        verdict = "fits" if mem.fits else f"does NOT fit: short by {fmt_bytes(mem.shortfall_bytes)}"
        trace.add("fits", "total ≤ capacity", f"{fmt_bytes(mem.total_bytes)} ≤ {fmt_bytes(capacity)}", verdict)
    return mem
