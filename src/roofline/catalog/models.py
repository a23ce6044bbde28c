"""The model catalog: HF-style config.json files plus an index of names, aliases and published counts."""

from __future__ import annotations

import json
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import RooflineError
from ..specs.hf_config import from_hf_config, load_config_file
from ..specs.model import ModelSpec
from .names import normalize, resolve

_DIR = resources.files("roofline") / "data" / "models"


@lru_cache(maxsize=1)
def _index() -> dict[str, dict]:
    return tomllib.loads((_DIR / "index.toml").read_text())


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, entry in _index().items():
        table[normalize(name)] = name
        for alias in entry.get("aliases", []):
            table[normalize(alias)] = name
    return table


def all_models() -> list[str]:
    return list(_index())


def model_entry(name: str) -> dict:
    return _index()[name]


def resolve_model(name: str) -> str:
    return resolve(name, _names(), "model")


@lru_cache(maxsize=128)
def _load(name: str) -> ModelSpec:
    raw = json.loads((_DIR / f"{name}.json").read_text())
    return from_hf_config(raw, name, source=f"catalog:{name}.json")


def catalog_model(name: str) -> ModelSpec:
    """A catalog model by name or alias only: never a file path, never the Hub (what servers use)."""
    return _load(resolve_model(name))


def _from_hub(repo_id: str) -> ModelSpec:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise RooflineError(
            f"'{repo_id}' is not in the catalog; fetching configs from the Hugging Face Hub needs "
            "the hub extra (in a clone: `pip install -e '.[hub]'`), or pass a local config.json path"
        ) from None
    try:
        path = hf_hub_download(repo_id, "config.json")
    except Exception as e:  # the hub raises many types: offline, gated, missing repo
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise RooflineError(f"cannot fetch config.json for '{repo_id}' from the Hugging Face Hub: {reason}") from None
    return load_config_file(path, name=repo_id)


def _exists(path: str) -> bool:
    """Whether a file or folder of that name exists; a name no file system accepts (too long, a NUL)
    is simply not a path."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def get_model(name: str) -> ModelSpec:
    """A model by catalog name, alias or HF repo id, a local config.json path, or (online) a Hub repo id.

    Catalog names win over same-named folders; anything ending in .json or naming an existing
    file or folder is read as a config; `org/name` outside the catalog is fetched from the Hub."""
    if not isinstance(name, str):
        raise RooflineError(f"a model is given by a catalog name, an HF repo id or a config.json path, got {name!r}")
    if not name.strip():
        raise RooflineError("model name is empty")
    key = normalize(name)
    if key in _names() and not name.endswith(".json"):
        return _load(_names()[key])
    if name.endswith(".json") or _exists(name):
        return load_config_file(name)
    if name.count("/") == 1 and not name.startswith(("/", ".")):
        return _from_hub(name)
    return _load(resolve_model(name))


CONVENTIONS = {
    "with_embedding": "counts the input-embedding table among the active parameters (Mixtral, Qwen, Llama 4)",
    "without_embedding": "leaves the input-embedding lookup out of the active parameters (DeepSeek, gpt-oss)",
}


def active_params(m: ModelSpec) -> dict:
    """Both active-parameter figures, named, and which one the model's published count uses.

    Vendors differ: a token's embedding row is read, not multiplied, so DeepSeek and gpt-oss leave
    the table out (gpt-oss-120b: 5.1B of 5.7B), while Mixtral counts it."""
    from ..cost.params import count_params

    p = count_params(m)
    entry = _index().get(m.name, {})
    convention = entry.get("active_convention", "with_embedding" if "official_active" in entry else None)
    return {
        "active_params_with_embedding": p.active,
        "active_params_excluding_embedding": p.active_excluding_embedding,
        "published_active_params": entry.get("official_active"),
        "published_active_convention": convention,  # None: no published active count
        "published_active_source": entry.get("source", "") if "official_active" in entry else "",
    }


def model_summary(name: str) -> dict:
    """One catalog model's row for `roofline models --json` and the web API: counts, shapes, KV size."""
    from ..cost.params import count_params
    from ..cost.kv import kv_bytes_per_token
    from ..specs.dtypes import DTYPES
    from ..specs.parallel import Parallel
    from ..specs.precision import Precision

    m = catalog_model(name)
    p = count_params(m)
    bf16 = DTYPES["bf16"]
    entry = model_entry(m.name)
    return {
        "name": m.name, "display_name": entry.get("display_name", m.name), "aliases": entry.get("aliases", []),
        "total_params": p.total, "active_params": p.active, "active_params_excluding_embedding": p.active_excluding_embedding,
        "layers": m.num_layers, "hidden_size": m.hidden_size, "attention": m.kv_kind, "moe": m.is_moe,
        "max_position_embeddings": m.max_position_embeddings,
        "kv_bytes_per_token_bf16": kv_bytes_per_token(m, Precision(bf16, bf16, bf16, bf16, "bf16", False), Parallel()),
        "official_total": entry.get("official_total"), "official_active": entry.get("official_active"),
        "source": entry.get("source", ""), **active_params(m),
    }
