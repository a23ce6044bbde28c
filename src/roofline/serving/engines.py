"""Engine profiles: each engine's documented scheduling defaults (data/engines.toml, every value
with the engine version and source line it was read from), resolved for one GPU and split, and the
KV-cache capacity each engine's own sizing rule leaves.

The registry is the TOML file (read by catalog/engines.py): an engine is one table there, and
`ENGINES` lists those whose scheduler is simulated. Any
keyword the caller sets (max_num_batched_tokens, max_num_seqs, block_size, gpu_memory_utilization)
overrides the profile.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Mapping

from ..catalog.engines import default_for, engine_defaults, engine_names
from ..errors import RooflineError
from ..estimates.kv_capacity import kv_capacity

GIB, MIB = 2**30, 2**20
ENGINES = ("vllm", "sglang", "tensorrt-llm")  # engines whose scheduler is simulated (llama-cpp is not yet)
LABELS = {"vllm": "vLLM", "sglang": "SGLang", "tensorrt-llm": "TensorRT-LLM"}


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
    memory_rule: str  # the engine's KV sizing rule: "vllm", "sglang" or "tensorrt-llm"
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


def resolve_engine(name) -> tuple[str, Mapping]:
    table = engine_defaults(name)
    key = next(k for k in engine_names() if engine_defaults(k) is table)
    if key not in ENGINES:
        raise RooflineError(f"the {key} scheduler is not simulated yet; choose one of vllm, sglang, trtllm")
    return key, table


def _vllm(t: Mapping, s) -> dict:
    mem, name = s.gpu.memory_bytes, s.gpu.name
    tokens = default_for(t, "max_num_batched_tokens", mem, name)
    seqs = min(default_for(t, "max_num_seqs", mem, name), tokens)  # capped at the token budget since 0.10
    return dict(max_num_batched_tokens=tokens, max_num_seqs=seqs,
                block_size=t["block_size_mla"] if s.model.attention.mla else t["block_size"],
                memory_fraction=t["gpu_memory_utilization"], memory_rule="vllm",
                graph_max=min(2 * seqs, t["cuda_graph_max_tokens"]))


def _sglang(t: Mapping, s) -> dict:
    mem, name = s.gpu.memory_bytes, s.gpu.name
    huge = "huge_gpu_min_gib" in t and mem >= t["huge_gpu_min_gib"] * GIB  # the 160 GiB branch, where the table has it
    tokens = t["chunked_prefill_size_huge_gpu"] if huge else default_for(t, "chunked_prefill_size", mem, name)
    graph = t.get("cuda_graph_max_bs_tp4", t["cuda_graph_max_bs"]) if s.par.tp >= 4 or huge else t["cuda_graph_max_bs"]
    reserved = (t["reserved_base_mib"] + t["reserved_per_chunk_token_mib"] * max(tokens, 2048)
                + t["reserved_per_graph_batch_mib"] * graph + t["reserved_per_gpu_of_group_mib"] * s.par.tp * s.par.pp) * MIB
    if mem > 60 * GIB:
        reserved = max(reserved, t["reserved_floor_gib"] * GIB)
    return dict(max_num_batched_tokens=tokens, max_num_seqs=t["max_running_requests_max"],
                block_size=t["block_size_mla"] if s.model.attention.mla and "block_size_mla" in t else t["page_size"],
                memory_fraction=round((mem - reserved) / mem, 3), memory_rule="sglang", graph_max=graph,
                new_token_ratio=t["new_token_ratio_min"])


def _trtllm(t: Mapping, s) -> dict:
    return dict(max_num_batched_tokens=t["max_num_tokens"], max_num_seqs=t["max_batch_size"],
                block_size=t["tokens_per_block"], memory_fraction=t["free_gpu_memory_fraction"],
                memory_rule="tensorrt-llm", graph_max=t["cuda_graph_max_bs"])


_PROFILES = {"vllm": _vllm, "sglang": _sglang, "tensorrt-llm": _trtllm}


def _override(key: str, value):
    if key == "memory_fraction":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise RooflineError(f"--gpu-memory-utilization must be in (0, 1], got {value!r}")
        return float(value)
    if key == "chunked_prefill":
        if not isinstance(value, bool):
            raise RooflineError(f"--enable-chunked-prefill takes true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value > 10_000_000:
        flag = {"graph_max": "cuda-graph-max-bs"}.get(key, key.replace("_", "-"))
        raise RooflineError(f"--{flag} must be a whole number from 1 to 10,000,000, got {value!r}")
    return int(value)


def engine_config(name: str, s, *, max_num_batched_tokens=None, max_num_seqs=None, block_size=None,
                  gpu_memory_utilization=None, enable_chunked_prefill=None, cuda_graph_max_bs=None) -> EngineConfig:
    """The engine's defaults for this GPU and split, then the caller's overrides."""
    key, t = resolve_engine(name)
    values = _PROFILES[key](t, s) | {"chunked_prefill": bool(t["enable_chunked_prefill"])}
    given = {"max_num_batched_tokens": max_num_batched_tokens, "max_num_seqs": max_num_seqs, "block_size": block_size,
             "memory_fraction": gpu_memory_utilization, "chunked_prefill": enable_chunked_prefill,
             "graph_max": cuda_graph_max_bs}
    overridden = []
    for k, v in given.items():
        if v is not None:
            values[k] = _override(k, v)
            overridden.append(k)
    return EngineConfig(engine=key, label=f"{LABELS[key]} {t['version']}", step_composition=t["step_composition"],
                        preemption=t["preemption_mode"], admission=t["admission"], graph_mode=t["cuda_graph_mode"],
                        sources=dict(t["sources"]), overridden=tuple(overridden), **values)


# the simulator's knobs under each engine's own setting names (data/engines.toml)
SETTING_NAMES = {
    "vllm": {"max_num_batched_tokens": "max_num_batched_tokens", "max_num_seqs": "max_num_seqs",
             "memory_fraction": "gpu_memory_utilization", "block_size": "block_size"},
    "sglang": {"max_num_batched_tokens": "chunked_prefill_size", "memory_fraction": "mem_fraction_static",
               "graph_max": "cuda_graph_max_bs", "block_size": "page_size"},
    "tensorrt-llm": {"max_num_batched_tokens": "max_num_tokens", "max_num_seqs": "max_batch_size",
                     "memory_fraction": "free_gpu_memory_fraction", "block_size": "tokens_per_block"},
}


def engine_kv(s, cfg: EngineConfig):
    """The engine's KV sizing (estimates/kv_capacity.py, the same rule the static estimate's engine
    view uses) under this configuration's overrides."""
    names = SETTING_NAMES[cfg.engine]
    overrides = {names[k]: getattr(cfg, k) for k in cfg.overridden if k in names}
    return kv_capacity(s.model, s.prec, s.par, s.gpu, 1, 1, engine=cfg.engine, overrides=overrides)


def kv_capacity_bytes(s, cfg: EngineConfig) -> tuple[float, str]:
    """KV-cache bytes per GPU the engine's sizing rule leaves, and the working in one line."""
    kv = engine_kv(s, cfg)
    subtracted = " + ".join(f"{i.name} {i.bytes / 1e9:.2f} GB" for i in kv.items if i.in_budget and i.bytes)
    how = (f"{kv.formula}: capacity {kv.capacity_bytes / 1e9:.1f} GB, fraction {kv.memory_fraction:g}, "
           f"weights {kv.weights_bytes / 1e9:.1f} GB" + (f", subtracted {subtracted}" if subtracted else ""))
    return max(kv.kv_capacity_bytes, 0.0), how


@lru_cache(maxsize=1)
def overhead_table() -> dict:
    return tomllib.loads((resources.files("roofline") / "data" / "serving_overheads.toml").read_text())


def overheads_for(engine: str, frontend: str | None = None):
    """The engine's fitted host-side times (data/serving_overheads.toml) with the request time of
    its front end: the engine's own HTTP server by default, or another one measured for it (e.g.
    `triton` for TensorRT-LLM); (Overheads, the data row with its basis and what it was fitted on)."""
    from .scheduler import Overheads

    row = dict(overhead_table()[engine])
    others = row.pop("frontends", {})
    if frontend not in (None, row.get("frontend")):
        if frontend not in others:
            known = ", ".join([row.get("frontend", "its own"), *sorted(others)])
            raise RooflineError(f"no request time is known for {LABELS[engine]} behind {frontend!r}: one of {known}")
        f = others[frontend]
        row |= {"frontend": frontend, "request_s": f["request_s"],
                "request_s_basis": f"{f['basis']}: {f.get('fitted_on') or f['source']}"}
    return Overheads(float(row["step_s"]), float(row["per_seq_s"]), float(row["request_s"])), row
