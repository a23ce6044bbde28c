"""`roofline estimate`: one model on one GPU (or a comparison across several). Its options are
every field of roofline.Scenario (cli/options.py) plus how to print the result."""

from __future__ import annotations

from typing import Annotated

import typer

from ..options import MODEL_HELP  # noqa: F401  (re-exported for commands that describe MODEL)
from .options import annotated, command, model_argument, param, scenario_params, scenario_values

ExplainOpt = Annotated[bool, typer.Option("--explain", help="Print every figure's formula with the numbers substituted.")]
OpsOpt = Annotated[bool, typer.Option("--ops", help="Print the per-operator table (FLOPs, bytes, intensity, time, bound).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object (a list for several GPUs), SI units.")]

# Each Scenario field's option, by the short names other commands import.
GpuOpt, TpOpt, PpOpt, DpOpt = (annotated(n) for n in ("gpu", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"))
EpFlag, NumGpusOpt, GpusPerNodeOpt = (annotated(n) for n in ("enable_expert_parallel", "num_gpus", "gpus_per_node"))
InterNodeOpt, MicroOpt = annotated("inter_node_link"), annotated("num_micro_batches")
SpecModelOpt, SpecTokensOpt, AcceptOpt = (annotated(n) for n in ("speculative_model", "num_speculative_tokens", "acceptance_rate"))
DtypeOpt, WeightOpt, WBitsOpt = (annotated(n) for n in ("dtype", "weight_dtype", "weight_bits"))
ActOpt, KvOpt, BatchOpt = (annotated(n) for n in ("activation_dtype", "kv_cache_dtype", "batch_size"))
InOpt, OutOpt, UtilOpt, IdealOpt = (annotated(n) for n in ("input_len", "output_len", "gpu_memory_utilization", "ideal"))


def estimate(model: str, gpu: str, explain: bool, ops: bool, json_out: bool, **values) -> None:
    import json

    from ..scenario import Scenario
    from . import render

    base = Scenario.of(model, gpu, **scenario_values(values))
    results = [base.estimate(g) for g in base.gpu_names()]
    if json_out:
        docs = [r.to_dict(explain=explain or ops) for r in results]
        typer.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
        return
    if len(results) == 1:
        render.estimate(results[0])
    else:
        render.comparison(results)
    if ops:
        for r in results:
            render.ops_table(r)
    if explain:
        for r in results:
            render.explain(r)


def register(app: typer.Typer) -> None:
    params = [model_argument(), *scenario_params(), param("explain", ExplainOpt, False), param("ops", OpsOpt, False),
              param("json_out", JsonOpt, False)]
    app.command("estimate", help="Estimate memory, TTFT, time per output token and throughput for MODEL on a GPU.")(
        command(estimate, params))
