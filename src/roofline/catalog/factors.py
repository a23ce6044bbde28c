"""Global empirical factors (data/factors.toml): each with its value, basis, source and fit."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

from ..specs.hardware import Factor

_FILE = resources.files("roofline") / "data" / "factors.toml"


@lru_cache(maxsize=1)
def all_factors() -> dict[str, Factor]:
    return {k: Factor.model_validate(v) for k, v in tomllib.loads(_FILE.read_text()).items()}


def factor(name: str) -> Factor:
    return all_factors()[name]
