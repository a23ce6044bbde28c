"""Engine profiles: each engine's documented scheduling defaults (data/engines.toml, every value
with the engine version and source line it was read from), resolved for one GPU and split, and the
KV-cache capacity each engine's own sizing rule leaves.

The registry is the TOML file: an engine is one table there, and `ENGINES` lists them. Any
keyword the caller sets (max_num_batched_tokens, max_num_seqs, block_size, gpu_memory_utilization)
overrides the profile.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..catalog.factors import factor
from ..errors import RooflineError
from ..estimates.memory import activation_bytes, weight_split

GIB = 2**30
ENGINES = ("vllm", "sglang", "trtllm")
ALIASES = {"tensorrt-llm": "trtllm", "trt-llm": "trtllm", "trt": "trtllm", "sgl": "sglang"}


@lru_cache(maxsize=1)
def engine_table() -> dict:
    return tomllib.loads((resources.files("roofline") / "data" / "engines.toml").read_text())


@dataclass(frozen=True)
class EngineConfig:
    """One engine's scheduler as the simulator runs it."""

    engine: str
    label: str  # name and version the defaults come from
    step_composition: str  # "mixed" (decodes + prefill chunks share a step) or "prefill_first"
    chunked_prefill: bool
    preemption: str  # "recompute" or "none"
    admission: str  # "blocks", "reserve_ratio" or "guaranteed"
    max_num_batched_tokens: int
    max_num_seqs: int
    block_size: int
    memory_fraction: float
    memory_rule: str  # "card" (vLLM), "static" (SGLang), "free" (TensorRT-LLM)
    graph_mode: str  # "tokens" (steps up to graph_max tokens) or "decode" (decode-only batches up to graph_max)
    graph_max: int
    new_token_ratio: float = 0.0  # SGLang's admission reserve per remaining output token
    sources: dict = field(default_factory=dict)
    overridden: tuple = ()

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in (
            "engine", "label", "step_composition", "chunked_prefill", "preemption", "admission",
            "max_num_batched_tokens", "max_num_seqs", "block_size", "memory_fraction", "memory_rule",
            "graph_mode", "graph_max")} | {"overridden": list(self.overridden), "sources": self.sources}


def resolve_engine(name: str) -> str:
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in ENGINES:
        raise RooflineError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    return key


def _gib(gpu) -> float:
    return gpu.memory_bytes / GIB


def _vllm(t: dict, s) -> dict:
    small = _gib(s.gpu) < t["max_num_batched_tokens"]["large_gpu_min_gib"] or any(
        n in s.gpu.name for n in t["max_num_batched_tokens"]["small_gpu_names"])
    tokens = t["max_num_batched_tokens"]["small_gpu" if small else "default"]
    seqs = min(t["max_num_seqs"]["small_gpu" if small else "default"], tokens)
    block = t["block_size"]["mla" if s.model.attention.mla else "default"]
    graph = min(2 * seqs, t["cuda_graph"]["max_size"])
    return dict(max_num_batched_tokens=tokens, max_num_seqs=seqs, block_size=block,
                memory_fraction=t["gpu_memory_utilization"]["default"], memory_rule="card", graph_max=graph)


def _sglang(t: dict, s) -> dict:
    gib, b = _gib(s.gpu), t["max_num_batched_tokens"]
    tokens = b["small_gpu"] if gib < 35 else b["mid_gpu"] if gib < 60 else b["default"] if gib < 160 else b["large_gpu"]
    g = t["cuda_graph"]
    graph = g["max_size_tp4"] if s.par.tp >= 4 or gib >= 160 else g["max_size"]
    r = t["gpu_memory_utilization"]
    reserved = (r["reserved_base_mib"] + r["reserved_per_chunk_token_mib"] * max(tokens, 2048)
                + r["reserved_per_graph_batch_mib"] * graph + r["reserved_per_gpu_mib"] * s.par.tp * s.par.pp) * 2**20
    if gib > 60:
        reserved = max(reserved, r["reserved_floor_gib"] * GIB)
    fraction = round((s.gpu.memory_bytes - reserved) / s.gpu.memory_bytes, 3)
    block = t["block_size"]["mla" if s.model.attention.mla else "default"]
    return dict(max_num_batched_tokens=tokens, max_num_seqs=t["max_num_seqs"]["default"], block_size=block,
                memory_fraction=fraction, memory_rule="static", graph_max=graph,
                new_token_ratio=t["new_token_ratio"]["min"])


def _trtllm(t: dict, s) -> dict:
    return dict(max_num_batched_tokens=t["max_num_batched_tokens"]["default"], max_num_seqs=t["max_num_seqs"]["default"],
                block_size=t["block_size"]["default"], memory_fraction=t["gpu_memory_utilization"]["default"],
                memory_rule="free", graph_max=t["cuda_graph"]["max_size"])


_PROFILES = {"vllm": _vllm, "sglang": _sglang, "trtllm": _trtllm}


def engine_config(name: str, s, *, max_num_batched_tokens=None, max_num_seqs=None, block_size=None,
                  gpu_memory_utilization=None) -> EngineConfig:
    """The engine's defaults for this GPU and split, then the caller's overrides."""
    key = resolve_engine(name)
    t = engine_table()[key]
    values = _PROFILES[key](t, s)
    given = {"max_num_batched_tokens": max_num_batched_tokens, "max_num_seqs": max_num_seqs,
             "block_size": block_size, "memory_fraction": gpu_memory_utilization}
    overridden = []
    for k, v in given.items():
        if v is None:
            continue
        if k == "memory_fraction":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                raise RooflineError(f"--gpu-memory-utilization must be in (0, 1], got {v!r}")
            values[k] = float(v)
        else:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1 or v > 10_000_000:
                raise RooflineError(f"--{k.replace('_', '-')} must be a whole number from 1 to 10,000,000, got {v!r}")
            values[k] = int(v)
        overridden.append(k)
    sources = {k: t[k]["source"] for k in ("max_num_batched_tokens", "max_num_seqs", "block_size",
                                           "gpu_memory_utilization", "cuda_graph") if k in t}
    return EngineConfig(engine=key, label=f"{t['name']} {t['version']}", step_composition=t["step_composition"],
                        chunked_prefill=bool(t["chunked_prefill"]), preemption=t["preemption"],
                        admission=t["admission"], graph_mode=t["cuda_graph"]["mode"], sources=sources,
                        overridden=tuple(overridden), **values)


def kv_capacity_bytes(s, cfg: EngineConfig) -> tuple[float, str]:
    """KV-cache bytes per GPU the engine's sizing rule leaves, and the working.

    vLLM: card × utilization − weights − activation peak of a max_num_batched_tokens forward −
    runtime overhead. SGLang: card × mem_fraction_static − weights. TensorRT-LLM: (card − weights −
    activations − overhead) × free_gpu_memory_fraction."""
    card = s.gpu.memory_bytes
    weights = weight_split(s.model, s.par).bytes(s.prec)
    act = float(activation_bytes(s.model, s.prec, s.par, 1, cfg.max_num_batched_tokens))
    overhead = factor("runtime_overhead_bytes").value
    f = cfg.memory_fraction
    if cfg.memory_rule == "card":
        kv = card * f - weights - act - overhead
        how = f"card {card / 1e9:.1f} GB × {f:g} − weights {weights / 1e9:.1f} GB − activations {act / 1e9:.2f} GB − overhead {overhead / 1e9:.1f} GB"
    elif cfg.memory_rule == "static":
        kv = card * f - weights
        how = f"card {card / 1e9:.1f} GB × mem_fraction_static {f:g} − weights {weights / 1e9:.1f} GB"
    else:
        kv = (card - weights - act - overhead) * f
        how = (f"(card {card / 1e9:.1f} GB − weights {weights / 1e9:.1f} GB − activations {act / 1e9:.2f} GB − "
               f"overhead {overhead / 1e9:.1f} GB) × free fraction {f:g}")
    return max(kv, 0.0), how
