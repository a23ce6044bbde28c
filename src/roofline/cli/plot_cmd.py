"""`roofline plot KIND MODEL`: one chart of an estimate, written as PNG or SVG (matplotlib)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .options import command, param, scenario_params, scenario_values

KIND_HELP = "roofline, memory, crossover, batch, prefill, precisions or serving (simulated)."
MODEL_HELP = ("Catalog name or alias (`roofline models`), HF repo id, or a path to a config.json; "
              "for `precisions`, a comma list of models to compare.")
DEFAULT_GPU = "a100-sxm-80gb"

PlotGpuOpt = Annotated[Optional[str], typer.Option(
    "--gpu", "-g", help="GPU name or alias (default a100-sxm-80gb); a comma list overlays GPUs (roofline, batch, prefill) "
    "or draws their capacities (memory, crossover, precisions).")]
PlotWeightOpt = Annotated[Optional[str], typer.Option(
    "--weight-dtype", help="Linear-weight format: fp8, int8, int4 (g128), fp4 (nvfp4), mxfp4; default --dtype. "
    "For `precisions`, a comma list (default auto,fp8,int8,int4).")]
PlotBatchOpt = Annotated[Optional[str], typer.Option(
    "--batch-size", "-b", help="Sequences processed together (default 1). For `memory`, a comma list of settings "
    "(default: 1 and the largest batch that fits).")]
PlotInOpt = Annotated[str, typer.Option("--input-len", help="Prompt tokens per sequence (a comma list for `memory`).")]
PlotOutOpt = Annotated[str, typer.Option("--output-len", help="Generated tokens per sequence (a comma list for `memory`).")]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="File to write: .png or .svg.")]
MaxBatchOpt = Annotated[Optional[int], typer.Option(
    "--max-batch", help="Largest batch of the sweep (`batch`, `crossover`); default: past the critical batch and the memory limit.")]
EngineOpt = Annotated[str, typer.Option("--engine", help="`serving`: the engine simulated, vllm, sglang or tensorrt-llm (trtllm).")]
RateOpt = Annotated[Optional[float], typer.Option(
    "--request-rate", help="`serving`: requests/s of the run drawn over time (default: 80% of the saturation rate).")]
PromptsOpt = Annotated[int, typer.Option("--num-prompts", help="`serving`: requests per simulated run.")]
MaxLenOpt = Annotated[Optional[int], typer.Option(
    "--max-input-len", help="Longest prompt of the sweep (`prefill`); default: 8192, or past --input-len and the context window.")]


def int_list(text: str, what: str) -> list[int]:
    from ..errors import RooflineError
    from ..plots.inputs import split_list

    out = []
    for item in split_list(text, what):
        try:
            out.append(int(item))
        except ValueError:
            raise RooflineError(f"{what} takes whole numbers, got '{item}'") from None
    return out


def one(values: list[int], what: str, kind: str) -> int:
    from ..errors import RooflineError

    if len(values) != 1:
        raise RooflineError(f"{what} takes one value for `plot {kind}` (a comma list only for `plot memory`)")
    return values[0]


def plot(kind: str, model: str, output: str, gpu, weight_dtype, batch_size, input_len: str, output_len: str,
         max_batch, max_input_len, engine, request_rate, num_prompts, **values) -> None:
    from ..errors import RooflineError
    from ..plots import build, check_kind, style
    from ..plots.inputs import Inputs, split_list

    kind = check_kind(kind)
    style.check_output(output, style.IMAGE_FORMATS)  # fail before any work
    if kind == "serving":
        return _serving(model, output, gpu, weight_dtype, input_len, output_len, engine, request_rate, num_prompts, values)
    gpus = split_list(gpu or DEFAULT_GPU, "--gpu")
    models = split_list(model, "MODEL")
    if len(models) > 1 and kind != "precisions":
        raise RooflineError(f"`plot {kind}` takes one model (a comma list only for `plot precisions`)")
    weights = split_list(weight_dtype, "--weight-dtype") if weight_dtype else None
    if weights and len(weights) > 1 and kind != "precisions":
        raise RooflineError(f"--weight-dtype takes one format for `plot {kind}` (a comma list only for `plot precisions`)")
    batches = int_list(batch_size or "1", "--batch-size")
    ins, outs = int_list(input_len, "--input-len"), int_list(output_len, "--output-len")
    many = kind == "memory"
    options = dict(scenario_values(values),
                   weight_dtype=weights[0] if weights and kind != "precisions" else None,
                   batch_size=batches[0] if many else one(batches, "--batch-size", kind),
                   input_len=ins[0] if many else one(ins, "--input-len", kind),
                   output_len=outs[0] if many else one(outs, "--output-len", kind))
    inputs = Inputs.of(models[0], gpus, **options)
    extra: dict = {}
    if kind == "memory":
        extra = dict(batches=batches if batch_size else None, input_lens=ins, output_lens=outs)
    elif kind in ("batch", "crossover"):
        extra = dict(max_batch=max_batch)
    elif kind == "prefill":
        extra = dict(max_input_len=max_input_len)
    elif kind == "precisions":
        extra = dict(models=models, weight_dtypes=weights, capacity_gpus=gpus if gpu else None)
    chart = build(kind, inputs, **extra)
    path = style.save(chart.figure(), output)
    typer.echo(f"wrote {path} ({chart.title})")


def _serving(model, output, gpu, weight_dtype, input_len, output_len, engine, request_rate, num_prompts, v) -> None:
    """`plot serving`: simulated runs (plots/serving_chart.py), built from the model and options directly."""
    from ..plots import style
    from ..plots.serving_chart import build

    util = v.get("gpu_memory_utilization")
    chart = build(model, gpu or DEFAULT_GPU, input_len=one(int_list(input_len, "--input-len"), "--input-len", "serving"),
                  output_len=one(int_list(output_len, "--output-len"), "--output-len", "serving"), engine=engine,
                  request_rate=request_rate, num_prompts=num_prompts, tp=v.get("tensor_parallel_size", 1),
                  pp=v.get("pipeline_parallel_size", 1), dp=v.get("data_parallel_size", 1),
                  enable_expert_parallel=v.get("enable_expert_parallel", False), dtype=v.get("dtype"),
                  weight_dtype=weight_dtype, weight_bits=v.get("weight_bits"), activation_dtype=v.get("activation_dtype"),
                  kv_cache_dtype=v.get("kv_cache_dtype"), ideal=v.get("ideal", False),
                  gpu_memory_utilization=None if util in (None, 1.0) else util)  # the engine's own fraction unless set
    typer.echo(f"wrote {style.save(chart.figure(), output)} ({chart.title})")


def register(app: typer.Typer) -> None:
    lists = {"gpu": param("gpu", PlotGpuOpt, None), "weight_dtype": param("weight_dtype", PlotWeightOpt, None),
             "batch_size": param("batch_size", PlotBatchOpt, None), "input_len": param("input_len", PlotInOpt, "1024"),
             "output_len": param("output_len", PlotOutOpt, "256")}
    params = [param("kind", Annotated[str, typer.Argument(help=KIND_HELP)]),
              param("model", Annotated[str, typer.Argument(help=MODEL_HELP)]), param("output", OutputOpt),
              *scenario_params(overrides=lists), param("max_batch", MaxBatchOpt, None),
              param("max_input_len", MaxLenOpt, None), param("engine", EngineOpt, "vllm"),
              param("request_rate", RateOpt, None), param("num_prompts", PromptsOpt, 300)]
    app.command("plot", help="Draw one chart to a PNG or SVG file. KIND: " + KIND_HELP)(command(plot, params))
