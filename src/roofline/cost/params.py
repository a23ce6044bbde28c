"""Parameter counts from shapes, component by component.

Totals are checked against published counts (tests/test_params.py); biases, norms and learned
positions are counted because exact published totals include them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..specs.model import Layer, ModelSpec


@dataclass(frozen=True)
class LayerParams:
    attention: int  # projections, their biases, q/k norms, sinks
    mlp: int  # dense MLP (0 on MoE layers)
    router: int
    experts: int  # all routed experts
    expert: int  # one routed expert
    shared: int  # shared experts (always active)
    norms: int

    @property
    def total(self) -> int:
        return self.attention + self.mlp + self.router + self.experts + self.shared + self.norms

    def active(self, k: int) -> int:
        return self.attention + self.mlp + self.router + k * self.expert + self.shared + self.norms


def attention_params(m: ModelSpec) -> int:
    a, d = m.attention, m.hidden_size
    if a.mla:
        r = a.mla
        qk = r.qk_nope_head_dim + r.qk_rope_head_dim
        q = (d * r.q_lora_rank + r.q_lora_rank + r.q_lora_rank * a.num_heads * qk) if r.q_lora_rank else d * a.num_heads * qk
        kv_a = d * (r.kv_lora_rank + r.qk_rope_head_dim) + r.kv_lora_rank
        kv_b = r.kv_lora_rank * a.num_heads * (r.qk_nope_head_dim + a.v_head_dim)
        o = a.num_heads * a.v_head_dim * d
        return q + kv_a + kv_b + o
    q = d * a.num_heads * a.head_dim
    k = d * a.num_kv_heads * a.head_dim
    v = d * a.num_kv_heads * a.v_head_dim
    o = a.num_heads * a.v_head_dim * d
    bias = (a.num_heads * a.head_dim + a.num_kv_heads * (a.head_dim + a.v_head_dim)) if a.qkv_bias else 0
    bias += d if a.o_bias else 0
    return q + k + v + o + bias + (2 * a.head_dim if a.qk_norm else 0) + (a.num_heads if a.sinks else 0)


def mlp_params(d: int, width: int, gated: bool, bias: bool) -> int:
    mats = (3 if gated else 2) * d * width
    return mats + (((2 if gated else 1) * width + d) if bias else 0)


def layer_params(m: ModelSpec, layer: Layer) -> LayerParams:
    d = m.hidden_size
    norm = d if m.norm == "rms" else 2 * d
    attn = attention_params(m)
    if layer.moe and m.moe:
        e = m.moe
        expert = mlp_params(d, e.expert_intermediate_size, m.mlp.gated, e.expert_bias)
        router = d * e.num_experts + (e.num_experts if e.router_bias or e.score_bias else 0)
        shared = (mlp_params(d, e.shared_intermediate_size, m.mlp.gated, False) if e.shared_intermediate_size else 0) + (
            d if e.shared_gate else 0
        )
        return LayerParams(attn, 0, router, e.num_experts * expert, expert, shared, m.norms_per_layer * norm)
    dense = mlp_params(d, m.mlp.intermediate_size, m.mlp.gated, m.mlp.bias)
    return LayerParams(attn, dense, 0, 0, 0, 0, m.norms_per_layer * norm)


@dataclass(frozen=True)
class ParamCounts:
    embedding: int  # token embedding table (plus learned positions)
    layers: int
    final_norm: int
    lm_head: int  # 0 when tied to the embedding
    active_layers: int  # per-token: attention, dense MLP, router, k routed + shared experts

    @property
    def total(self) -> int:
        return self.embedding + self.layers + self.final_norm + self.lm_head

    @property
    def active(self) -> int:
        """Parameters a token touches, the input embedding table included (Mixtral/Qwen convention)."""
        return self.embedding + self.active_layers + self.final_norm + self.lm_head

    @property
    def active_excluding_embedding(self) -> int:
        """The convention of DeepSeek and gpt-oss: the lookup table is not compute."""
        return self.active - self.embedding


def count_params(m: ModelSpec) -> ParamCounts:
    d = m.hidden_size
    layers = active = 0
    k = m.moe.experts_per_token if m.moe else 0
    for layer, count in m.layer_groups():
        p = layer_params(m, layer)
        layers += count * p.total
        active += count * p.active(k)
    lm_head = 0 if m.tie_word_embeddings else m.vocab_size * d + (m.vocab_size if m.lm_head_bias else 0)
    if m.tie_word_embeddings and m.lm_head_bias:
        lm_head = m.vocab_size
    return ParamCounts(
        embedding=m.vocab_size * d + m.learned_positions * d,
        layers=layers,
        final_norm=d if m.norm == "rms" else 2 * d,
        lm_head=lm_head,
        active_layers=active,
    )
