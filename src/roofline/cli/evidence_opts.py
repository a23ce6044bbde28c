"""Options shared by the evidence commands (analyze, validate, measure, calibrate)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..options import MODEL_HELP  # noqa: F401  (re-exported)
from .options import annotated

# The estimate's options these commands take, from the one declaration (roofline/options.py).
GpuOpt, TpOpt, PpOpt = (annotated(n) for n in ("gpu", "tensor_parallel_size", "pipeline_parallel_size"))
DtypeOpt, WeightOpt, WBitsOpt = (annotated(n) for n in ("dtype", "weight_dtype", "weight_bits"))
ActOpt, KvOpt = annotated("activation_dtype"), annotated("kv_cache_dtype")
LevelOpt = Annotated[float, typer.Option("--level", help="Central interval of the error bars: 0.5, 0.8 or 0.9.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object, SI units.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="`cuda` (default; the first visible GPU) or `cpu` (small shapes, for tests).")]


def precision_options(dtype, weight_dtype, weight_bits, activation_dtype, kv_cache_dtype, tp=1, pp=1) -> dict:
    return dict(tp=tp, pp=pp, dtype=dtype, weight_dtype=weight_dtype, weight_bits=weight_bits,
                activation_dtype=activation_dtype, kv_cache_dtype=kv_cache_dtype)


def fmt_pct(x) -> str:
    return "-" if x is None else f"{x:+.1%}"
