"""Number formats: storage width (with quantization scale overhead) and the compute unit they run on.

Names follow vLLM where vLLM has one (`half`, `bfloat16`, `float`, `fp8_e4m3`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RooflineError


@dataclass(frozen=True)
class DType:
    name: str
    bits: float  # effective stored bits per element, group scales included
    compute: str  # key into a GPU's peak_flops when tensor cores consume this format
    layout: str  # how `bits` was derived, for the explain trace

    @property
    def bytes(self) -> float:
        return self.bits / 8


# Scale overheads: int4 keeps one fp16 scale per 128 weights (AWQ/GPTQ g128): 4 + 16/128 = 4.125 bits.
# nvfp4 keeps one fp8 scale per 16 values: 4 + 8/16 = 4.5. mxfp4 (OCP MX) one 8-bit scale per 32: 4.25.
# int8 and fp8 use per-channel or per-tensor scales, under 0.1% of the weights: counted as 8 bits.
DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("fp32", 32, "fp32", "32-bit float"),
        DType("tf32", 32, "tf32", "stored as fp32, multiplied as tf32"),
        DType("bf16", 16, "bf16", "16-bit bfloat"),
        DType("fp16", 16, "fp16", "16-bit IEEE half"),
        DType("fp8", 8, "fp8", "8-bit float (e4m3/e5m2), per-tensor scale"),
        DType("int8", 8, "int8", "8-bit integer, per-channel scale"),
        DType("int4", 4.125, "int4", "4-bit integer + fp16 scale per 128 (g128): 4 + 16/128"),
        DType("fp4", 4.5, "fp4", "nvfp4: 4-bit float + fp8 scale per 16: 4 + 8/16"),
        DType("mxfp4", 4.25, "fp4", "OCP MXFP4: 4-bit float + 8-bit scale per 32: 4 + 8/32"),
    )
}

ALIASES = {
    "float32": "fp32", "float": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16", "half": "fp16",
    "fp8_e4m3": "fp8", "fp8_e5m2": "fp8", "float8": "fp8", "e4m3": "fp8", "e5m2": "fp8", "fp8e4m3": "fp8",
    "w8": "int8",
    "w4": "int4", "awq": "int4", "gptq": "int4", "int4_g128": "int4",
    "nvfp4": "fp4",
}

# Wider formats first: a format a GPU cannot multiply natively falls back to the next supported one.
COMPUTE_LADDER = ["fp4", "int4", "fp8", "int8", "bf16", "fp16", "fp32"]


def parse_dtype(name: str, *, what: str = "dtype") -> DType:
    if not isinstance(name, str):
        raise RooflineError(f"{what} takes a format name such as bf16, fp8 or int4, got {name!r}")
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in DTYPES:
        known = ", ".join(sorted(set(DTYPES) | set(ALIASES)))
        raise RooflineError(f"unknown {what} '{name}' (known: {known})")
    return DTYPES[key]


def custom_bits(base: DType, bits: float) -> DType:
    """A weight format given by its effective width, e.g. EXL2 at 4.65 or GGUF Q4_0 at 4.5 bits per weight."""
    if isinstance(bits, bool) or not isinstance(bits, (int, float)) or not (1.0 <= bits <= 32.0):
        raise RooflineError(f"--weight-bits must be a number between 1 and 32, got {bits!r}")
    return DType(f"{base.name}@{bits:g}b", bits, base.compute, f"{bits:g} effective bits per weight (given)")
