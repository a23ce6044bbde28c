"""How a model is split over GPUs, and what one GPU holds under that split.

Tensor parallel (tp) splits heads, MLP width and vocabulary; pipeline parallel (pp) splits layers;
data parallel (dp) copies the whole; expert parallel (ep) spreads MoE experts over the tp×dp GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, PositiveInt, model_validator

from ..errors import RooflineError
from .model import ModelSpec


class Parallel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tp: PositiveInt = 1
    pp: PositiveInt = 1
    dp: PositiveInt = 1
    ep: PositiveInt = 1  # 1: experts split by tensor parallelism like any MLP; else tp × dp
    gpus_per_node: PositiveInt | None = None  # None: the GPU's scale-up domain
    inter_node_link: str | None = None  # links.toml key between nodes; None: the GPU's scale_out_link
    # what joins the GPUs of one server (estimates/comm.py INTRA_NODE_LINKS); None: the GPU's default,
    # its NVSwitch fabric where it has one, plain PCIe for PCIe cards
    intra_node_link: Literal["nvswitch", "nvlink-bridge", "pcie-gen4", "pcie-gen5", "pcie-gen4-no-p2p",
                             "pcie-gen5-no-p2p"] | None = None
    # tensor: layers split across GPUs (tp); layer: whole layers per GPU run one after another (llama.cpp's
    # and ExLlamaV2's multi-GPU mode), the pipeline with a single micro-batch: pp GPUs, no tp
    split_mode: Literal["tensor", "layer"] = "tensor"

    @model_validator(mode="after")
    def _sizes(self) -> "Parallel":
        for k in ("tp", "pp", "dp", "ep"):
            if getattr(self, k) > 4096:
                raise ValueError(f"{k}={getattr(self, k)} is beyond any real deployment (max 4096)")
        return self

    @property
    def num_gpus(self) -> int:
        return self.tp * self.pp * self.dp

    def check(self, m: ModelSpec) -> None:
        """Raise for splits the model's shapes cannot take."""
        a = m.attention
        if a.num_heads % self.tp:
            raise RooflineError(
                f"tensor-parallel size {self.tp} does not divide {m.name}'s {a.num_heads} attention heads"
                f" (valid: {', '.join(str(t) for t in valid_tp(m))})"
            )
        if not a.mla and a.num_kv_heads % self.tp and self.tp % a.num_kv_heads:
            raise RooflineError(
                f"tensor-parallel size {self.tp} neither divides nor is a multiple of {m.name}'s {a.num_kv_heads} KV heads"
            )
        if self.split_mode == "layer" and (self.tp > 1 or self.ep > 1):
            raise RooflineError("--split-mode layer puts whole layers on each GPU; it does not combine with "
                                "tensor or expert parallelism (use --split-mode tensor)")
        if self.pp > m.num_layers:
            raise RooflineError(f"pipeline-parallel size {self.pp} exceeds {m.name}'s {m.num_layers} layers")
        if self.ep > 1:
            if not m.is_moe:
                raise RooflineError(f"expert parallelism needs a mixture-of-experts model; {m.name} is dense")
            if self.ep != self.tp * self.dp:  # vLLM's --enable-expert-parallel: EP spans the tp × dp GPUs
                raise RooflineError(f"expert-parallel size {self.ep} must equal tp × dp = {self.tp * self.dp} "
                                    "(vLLM's --enable-expert-parallel spreads experts over all tp × dp GPUs)")
            if m.moe.num_experts % self.ep:
                raise RooflineError(f"expert-parallel size {self.ep} does not divide {m.moe.num_experts} experts")


def valid_tp(m: ModelSpec, limit: int = 64) -> list[int]:
    a = m.attention
    out = []
    for t in range(1, limit + 1):
        if a.num_heads % t:
            continue
        if not a.mla and a.num_kv_heads % t and t % a.num_kv_heads:
            continue
        out.append(t)
    return out


@dataclass(frozen=True)
class Shard:
    """Per-GPU widths under a tensor-parallel split."""

    heads: float
    kv_heads: float  # KV heads are replicated when tp exceeds them
    mlp: float
    vocab: float
    expert_width: float  # each routed expert's MLP width on this GPU
    experts: float  # routed experts held on this GPU
    shared_width: float

    @staticmethod
    def of(m: ModelSpec, p: Parallel) -> "Shard":
        a = m.attention
        kvh = a.num_kv_heads / p.tp if a.num_kv_heads >= p.tp else 1.0
        e = m.moe
        if e and p.ep > 1:  # whole experts per GPU; the remaining tp/ep factor splits each expert
            experts = e.num_experts / p.ep
            width = e.expert_intermediate_size / max(p.tp // p.ep, 1) if p.tp > p.ep else e.expert_intermediate_size
        else:
            experts = e.num_experts if e else 0
            width = e.expert_intermediate_size / p.tp if e else 0
        return Shard(
            heads=a.num_heads / p.tp,
            kv_heads=kvh,
            mlp=m.mlp.intermediate_size / p.tp,
            vocab=m.vocab_size / p.tp,
            expert_width=width,
            experts=experts,
            shared_width=(e.shared_intermediate_size / p.tp) if e else 0,
        )
