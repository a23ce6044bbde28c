"""`roofline report MODEL`: a self-contained, offline HTML report with every chart, the tables and the working."""

from __future__ import annotations

from typing import Annotated

import typer

from .estimate_cmd import (MODEL_HELP, ActOpt, BatchOpt, DtypeOpt, GpuOpt, IdealOpt, InOpt, KvOpt, OutOpt, PpOpt, TpOpt,
                           UtilOpt, WBitsOpt, WeightOpt)


def register(app: typer.Typer) -> None:
    @app.command(help="Write one self-contained HTML report (works offline): inputs, every chart, result tables, the working.")
    def report(
        model: Annotated[str, typer.Argument(help=MODEL_HELP)],
        output: Annotated[str, typer.Option("--output", "-o", help="File to write: .html.")],
        gpu: GpuOpt = "a100-sxm-80gb",
        tensor_parallel_size: TpOpt = 1,
        pipeline_parallel_size: PpOpt = 1,
        dtype: DtypeOpt = None,
        weight_dtype: WeightOpt = None,
        weight_bits: WBitsOpt = None,
        activation_dtype: ActOpt = None,
        kv_cache_dtype: KvOpt = None,
        batch_size: BatchOpt = 1,
        input_len: InOpt = 1024,
        output_len: OutOpt = 256,
        gpu_memory_utilization: UtilOpt = 1.0,
        ideal: IdealOpt = False,
    ) -> None:
        from ..plots import style
        from ..plots.inputs import Inputs
        from ..report import render_report

        path = style.check_output(output, (".html",))
        inputs = Inputs.of(model, gpu, tp=tensor_parallel_size, pp=pipeline_parallel_size, dtype=dtype, weight_dtype=weight_dtype,
                           weight_bits=weight_bits, activation_dtype=activation_dtype, kv_cache_dtype=kv_cache_dtype,
                           batch_size=batch_size, input_len=input_len, output_len=output_len,
                           gpu_memory_utilization=gpu_memory_utilization, ideal=ideal)
        style.write_text(path, render_report(inputs))
        typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, self-contained)")
