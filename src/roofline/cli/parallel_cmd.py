"""`roofline parallel`: every (tp, pp, dp[, ep]) split of a model over N GPUs, compared, one recommended."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .estimate_cmd import (ActOpt, BatchOpt, DtypeOpt, GpusPerNodeOpt, InOpt, InterNodeOpt, JsonOpt, KvOpt, MODEL_HELP,
                           OutOpt, UtilOpt, WBitsOpt, WeightOpt)

NumGpusOpt = Annotated[Optional[int], typer.Option(
    "--num-gpus", "-n", help="GPUs to split over; default: the smallest power of two on which some split fits.")]
ObjectiveOpt = Annotated[str, typer.Option(
    "--objective", help="Rank fitting splits by `throughput` (output tokens/s) or `latency` (end-to-end per request).")]
MaxTtftOpt = Annotated[Optional[float], typer.Option("--max-ttft", help="Latency target: longest acceptable TTFT, seconds.")]
MaxTpotOpt = Annotated[Optional[float], typer.Option("--max-tpot", help="Latency target: longest acceptable time per output token, seconds.")]
NoEpOpt = Annotated[bool, typer.Option("--no-expert-parallel", help="MoE models: do not try expert-parallel splits.")]


def register(app: typer.Typer) -> None:
    @app.command(help="Compare every tensor/pipeline/data(/expert)-parallel split of MODEL over N GPUs and recommend one.")
    def parallel(
        model: Annotated[str, typer.Argument(help=MODEL_HELP)],
        gpu: Annotated[str, typer.Option("--gpu", "-g", help="GPU name or alias (`roofline gpus`).")] = "a100-sxm-80gb",
        num_gpus: NumGpusOpt = None,
        gpus_per_node: GpusPerNodeOpt = None,
        inter_node_link: InterNodeOpt = None,
        dtype: DtypeOpt = None,
        weight_dtype: WeightOpt = None,
        weight_bits: WBitsOpt = None,
        activation_dtype: ActOpt = None,
        kv_cache_dtype: KvOpt = None,
        batch_size: BatchOpt = 1,
        input_len: InOpt = 1024,
        output_len: OutOpt = 256,
        gpu_memory_utilization: UtilOpt = 1.0,
        objective: ObjectiveOpt = "throughput",
        max_ttft: MaxTtftOpt = None,
        max_tpot: MaxTpotOpt = None,
        no_expert_parallel: NoEpOpt = False,
        json_out: JsonOpt = False,
    ) -> None:
        import json

        from ..estimates.parallel_plan import plan as make_plan

        p = make_plan(model, gpu, num_gpus=num_gpus, objective=objective, max_ttft=max_ttft, max_tpot=max_tpot,
                      allow_ep=not no_expert_parallel, gpus_per_node=gpus_per_node, inter_node_link=inter_node_link,
                      dtype=dtype, weight_dtype=weight_dtype, weight_bits=weight_bits, activation_dtype=activation_dtype,
                      kv_cache_dtype=kv_cache_dtype, batch_size=batch_size, input_len=input_len, output_len=output_len,
                      gpu_memory_utilization=gpu_memory_utilization)
        if json_out:
            typer.echo(json.dumps(p.to_dict(), indent=2))
            return
        _render(p)


def _split_table(p, with_link: bool):
    from rich.markup import escape

    from ..units import fmt_bytes, fmt_time
    from .layout import table
    from .render import IF_IT_FIT

    cols = ["split", "memory\nper GPU", "fits", "TTFT", "TPOT", "output\ntok/s", "per\nGPU", "comm", "bubble"]
    t = table(*cols, *(["tensor-parallel link"] if with_link else []), right=tuple(cols[1:2] + cols[3:]))
    for r in p.rows:
        mark = "★ " if r is p.recommended else ""
        if r.est is None:
            t.add_row(mark + r.split.label, "-", "[red]invalid[/red]", *["-"] * 6, *([escape(r.error[:60])] if with_link else []))
            continue
        e = r.est

        def timed(text: str) -> str:  # a split that does not fit is a hypothetical
            return text if e.memory.fits else f"[dim]{text}{IF_IT_FIT}[/dim]"

        link = (e.comm.get("tp_link") or {}).get("name") or "-"
        t.add_row(mark + r.split.label, fmt_bytes(e.memory.total_bytes), "yes" if e.memory.fits else "[red]no[/red]",
                  timed(fmt_time(e.ttft_s)), timed(fmt_time(e.tpot_s)), timed(f"{e.output_tokens_per_s:,.4g}"),
                  timed(f"{e.output_tokens_per_s / e.parallel['num_gpus']:,.4g}"),
                  f"{r.comm_share:.0%}", f"{r.bubble_share:.0%}" if r.split.pp > 1 else "-", *([escape(link)] if with_link else []))
    return t


def _render(p) -> None:
    from rich.markup import escape

    from .layout import console, fits, say
    from .render import IF_IT_FIT_LEGEND

    con = console()
    w = p.workload
    con.print(f"[bold]{escape(p.model)}[/bold] on {p.num_gpus} × {escape(p.gpu)} · batch {w['batch_size']} "
              f"(across replicas) · {w['input_len']} in / {w['output_len']} out tokens · ranked by {p.objective}")
    wide = _split_table(p, with_link=True)
    if fits(con, wide):
        con.print(wide)
    else:  # the links below the table, once each
        con.print(_split_table(p, with_link=False))
        links = {}
        for r in p.rows:
            name = ((r.est.comm.get("tp_link") or {}).get("name") if r.est else None)
            if name:
                links.setdefault(name, []).append(r.split.label)
        for name, labels in links.items():
            say(con, f"tensor-parallel link of {', '.join(labels)}: {escape(name)}")
    if any(r.est is not None and not r.est.memory.fits for r in p.rows):
        say(con, IF_IT_FIT_LEGEND)
    if p.recommended:
        con.print(f"[bold green]Recommended:[/bold green] {escape(p.recommended.split.label)}")
    else:
        con.print("[bold red]No recommendation.[/bold red]")
    for line in p.reasons:
        say(con, escape(line))
    for note in p.notes:
        say(con, f"[yellow]note:[/yellow] {escape(note)}")
