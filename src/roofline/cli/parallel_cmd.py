"""`roofline parallel`: every (tp, pp, dp[, ep]) split of a model over N GPUs, compared, one recommended."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..options import PARALLEL_OWN
from .estimate_cmd import JsonOpt
from .options import command, model_argument, param, scenario_params, scenario_values

NumGpusOpt = Annotated[Optional[int], typer.Option(
    "--num-gpus", "-n", help="GPUs to split over; default: the smallest power of two on which some split fits.")]
ObjectiveOpt = Annotated[str, typer.Option(
    "--objective", help="Rank fitting splits by `throughput` (output tokens/s) or `latency` (end-to-end per request).")]
MaxTtftOpt = Annotated[Optional[float], typer.Option("--max-ttft", help="Latency target: longest acceptable TTFT, seconds.")]
MaxTpotOpt = Annotated[Optional[float], typer.Option("--max-tpot", help="Latency target: longest acceptable time per output token, seconds.")]
NoEpOpt = Annotated[bool, typer.Option("--no-expert-parallel", help="MoE models: do not try expert-parallel splits.")]


def parallel(model: str, gpu: str, num_gpus, objective: str, max_ttft, max_tpot, no_expert_parallel: bool,
             json_out: bool, **values) -> None:
    import json

    from ..estimates.parallel_plan import plan as make_plan

    options = {k: v for k, v in scenario_values(values).items() if k not in PARALLEL_OWN}
    p = make_plan(model, gpu, num_gpus=num_gpus, objective=objective, max_ttft=max_ttft, max_tpot=max_tpot,
                  allow_ep=not no_expert_parallel, **options)
    if json_out:
        typer.echo(json.dumps(p.to_dict(), indent=2))
        return
    _render(p)


def register(app: typer.Typer) -> None:
    gpu = param("gpu", Annotated[str, typer.Option("--gpu", "-g", help="GPU name or alias (`roofline gpus`).")], "a100-sxm-80gb")
    params = [model_argument(), *scenario_params(exclude=PARALLEL_OWN, overrides={"gpu": gpu}),
              param("num_gpus", NumGpusOpt, None), param("objective", ObjectiveOpt, "throughput"),
              param("max_ttft", MaxTtftOpt, None), param("max_tpot", MaxTpotOpt, None),
              param("no_expert_parallel", NoEpOpt, False),
              param("json_out", JsonOpt, False)]
    app.command("parallel", help="Compare every tensor/pipeline/data(/expert)-parallel split of MODEL over N GPUs and "
                "recommend one.")(command(parallel, params))


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
