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
def _catalog_model(name: str) -> ModelSpec:
    raw = json.loads((_DIR / f"{name}.json").read_text())
    return from_hf_config(raw, name, source=f"catalog:{name}.json")


def _looks_like_path(name: str) -> bool:
    return name.endswith(".json") or "/" in name and Path(name).exists() or Path(name).is_dir()


def _from_hub(repo_id: str) -> ModelSpec:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise RooflineError(
            f"'{repo_id}' is not in the catalog; fetching configs from the Hugging Face Hub needs "
            "`pip install roofline[hub]`, or pass a local config.json path"
        ) from None
    try:
        path = hf_hub_download(repo_id, "config.json")
    except Exception as e:  # the hub raises many types: offline, gated, missing repo
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise RooflineError(f"cannot fetch config.json for '{repo_id}' from the Hugging Face Hub: {reason}") from None
    return load_config_file(path, name=repo_id)


def get_model(name: str) -> ModelSpec:
    """A model by catalog name, alias or HF repo id, a local config.json path, or (online) a Hub repo id."""
    if not isinstance(name, str) or not name.strip():
        raise RooflineError("model name is empty")
    if _looks_like_path(name):
        return load_config_file(name)
    key = normalize(name)
    if key in _names():
        return _catalog_model(_names()[key])
    if name.count("/") == 1 and not name.startswith(("/", ".")):
        return _from_hub(name)
    return _catalog_model(resolve_model(name))
