"""A transformer's shapes, normalized from whatever its config.json calls them.

Parsing of Hugging Face configs lives in `hf_config.py`; this module holds the typed result.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, PrivateAttr, model_validator

from .quantization import Quantization

WindowKind = Literal["global", "sliding", "chunked"]


class MLA(BaseModel):
    """Multi-head latent attention (DeepSeek-V2/V3): the cache holds one compressed latent per token."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    q_lora_rank: PositiveInt | None  # None: queries projected directly from the hidden state
    kv_lora_rank: PositiveInt
    qk_rope_head_dim: PositiveInt
    qk_nope_head_dim: PositiveInt


class Attention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    num_heads: PositiveInt
    num_kv_heads: PositiveInt
    head_dim: PositiveInt  # query/key width per head
    v_head_dim: PositiveInt
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: bool = False  # per-head RMSNorm weights on q and k (Qwen3)
    sinks: bool = False  # one learned logit per head (gpt-oss)
    mla: MLA | None = None

    @model_validator(mode="after")
    def _groups(self) -> "Attention":
        if self.mla is None and self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_heads}) is not a multiple of num_key_value_heads ({self.num_kv_heads})"
            )
        return self


class MLP(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    intermediate_size: PositiveInt
    gated: bool = True  # SwiGLU/GeGLU: gate, up and down matrices; else up and down
    bias: bool = False


class MoE(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    num_experts: PositiveInt
    experts_per_token: PositiveInt
    expert_intermediate_size: PositiveInt
    shared_intermediate_size: NonNegativeInt = 0  # all shared experts together (0: none)
    shared_gate: bool = False  # a d×1 sigmoid gate on the shared expert (Qwen2-MoE)
    router_bias: bool = False
    expert_bias: bool = False
    score_bias: bool = False  # per-expert routing bias without a matmul (DeepSeek-V3 noaux_tc)

    @model_validator(mode="after")
    def _k(self) -> "MoE":
        if self.experts_per_token > self.num_experts:
            raise ValueError(f"experts_per_token ({self.experts_per_token}) exceeds num_experts ({self.num_experts})")
        return self


class Layer(BaseModel):
    """What varies between layers: attention span and whether the MLP is mixture-of-experts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    window_kind: WindowKind = "global"
    window: PositiveInt | None = None  # tokens attended (sliding) or chunk length (chunked)
    moe: bool = False


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    architecture: str
    model_type: str
    source: str = ""
    hidden_size: PositiveInt
    num_layers: PositiveInt
    vocab_size: PositiveInt
    max_position_embeddings: PositiveInt | None = None
    tie_word_embeddings: bool = False
    learned_positions: NonNegativeInt = 0  # rows of a learned position table (GPT-2, OPT); 0 for rotary
    lm_head_bias: bool = False
    norm: Literal["rms", "layer"] = "rms"
    norms_per_layer: PositiveInt = 2
    parallel_attention: bool = False
    attention: Attention
    mlp: MLP
    moe: MoE | None = None
    layers: list[Layer]
    quantization: Quantization | None = None  # the format the checkpoint ships in (config.json quantization_config)
    notes: list[str] = Field(default_factory=list)
    _groups: list[tuple[Layer, int]] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _layers(self) -> "ModelSpec":
        if len(self.layers) != self.num_layers:
            raise ValueError(f"{len(self.layers)} layer entries for {self.num_layers} layers")
        if any(layer.moe for layer in self.layers) and self.moe is None:
            raise ValueError("MoE layers without an MoE block")
        self._groups = list(Counter(self.layers).items())
        return self

    @property
    def is_moe(self) -> bool:
        return self.moe is not None and any(layer.moe for layer in self.layers)

    def layer_groups(self) -> list[tuple[Layer, int]]:
        """Identical layers grouped, so costs are computed once per kind and multiplied."""
        return self._groups

    @property
    def kv_kind(self) -> str:
        a = self.attention
        if a.mla:
            return "MLA"
        if a.num_kv_heads == 1:
            return "MQA"
        return "GQA" if a.num_kv_heads < a.num_heads else "MHA"
