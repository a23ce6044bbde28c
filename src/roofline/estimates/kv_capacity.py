"""KV-cache capacity as a serving engine sizes it, and the concurrency that cache holds.

Engines do not hold activations for a whole batch of prompts at once: they run at most a token
budget per step (vLLM's `max_num_batched_tokens`, SGLang's `chunked_prefill_size`), and size the
KV cache once at start-up from what is left. Each engine has its own rule (data/engines.toml cites
the release it is read from):

  vllm          KV = capacity × gpu_memory_utilization − weights − activation peak of one forward
                pass of the token budget − memory libraries add (communication buffers, workspaces);
                the CUDA context and CUDA-graph pools live in the (1 − utilization) margin
  sglang        KV = (capacity − CUDA context) × mem_fraction_static − weights; activations,
                CUDA graphs and buffers live in the rest, whose size the fraction's rule reserves
  tensorrt-llm  KV = (capacity − weights − activation peak of max_num_tokens − runtime)
                × free_gpu_memory_fraction
  llama-cpp     KV = capacity − 1 GiB margin − weights − compute buffer of n_ubatch tokens − context

The largest concurrency is the number of requests of (input + output) tokens, rounded up to whole
KV blocks, whose cache fits at once. The static-batch view (whole batch prefilled at once, its
activations held together) is `capacity.max_batch` and stays separate.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

from ..catalog.engines import default_for, engine_defaults
from ..errors import RooflineError
from ..specs.hardware import GPU, Factor
from ..specs.model import ModelSpec
from ..specs.parallel import Parallel, Shard
from ..specs.precision import Precision
from ..units import fmt_bytes, fmt_num
from .memory import activation_bytes, kv_bytes_per_token, kv_cache_bytes, weight_split

MiB, GiB = 2**20, 2**30
_RUNTIME = resources.files("roofline") / "data" / "runtime_memory.toml"


@lru_cache(maxsize=1)
def runtime_memory() -> dict[str, Factor]:
    """Named runtime allocations besides weights, KV cache and activations (data/runtime_memory.toml)."""
    items = {k: Factor.model_validate(v) for k, v in tomllib.loads(_RUNTIME.read_text()).items()}
    return items


@dataclass(frozen=True)
class MemoryItem:
    """One allocation besides weights and KV cache; `in_budget`: the engine subtracts it before sizing KV."""

    name: str
    bytes: float | None  # None: not modelled (the engine does not count it either)
    in_budget: bool
    basis: str
    source: str

    def to_dict(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "in_budget": self.in_budget, "basis": self.basis,
                "source": self.source}


@dataclass(frozen=True)
class KVCapacity:
    engine: str
    engine_version: str
    rule_source: str
    settings: Mapping[str, Any]  # the engine settings used (defaults for this GPU, then overrides)
    capacity_bytes: float  # physical memory of one GPU
    memory_fraction: float  # gpu_memory_utilization / mem_fraction_static / free_gpu_memory_fraction
    weights_bytes: float
    items: tuple[MemoryItem, ...]
    kv_capacity_bytes: float  # whole blocks only
    kv_bytes_per_token: float  # this GPU's layers, full context
    kv_capacity_tokens: int
    block_size: int
    tokens_per_request: int
    kv_bytes_per_request: float  # rounded up to whole blocks; windowed layers hold at most their window
    max_concurrency: int  # requests whose KV fits at once, per replica
    replicas: int
    max_num_seqs: int | None  # the engine's own cap on running requests, where it has one
    formula: str = ""  # the engine's rule, in the names of `items`
    notes: tuple[str, ...] = field(default=())

    @property
    def max_concurrency_total(self) -> int:
        return self.max_concurrency * self.replicas

    def to_dict(self) -> dict:
        return {
            "engine": self.engine, "engine_version": self.engine_version, "rule_source": self.rule_source,
            "settings": dict(self.settings), "capacity_bytes": self.capacity_bytes,
            "memory_fraction": self.memory_fraction, "weights_bytes": self.weights_bytes,
            "overheads": [i.to_dict() for i in self.items],
            "kv_capacity_bytes": self.kv_capacity_bytes, "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_capacity_tokens": self.kv_capacity_tokens, "block_size": self.block_size,
            "tokens_per_request": self.tokens_per_request, "kv_bytes_per_request": self.kv_bytes_per_request,
            "max_concurrency": self.max_concurrency_total, "max_concurrency_per_replica": self.max_concurrency,
            "max_num_seqs": self.max_num_seqs, "formula": self.formula, "notes": list(self.notes),
        }


def engine_settings(engine: str, gpu: GPU, par: Parallel, overrides: Mapping[str, Any] | None = None) -> tuple[Mapping, dict]:
    """The engine's table and its settings on this GPU: GPU-dependent defaults resolved, then `overrides`."""
    table = engine_defaults(engine)
    skip = {"version", "source", "sources", "kv_capacity_rule", "large_gpu_min_gib", "huge_gpu_min_gib", "large_gpu_excludes"}
    # numeric defaults only: the scheduling facts beside them (step_composition, ...) are the simulator's
    keys = [k for k in table if k not in skip and not k.endswith(("_small_gpu", "_huge_gpu"))
            and isinstance(table[k], (int, float)) and not isinstance(table[k], bool)]
    settings = {k: default_for(table, k, gpu.memory_bytes, gpu.name) for k in keys}
    huge = gpu.memory_bytes >= table.get("huge_gpu_min_gib", math.inf) * GiB
    if table["kv_capacity_rule"] == "sglang" and (par.tp >= 4 or huge):
        settings["cuda_graph_max_bs"] = table["cuda_graph_max_bs_tp4"]
    settings.pop("cuda_graph_max_bs_tp4", None)
    allowed = set(settings) | ({"mem_fraction_static"} if table["kv_capacity_rule"] == "sglang" else set())
    for key, value in (overrides or {}).items():
        if key not in allowed:
            raise RooflineError(f"{engine} has no setting '{key}' (settings: {', '.join(sorted(allowed))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise RooflineError(f"{engine} setting {key} must be a positive number, got {value!r}")
        if key.endswith(("fraction", "utilization", "fraction_static")) and value > 1:
            raise RooflineError(f"{engine} setting {key} must be in (0, 1], got {value!r}")
        settings[key] = value
    return table, settings


def _activation_peak(m: ModelSpec, p: Precision, par: Parallel, tokens: int, requests: int) -> float:
    """One forward pass of `tokens` tokens with fp32 logits for `requests` rows (the engine's profile run)."""
    requests = max(1, min(requests, tokens))
    return float(activation_bytes(m, p, par, requests, tokens / requests))


def _item(name: str, nbytes: float | None, in_budget: bool, basis: str = "", source: str = "") -> MemoryItem:
    if name in runtime_memory() and nbytes is None:
        f = runtime_memory()[name]
        return MemoryItem(name, f.value, in_budget, f.basis, f.source)
    return MemoryItem(name, nbytes, in_budget, basis, source)


def _runtime_items(par: Parallel, in_budget: bool) -> list[MemoryItem]:
    items = [_item("library_workspaces", None, in_budget)]
    if par.tp * par.pp > 1:
        items.append(_item("communication_buffers", None, in_budget))
    return items


def _budget(rule: str, m: ModelSpec, p: Precision, par: Parallel, s: dict, cap: float,
            weights: float, cite: Mapping) -> tuple[float, float, list[MemoryItem], str]:
    """(memory fraction, bytes left for the KV cache, the named allocations, the rule as a formula)."""
    ctx = runtime_memory()["cuda_context"].value
    if rule == "vllm":
        tokens = int(s["max_num_batched_tokens"])
        act = _item("activation_peak", _activation_peak(m, p, par, tokens, int(s["max_num_seqs"])), True, "computed",
                    f"one forward pass of max_num_batched_tokens = {tokens} tokens, fp32 logits for "
                    f"min(max_num_seqs, tokens) rows (the profile run; {cite.get('kv_capacity_rule', '')})")
        items = [act, *_runtime_items(par, True),
                 _item("cuda_context", None, False),
                 _item("cuda_graph_pools", None, False, "not modelled",
                       "captured after the KV cache is allocated, so not subtracted from it; it must fit in the "
                       "(1 − gpu_memory_utilization) margin with the CUDA context")]
        frac = float(s["gpu_memory_utilization"])
        return (frac, cap * frac - weights - sum(i.bytes for i in items if i.in_budget), items,
                "capacity × gpu_memory_utilization − weights − Σ subtracted")
    if rule == "sglang":
        frac = float(s.get("mem_fraction_static") or _sglang_fraction(s, cap, par))
        tokens = int(s["chunked_prefill_size"])
        act = _item("activation_peak", _activation_peak(m, p, par, tokens, 1), False, "computed",
                    f"one prefill chunk of chunked_prefill_size = {tokens} tokens (logits of one request); "
                    "lives outside the static pool")
        items = [_item("cuda_context", None, True), act, *_runtime_items(par, False),
                 _item("cuda_graph_pools", None, False, "not modelled", "outside the static pool (mem_fraction_static)")]
        return frac, (cap - ctx) * frac - weights, items, "(capacity − cuda_context) × mem_fraction_static − weights"
    if rule == "tensorrt-llm":
        tokens = int(s["max_num_tokens"])
        act = _item("activation_peak", _activation_peak(m, p, par, tokens, 1), True, "computed",
                    f"dummy requests totalling max_num_tokens = {tokens} tokens, logits of one request "
                    f"({cite.get('kv_capacity_rule', '')})")
        items = [act, *_runtime_items(par, True), _item("cuda_context", None, True)]
        frac = float(s["free_gpu_memory_fraction"])
        return (frac, (cap - weights - sum(i.bytes for i in items)) * frac, items,
                "(capacity − weights − Σ subtracted) × free_gpu_memory_fraction")
    if rule == "llama-cpp":
        tokens = int(s["n_ubatch"])
        act = _item("activation_peak", _activation_peak(m, p, par, tokens, 1), True, "computed",
                    f"compute buffer sized for n_ubatch = {tokens} tokens")
        margin = _item("fit_margin", float(s["fit_margin_gib"]) * GiB, True, "engine default",
                       f"fit_params keeps {s['fit_margin_gib']} GiB free per device ({cite.get('fit_margin_gib', '')})")
        items = [act, margin, _item("cuda_context", None, True)]
        return 1.0, cap - weights - sum(i.bytes for i in items), items, "capacity − weights − Σ subtracted"
    raise RooflineError(f"no KV-capacity rule '{rule}'")


def _sglang_fraction(s: dict, cap: float, par: Parallel) -> float:
    """SGLang 0.5.x: (capacity − reserved) / capacity, the reserve built from the other defaults."""
    reserved = (s["reserved_base_mib"] + s["reserved_per_chunk_token_mib"] * max(s["chunked_prefill_size"], 2048)
                + s["reserved_per_graph_batch_mib"] * s["cuda_graph_max_bs"]
                + s["reserved_per_gpu_of_group_mib"] * par.tp * par.pp) * MiB
    if cap > 60 * GiB:
        reserved = max(reserved, s["reserved_floor_gib"] * GiB)
    return round((cap - reserved) / cap, 3)


def kv_capacity(m: ModelSpec, p: Precision, par: Parallel, gpu: GPU, input_len: int, output_len: int,
                engine: str = "vllm", overrides: Mapping[str, Any] | None = None, extra_bytes: float = 0.0) -> KVCapacity:
    """KV capacity of one GPU as `engine` sizes it, and the concurrency it holds for requests of
    input_len + output_len tokens. `extra_bytes`: other resident weights (a speculative drafter)."""
    table, s = engine_settings(engine, gpu, par, overrides)
    rule, cite = table["kv_capacity_rule"], table.get("sources", {})
    cap = float(gpu.memory_bytes)
    weights = weight_split(m, par).bytes(p) + extra_bytes
    frac, free, items, formula = _budget(rule, m, p, par, s, cap, weights, cite)
    block = int(s.get("block_size_mla") if m.attention.mla and "block_size_mla" in s else
                s.get("block_size") or s.get("tokens_per_block") or s.get("page_size") or 1)
    per_token = float(kv_bytes_per_token(m, p, par))
    blocks = max(0, math.floor(free / (block * per_token)))
    tokens = int(input_len) + int(output_len)
    padded = math.ceil(tokens / block) * block
    per_request = float(kv_cache_bytes(m, p, par, 1, padded))
    kv_bytes = blocks * block * per_token
    notes = []
    if free <= 0:
        notes.append(f"{engine}: weights and the memory around them leave no room for a KV cache "
                     f"(short by {fmt_bytes(-free)})")
    if rule == "vllm":
        margin = cap * (1 - frac)
        ctx = runtime_memory()["cuda_context"].value
        if margin < ctx:
            notes.append(f"gpu_memory_utilization {frac:g} leaves {fmt_bytes(margin)} outside the budget, less than the "
                         f"CUDA context ({fmt_bytes(ctx)}) and CUDA graphs need")
    seqs = s.get("max_num_seqs", s.get("max_batch_size", s.get("n_parallel")))
    if rule == "vllm" and seqs is not None:  # vLLM ≥ 0.10 caps max_num_seqs at max_num_batched_tokens
        seqs = min(int(seqs), int(s["max_num_batched_tokens"]))
    return KVCapacity(
        engine=engine, engine_version=table["version"], rule_source=cite.get("kv_capacity_rule", table["source"]),
        settings=s, capacity_bytes=cap, memory_fraction=frac, weights_bytes=weights, items=tuple(items),
        kv_capacity_bytes=kv_bytes, kv_bytes_per_token=per_token, kv_capacity_tokens=blocks * block,
        block_size=block, tokens_per_request=tokens, kv_bytes_per_request=per_request,
        max_concurrency=int(kv_bytes // per_request) if per_request > 0 else 0, replicas=par.dp,
        max_num_seqs=int(seqs) if seqs is not None else None, formula=formula, notes=tuple(notes),
    )


def kv_capacity_for(s, engine: str = "vllm", overrides: Mapping[str, Any] | None = None,
                    extra_bytes: float = 0.0) -> KVCapacity:
    """kv_capacity() of an estimate's Setup (roofline.estimates.estimate.setup): its model, precision,
    split, GPU and request lengths."""
    return kv_capacity(s.model, s.prec, s.par, s.gpu, s.input_len, s.output_len, engine, overrides, extra_bytes)


def working(kv: KVCapacity) -> list[tuple[str, str, str, str]]:
    """(name, formula, numbers substituted, result) lines for the explain trace."""
    budget = [i for i in kv.items if i.in_budget]
    out = [("engine", "defaults of the release, then overrides", f"{kv.engine} {kv.engine_version}",
            ", ".join(f"{k}={v}" for k, v in kv.settings.items() if not k.startswith("reserved_")))]
    for i in kv.items:
        where = "subtracted" if i.in_budget else "outside the KV budget"
        out.append((i.name, f"{i.source} [{i.basis}]", where, fmt_bytes(i.bytes) if i.bytes is not None else "not modelled"))
    out.append(("KV capacity", f"{kv.formula}, in whole blocks of {kv.block_size} tokens",
                f"capacity {fmt_bytes(kv.capacity_bytes)}, fraction {kv.memory_fraction:g}, weights {fmt_bytes(kv.weights_bytes)}, "
                f"subtracted {' + '.join(fmt_bytes(i.bytes) for i in budget) or '0'}",
                f"{fmt_bytes(kv.kv_capacity_bytes)} = {fmt_num(kv.kv_capacity_tokens)} tokens"))
    out.append(("largest concurrency", "⌊KV capacity / KV per request (input + output, whole blocks)⌋ × replicas",
                f"⌊{fmt_bytes(kv.kv_capacity_bytes)} / {fmt_bytes(kv.kv_bytes_per_request)}⌋ × {kv.replicas}",
                f"{kv.max_concurrency_total} requests of {kv.tokens_per_request} tokens"
                + (f" (the engine runs at most {kv.max_num_seqs} at once)" if kv.max_num_seqs else "")))
    return out
