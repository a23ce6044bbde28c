"""`roofline analyze`: a measured run against the roofline (utilization, estimate, interval, losses)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .evidence_opts import (MODEL_HELP, ActOpt, DtypeOpt, GpuOpt, JsonOpt, KvOpt, LevelOpt, PpOpt, TpOpt, WBitsOpt,
                            WeightOpt, fmt_pct, precision_options)


def register(app: typer.Typer) -> None:
    @app.command(help="Hold your own measured run (flags, a vLLM benchmark result JSON or a trtllm-bench report) "
                      "against the roofline: MBU/MFU against the true limit, the estimate and its interval, where it loses.")
    def analyze(
        model: Annotated[str, typer.Argument(help=MODEL_HELP)],
        gpu: GpuOpt = "a100-sxm-80gb",
        result: Annotated[Optional[str], typer.Option("--result", help="A `vllm bench serve --save-result` / benchmark_serving.py JSON, or a `trtllm-bench throughput` report (text).")] = None,
        ttft: Annotated[Optional[float], typer.Option("--ttft", help="Measured time to first token, seconds.")] = None,
        tpot: Annotated[Optional[float], typer.Option("--tpot", help="Measured time per output token, seconds.")] = None,
        e2e: Annotated[Optional[float], typer.Option("--e2e", help="Measured end-to-end latency per request, seconds.")] = None,
        output_throughput: Annotated[Optional[float], typer.Option("--output-throughput", help="Measured output tokens/s, all GPUs together.")] = None,
        batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Sequences in flight (the concurrency); default: from --result, else 1.")] = None,
        input_len: Annotated[Optional[int], typer.Option("--input-len", help="Prompt tokens; default: from --result, else 1024.")] = None,
        output_len: Annotated[Optional[int], typer.Option("--output-len", help="Generated tokens; default: from --result, else 256.")] = None,
        tensor_parallel_size: TpOpt = 1,
        pipeline_parallel_size: PpOpt = 1,
        dtype: DtypeOpt = None,
        weight_dtype: WeightOpt = None,
        weight_bits: WBitsOpt = None,
        activation_dtype: ActOpt = None,
        kv_cache_dtype: KvOpt = None,
        level: LevelOpt = 0.8,
        json_out: JsonOpt = False,
    ) -> None:
        import json

        from ..evidence.analyze import analyze as run_analysis
        from ..evidence.runs import MeasuredRun, merge, read_result

        run = read_result(result) if result else MeasuredRun()
        run = merge(run, ttft_s=ttft, tpot_s=tpot, e2e_latency_s=e2e, output_tokens_per_s=output_throughput,
                    batch_size=batch_size, input_len=input_len, output_len=output_len)
        a = run_analysis(run, model, gpu, level=level,
                         **precision_options(dtype, weight_dtype, weight_bits, activation_dtype, kv_cache_dtype,
                                             tensor_parallel_size, pipeline_parallel_size))
        if json_out:
            typer.echo(json.dumps(a, indent=2))
            return
        _render(a, level)


def _fmt(key: str, v) -> str:
    from ..units import fmt_time

    if v is None:
        return "-"
    return f"{v:,.4g} tok/s" if key == "output_tokens_per_s" else fmt_time(v)


def _render(a: dict, level: float) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from ..units import fmt_time
    from .render import console as make_console
    console = make_console()

    w = a["workload"]
    console.print(f"[bold]{escape(a['model'])}[/bold] on {a['parallel']['num_gpus']} × {escape(a['gpu'])} · "
                  f"batch {w['batch_size']} · {w['input_len']} in / {w['output_len']} out · {escape(a['precision'])}")
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("figure", "measured", "estimate", f"{level:.0%} range", "estimate error", "in range"):
        t.add_column(col, overflow="fold", justify="left" if col == "figure" else "right")
    for k, f in a["figures"].items():
        rng = f["range"]
        t.add_row(k, _fmt(k, f["measured"]), _fmt(k, f["estimate"]),
                  f"{_fmt(k, rng['low'])} – {_fmt(k, rng['high'])}" if rng else "no basis",
                  fmt_pct(f["error"]), {True: "yes", False: "[red]no[/red]", None: "-"}[f["within_range"]])
    console.print(t)
    if a["phases"]:
        p = Table(box=box.SIMPLE_HEAD)
        for col in ("phase", "measured", "true limit", "bound", "MBU", "MFU", "slower than limit"):
            p.add_column(col, overflow="fold", justify="left" if col in ("phase", "bound") else "right")
        for ph in a["phases"]:
            p.add_row(ph["phase"], fmt_time(ph["measured_s"]), fmt_time(ph["limit_s"]), ph["bound"],
                      f"{ph['mbu']:.0%}", f"{ph['mfu']:.0%}", f"{ph['headroom']:.0%}")
        console.print(p)
    if a["loses"]:
        console.print(f"[bold]Where it loses:[/bold] {escape(a['loses']['summary'])}")
    for note in a["notes"]:
        console.print(f"  [yellow]note:[/yellow] {escape(note)}")
