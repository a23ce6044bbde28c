"""Accelerators and the links between them, as typed and validated records.

Datasheet figures and empirical factors live in data files (roofline/data/gpus/*.toml,
roofline/data/links.toml, roofline/data/factors.toml); these classes only check and serve them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, field_validator

from ..errors import RooflineError
from .dtypes import COMPUTE_LADDER

Basis = Literal["measured", "fitted", "assumed", "datasheet"]


class Factor(BaseModel):
    """An empirical number with its provenance: default, source and what it was fitted on."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float = Field(ge=0)
    by_dtype: dict[str, float] = Field(default_factory=dict)
    basis: Basis
    source: str
    fitted_on: str = ""

    def for_dtype(self, dtype: str) -> float:
        return self.by_dtype.get(dtype, self.value)


class GpuFactors(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    memory_efficiency: Factor  # achieved / datasheet DRAM bandwidth for streaming kernels
    matmul_efficiency: Factor  # achieved / dense tensor peak for large GEMMs (by_dtype where measured)
    kernel_overhead_s: Factor  # fixed cost per kernel: launch gap, tail, synchronization

    @field_validator("memory_efficiency", "matmul_efficiency")
    @classmethod
    def _fraction(cls, f: Factor) -> Factor:
        for v in [f.value, *f.by_dtype.values()]:
            if not 0 < v <= 1:
                raise ValueError(f"efficiency must be in (0, 1], got {v}")
        return f


class GPU(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    display_name: str
    vendor: str
    architecture: str
    form_factor: str
    aliases: list[str] = Field(default_factory=list)
    memory_bytes: PositiveFloat  # physical memory per GPU as the driver reports it (nvidia-smi memory.total)
    memory_label: str = ""  # the datasheet's figure ("80 GB"), kept beside it
    memory_basis: Basis = "datasheet"  # how memory_bytes is known; [sources] memory says from where
    memory_type: str
    memory_bandwidth: PositiveFloat
    compute_units: PositiveInt
    compute_unit_kind: str
    l2_bytes: PositiveFloat | None = None
    smem_per_unit_bytes: PositiveFloat | None = None
    l1_smem_per_unit_bytes: PositiveFloat | None = None
    fp32_cores_per_unit: PositiveInt | None = None  # "CUDA cores" per SM
    tensor_cores_per_unit: PositiveInt | None = None
    boost_clock_hz: PositiveFloat | None = None
    tdp_watts: PositiveFloat | None = None
    pcie_gen: PositiveInt | None = None
    scale_up_link: str = ""
    scale_up_domain: PositiveInt = 1
    scale_out_link: str = ""
    host_link: str = ""
    peak_flops: dict[str, PositiveFloat]
    sources: dict[str, str]
    factors: GpuFactors

    def supports(self, compute: str) -> bool:
        return compute in self.peak_flops

    def peak(self, compute: str) -> float:
        if compute not in self.peak_flops:
            raise RooflineError(
                f"{self.name} has no native {compute} math (supported: {', '.join(self.compute_dtypes)})"
            )
        return self.peak_flops[compute]

    @property
    def compute_dtypes(self) -> list[str]:
        return [d for d in COMPUTE_LADDER + ["tf32"] if d in self.peak_flops]

    def ridge_point(self, compute: str) -> float:
        """FLOP per byte at which the compute roof meets the memory roof (datasheet peaks)."""
        return self.peak(compute) / self.memory_bandwidth


class Link(BaseModel):
    """A GPU-to-GPU or GPU-to-host link, per GPU and per direction."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    display_name: str
    kind: Literal["scale-up", "scale-out", "host", "chip-to-chip"]
    bandwidth_per_direction: PositiveFloat
    peer_bandwidth_per_direction: PositiveFloat | None = None
    domain_size: PositiveInt | None = None
    latency_s: float = Field(ge=0)
    busbw_efficiency: float | None = Field(default=None, gt=0, le=1.2)
    p2p: bool = True  # GPUs read and write each other's memory directly over it (False: hops staged through host memory)
    nccl_path: Literal["nvlink", "pci", "net"] | None = None  # NCCL's latency class; None: from `kind`
    source: str
    notes: str = ""

    @property
    def path_class(self) -> str:
        """Which of NCCL's per-step latencies this link pays (data/collectives.toml)."""
        return self.nccl_path or {"scale-up": "nvlink", "host": "pci", "scale-out": "net", "chip-to-chip": "nvlink"}[self.kind]
