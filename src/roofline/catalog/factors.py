"""Calibration profiles: the empirical factors an evaluation runs with, each with its provenance.

A profile is passed into the physics (it travels inside `Roofs` and the resolved scenario), never
read from a global inside it. The default profile is data/factors.toml (global factors); the
per-GPU factors (memory and matmul efficiency, kernel overhead) live with each GPU's data file.
A calibration file (`--calibration`) overrides factors by name, keeping the rest.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Mapping

from ..errors import RooflineError
from ..specs.hardware import Factor

_FILE = resources.files("roofline") / "data" / "factors.toml"


@dataclass(frozen=True)
class Profile:
    """Named empirical factors (value, basis, source, what it was fitted on)."""

    factors: Mapping[str, Factor]
    name: str = "default"
    source: str = "src/roofline/data/factors.toml"
    gpu_factors: Mapping[str, Mapping[str, Factor]] = field(default_factory=dict)  # per-GPU overrides

    def __getitem__(self, name: str) -> Factor:
        try:
            return self.factors[name]
        except KeyError:
            raise RooflineError(f"calibration profile '{self.name}' has no factor '{name}'") from None

    def value(self, name: str) -> float:
        return self[name].value

    def __hash__(self) -> int:  # profiles key caches by identity of content, never by id()
        return hash((self.name, tuple(sorted((k, v.value) for k, v in self.factors.items()))))

    def with_overrides(self, name: str, overrides: Mapping[str, Factor]) -> "Profile":
        return Profile(MappingProxyType({**self.factors, **overrides}), name, name, self.gpu_factors)


@lru_cache(maxsize=1)
def default_profile() -> Profile:
    doc = tomllib.loads(_FILE.read_text())
    return Profile(MappingProxyType({k: Factor.model_validate(v) for k, v in doc.items()}))


def all_factors() -> Mapping[str, Factor]:
    return default_profile().factors


def factor(name: str) -> Factor:
    """A factor of the default profile (for scripts and docs; the physics takes a Profile)."""
    return default_profile()[name]
