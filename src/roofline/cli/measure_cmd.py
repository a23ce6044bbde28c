"""`roofline measure MODEL`: time a random-weight decoder of the model's shapes on this machine."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .evidence_opts import MODEL_HELP, DeviceOpt, JsonOpt, LevelOpt, fmt_pct


def register(app: typer.Typer) -> None:
    @app.command(help="Time TTFT and time per output token of a decoder with random weights built from MODEL's "
                      "config in plain PyTorch (needs PyTorch: the `gpu` extra; CUDA graphs for decode).")
    def measure(
        model: Annotated[str, typer.Argument(help=MODEL_HELP + " Dense decoders only.")],
        batch_size: Annotated[int, typer.Option("--batch-size", "-b", help="Sequences decoded together.")] = 1,
        input_len: Annotated[int, typer.Option("--input-len", help="Prompt tokens per sequence.")] = 128,
        output_len: Annotated[int, typer.Option("--output-len", help="Generated tokens per sequence (TPOT is the mean of the output_len − 1 decode steps).")] = 32,
        dtype: Annotated[Optional[str], typer.Option("--dtype", help="bf16, fp16 or fp32; default bf16 on a GPU, fp32 on the CPU.")] = None,
        weight_dtype: Annotated[Optional[str], typer.Option("--weight-dtype", help="fp8: the projections' weights in float8 e4m3 and their inputs quantized per tensor, through torch's scaled matmul (a CUDA GPU of compute capability ≥ 8.9).")] = None,
        device: DeviceOpt = "cuda",
        no_cuda_graphs: Annotated[bool, typer.Option("--no-cuda-graphs", help="Launch decode kernels one by one instead of replaying a CUDA graph.")] = False,
        reps: Annotated[int, typer.Option("--reps", help="Timed repetitions (the median is reported), after one warm-up.")] = 3,
        gpu: Annotated[Optional[str], typer.Option("--gpu", "-g", help="Catalog GPU to estimate the same run on, for comparison.")] = None,
        output: Annotated[Optional[str], typer.Option("--output", "-o", help="Append the TTFT and TPOT as `roofline validate` rows to this CSV (needs --gpu).")] = None,
        level: LevelOpt = 0.8,
        json_out: JsonOpt = False,
    ) -> None:
        import json

        from ..errors import RooflineError
        from ..evidence.measure import append_csv, measure as run_measure

        if output and not gpu:
            raise RooflineError("--output needs --gpu: the catalog GPU the rows are estimated on")
        r = run_measure(model, device, batch_size=batch_size, input_len=input_len, output_len=output_len, dtype=dtype,
                        weight_dtype=weight_dtype, cuda_graphs=not no_cuda_graphs, reps=reps, gpu=gpu, level=level)
        if output:
            append_csv(output, r, gpu)
        if json_out:
            typer.echo(json.dumps(r, indent=2))
            return
        _render(r, output)


def _render(r: dict, output: str | None) -> None:
    from rich.markup import escape

    from ..units import fmt_time
    from .render import console as make_console
    console = make_console()

    console.print(f"[bold]{escape(r['model'])}[/bold] (random weights, {r['dtype']}{', fp8 weights' if r.get('weight_dtype') else ''}) on {escape(r['device'])} · batch "
                  f"{r['batch_size']} · {r['input_len']} in / {r['output_len']} out · CUDA graphs {'on' if r['cuda_graphs'] else 'off'}")
    est = r["estimate"]
    for k, label in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("e2e_latency_s", "end to end"), ("output_tokens_per_s", "output tokens/s")):
        v = r[k]
        text = "-" if v is None else (f"{v:,.4g}" if k == "output_tokens_per_s" else fmt_time(v))
        if est and est[k]["estimate"] is not None:
            e = est[k]
            ev = f"{e['estimate']:,.4g}" if k == "output_tokens_per_s" else fmt_time(e["estimate"])
            text += f"   estimate on {escape(est['gpu'])}: {ev} ({fmt_pct(e['error'])})"
        console.print(f"  {label:16s} {text}")
    if output:
        console.print(f"appended to {escape(output)}")
