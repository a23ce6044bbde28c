"""Serving-engine defaults (data/engines.toml): one table per engine, each default cited with the
engine version. Engine behaviour is a fact of a release, not a fitted knob; the KV-capacity
estimate (estimates/kv_capacity.py) and the serving simulator read the same table."""

from __future__ import annotations

import math
import tomllib
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import RooflineError
from .names import normalize

_FILE = resources.files("roofline") / "data" / "engines.toml"
ALIASES = {"trt-llm": "tensorrt-llm", "trtllm": "tensorrt-llm", "llama.cpp": "llama-cpp", "llamacpp": "llama-cpp"}


@lru_cache(maxsize=1)
def _load_all() -> Mapping[str, Mapping[str, Any]]:
    raw = tomllib.loads(_FILE.read_text())
    for name, table in raw.items():
        missing = {"version", "source", "kv_capacity_rule"} - set(table)
        if missing:
            raise RooflineError(f"data/engines.toml [{name}] lacks {', '.join(sorted(missing))}")
    return MappingProxyType({k: MappingProxyType(v) for k, v in raw.items()})


def engine_names() -> list[str]:
    return list(_load_all())


def engine_defaults(name: str) -> Mapping[str, Any]:
    """The table of one engine: `version`, `source`, `sources` and every default."""
    engines = _load_all()
    if not isinstance(name, str) or not name.strip():
        raise RooflineError("engine name is empty")
    key = normalize(ALIASES.get(name.strip().lower(), name))
    if key not in engines:
        raise RooflineError(f"unknown engine '{name}' (known: {', '.join(engines)})")
    return engines[key]


def large_gpu(table: Mapping[str, Any], gpu_memory_bytes: float, gpu_name: str) -> bool:
    """Whether a GPU takes the engine's large-GPU defaults (`large_gpu_min_gib`, `large_gpu_excludes`)."""
    if "large_gpu_min_gib" not in table:
        return True
    excluded = any(x.lower() in gpu_name.lower() for x in table.get("large_gpu_excludes", []))
    return gpu_memory_bytes >= table["large_gpu_min_gib"] * 2**30 and not excluded


def default_for(table: Mapping[str, Any], key: str, gpu_memory_bytes: float, gpu_name: str) -> Any:
    """`key`'s default on this GPU: the `_small_gpu` variant where the engine's rule says so."""
    if key not in table:
        raise RooflineError(f"engine {table.get('version', '')} has no default '{key}'")
    small, huge = f"{key}_small_gpu", f"{key}_huge_gpu"
    if small in table and not large_gpu(table, gpu_memory_bytes, gpu_name):
        return table[small]
    if huge in table and gpu_memory_bytes >= table.get("huge_gpu_min_gib", math.inf) * 2**30:
        return table[huge]
    return table[key]
