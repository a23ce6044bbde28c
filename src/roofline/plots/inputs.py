"""What every chart starts from: a model, one or more GPUs, and the estimate's options.

The model is resolved once (catalog name, config path or an already-parsed ModelSpec) and each
GPU gets its own Setup and Estimate from the core, which the charts then sweep. Every option of
roofline.Scenario applies, so a chart's value at the estimate's point is the estimate's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..catalog import get_model
from ..errors import RooflineError
from ..estimates.estimate import Setup, run
from ..estimates.result import Estimate
from ..scenario import Scenario
from ..specs.model import ModelSpec

MAX_GPUS = 8  # overlays beyond this are unreadable

# The estimate's keyword options a chart accepts: every Scenario field but the model and the GPU,
# by name or short alias (tp, pp, dp, micro_batches).
OPTIONS = tuple(n for n in Scenario.model_fields if n not in ("model", "gpu")) + ("tp", "pp", "dp", "micro_batches")


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
        return [Scenario.of(self.model, g, **self.options).setup() for g in self.gpus]

    @cached_property
    def estimates(self) -> list[Estimate]:
        return [run(s) for s in self.setups]

    @property
    def first(self) -> Setup:
        return self.setups[0]

    def with_options(self, **changes) -> "Inputs":
        """The same inputs at another setting; requested pipeline micro-batches are capped by a
        smaller batch there (as the sweeps cap them)."""
        opts = {**self.options, **{k: v for k, v in changes.items() if v is not None}}
        for key in ("num_micro_batches", "micro_batches"):
            if opts.get(key) and "batch_size" in changes:
                dp = opts.get("data_parallel_size") or opts.get("dp") or 1
                opts[key] = max(1, min(opts[key], -(-opts["batch_size"] // dp)))
        return Inputs(self.model, self.gpus, opts)


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
        parts.append(f"batch {s.total_batch}")
    if with_lengths:
        parts.append(f"{s.input_len} in / {s.output_len} out tokens")
    parts.append(precision_label(s))
    if s.par.num_gpus > 1:
        parts.append(f"tp {s.par.tp} × pp {s.par.pp} × dp {s.par.dp} (memory per GPU)")
    if s.speculative is not None:
        parts.append(f"speculative {s.speculative.label}, k={s.speculative.k}")
    if s.ideal:
        parts.append("ideal roofline")
    return " · ".join(parts)


def gpus_label(setups: list[Setup]) -> str:
    """The display name of one GPU; canonical short names when comparing several."""
    if len(setups) == 1:
        return gpu_label(setups[0])
    return " vs ".join(s.gpu.name for s in setups)
