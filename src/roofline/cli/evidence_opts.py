"""Options shared by the evidence commands (analyze, validate, measure, calibrate)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

MODEL_HELP = "Catalog name or alias (`roofline models`), HF repo id, or a path to a config.json."
GpuOpt = Annotated[str, typer.Option("--gpu", "-g", help="GPU name or alias (`roofline gpus`).")]
TpOpt = Annotated[int, typer.Option("--tensor-parallel-size", "-tp", help="Tensor-parallel GPUs of the run.")]
PpOpt = Annotated[int, typer.Option("--pipeline-parallel-size", "-pp", help="Pipeline-parallel stages of the run.")]
DtypeOpt = Annotated[Optional[str], typer.Option("--dtype", help="Model dtype: auto, bfloat16/bf16, float16/fp16, float32.")]
WeightOpt = Annotated[Optional[str], typer.Option("--weight-dtype", help="Linear-weight format: fp8, int8, int4, fp4, mxfp4.")]
WBitsOpt = Annotated[Optional[float], typer.Option("--weight-bits", help="Effective bits per weight, scales included.")]
ActOpt = Annotated[Optional[str], typer.Option("--activation-dtype", help="Quantized GEMM inputs: fp8, int8, fp4.")]
KvOpt = Annotated[Optional[str], typer.Option("--kv-cache-dtype", help="KV cache format: auto, fp8, int8, int4.")]
LevelOpt = Annotated[float, typer.Option("--level", help="Central interval of the error bars: 0.5, 0.8 or 0.9.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object, SI units.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="`cuda` (default; the first visible GPU) or `cpu` (small shapes, for tests).")]


def precision_options(dtype, weight_dtype, weight_bits, activation_dtype, kv_cache_dtype, tp=1, pp=1) -> dict:
    return dict(tp=tp, pp=pp, dtype=dtype, weight_dtype=weight_dtype, weight_bits=weight_bits,
                activation_dtype=activation_dtype, kv_cache_dtype=kv_cache_dtype)


def fmt_pct(x) -> str:
    return "-" if x is None else f"{x:+.1%}"
