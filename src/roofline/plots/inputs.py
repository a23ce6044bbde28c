"""What every chart starts from: a model, one or more GPUs, and the estimate's options.

The model is resolved once (catalog name, config path or an already-parsed ModelSpec) and each
GPU gets its own Setup and Estimate from the core, which the charts then sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..catalog import get_model
from ..errors import RooflineError
from ..estimates.estimate import Setup, run, setup
from ..estimates.result import Estimate
from ..specs.model import ModelSpec

MAX_GPUS = 8  # overlays beyond this are unreadable

# The estimate's keyword options a chart accepts (everything but the model and the GPU).
OPTIONS = ("tp", "pp", "dtype", "weight_dtype", "weight_bits", "activation_dtype", "kv_cache_dtype",
           "batch_size", "input_len", "output_len", "gpu_memory_utilization", "ideal")


def split_list(text: str | None, what: str) -> list[str]:
    """'a100, h100' -> ['a100', 'h100']; an empty list is an error."""
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    if not items:
        raise RooflineError(f"{what} is empty")
    return items


def resolve_model(model: str | ModelSpec) -> ModelSpec:
    return model if isinstance(model, ModelSpec) else get_model(model)


@dataclass(frozen=True)
class Inputs:
    model: ModelSpec
    gpus: tuple[str, ...]
    options: dict = field(default_factory=dict)

    @staticmethod
    def of(model: str | ModelSpec, gpus, **options) -> "Inputs":
        unknown = set(options) - set(OPTIONS)
        if unknown:
            raise TypeError(f"unknown chart options: {', '.join(sorted(unknown))}")
        names = split_list(gpus, "--gpu") if isinstance(gpus, str) else list(gpus)
        if not names:
            raise RooflineError("--gpu is empty")
        if len(names) > MAX_GPUS:
            raise RooflineError(f"{len(names)} GPUs at once; compare at most {MAX_GPUS}")
        clean = {k: v for k, v in options.items() if v is not None}
        return Inputs(resolve_model(model), tuple(names), clean)

    @cached_property
    def setups(self) -> list[Setup]:
        return [setup(self.model, g, **self.options) for g in self.gpus]

    @cached_property
    def estimates(self) -> list[Estimate]:
        return [run(s) for s in self.setups]

    @property
    def first(self) -> Setup:
        return self.setups[0]

    def with_options(self, **changes) -> "Inputs":
        return Inputs(self.model, self.gpus, {**self.options, **{k: v for k, v in changes.items() if v is not None}})


@dataclass(frozen=True)
class Capacity:
    """A memory line on a chart: one or more GPUs with the same usable capacity."""

    gpu: str  # canonical names, comma-joined when merged
    display_name: str
    bytes: float


def capacities(entries: list[tuple[str, str, float]]) -> list[Capacity]:
    """(name, display name, bytes) → one line per distinct capacity, first-seen order kept."""
    merged: dict[float, list[tuple[str, str]]] = {}
    for name, display, size in entries:
        names = merged.setdefault(size, [])
        if name not in [n for n, _ in names]:
            names.append((name, display))
    return [Capacity(", ".join(n for n, _ in v), ", ".join(d for _, d in v), size) for size, v in merged.items()]


def gpu_label(s: Setup) -> str:
    return s.gpu.display_name


def precision_label(s: Setup) -> str:
    p = s.prec
    scheme = p.label.split(" (")[0]
    kv = f", KV {p.kv_cache.name}" if p.kv_cache.name != p.model.name else ""
    return f"{scheme}{kv}"


def workload_label(s: Setup, with_batch: bool = True, with_lengths: bool = True) -> str:
    parts = []
    if with_batch:
        parts.append(f"batch {s.batch}")
    if with_lengths:
        parts.append(f"{s.input_len} in / {s.output_len} out tokens")
    parts.append(precision_label(s))
    if s.par.num_gpus > 1:
        parts.append(f"tp {s.par.tp} × pp {s.par.pp} (per GPU)")
    if s.ideal:
        parts.append("ideal roofline")
    return " · ".join(parts)


def step_caveat(s: Setup) -> str:
    """Sweeps time one plain forward step; say so where the estimate itself schedules more."""
    return " · one step through all stages, pipeline overlap not applied" if s.par.pp > 1 else ""


def gpus_label(setups: list[Setup]) -> str:
    """The display name of one GPU; canonical short names when comparing several."""
    if len(setups) == 1:
        return gpu_label(setups[0])
    return " vs ".join(s.gpu.name for s in setups)
