"""`roofline plan`: the cheapest GPUs, count, split, formats and engine budget for a request rate
and latency targets, with the cost–latency frontier and why the others lost."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .estimate_cmd import JsonOpt, MODEL_HELP
from .prices_cmd import PricesOpt


def register(app: typer.Typer) -> None:
    @app.command(help="Find the cheapest deployment (GPU type, count, split, formats, engine budget) serving "
                      "--request-rate within --ttft-slo / --tpot-slo: screened analytically, finalists simulated.")
    def plan(
        model: Annotated[str, typer.Argument(help=MODEL_HELP)],
        request_rate: Annotated[float, typer.Option("--request-rate", help="Requests per second to serve (Poisson arrivals).")],
        input_len: Annotated[int, typer.Option("--input-len", help="Prompt tokens per request.")] = 1024,
        output_len: Annotated[int, typer.Option("--output-len", help="Generated tokens per request.")] = 256,
        ttft_slo: Annotated[Optional[float], typer.Option("--ttft-slo", help="Target: p90 time to first token, seconds.")] = None,
        tpot_slo: Annotated[Optional[float], typer.Option("--tpot-slo", help="Target: p90 time per output token, seconds.")] = None,
        gpus: Annotated[Optional[str], typer.Option("--gpus", help="Comma list of GPU types to consider (default: h100-sxm, h200-sxm, b200, a100-sxm-80gb, l40s, l4, mi300x).")] = None,
        max_gpus: Annotated[int, typer.Option("--max-gpus", help="Most GPUs in one deployment.")] = 8,
        engine: Annotated[str, typer.Option("--engine", help="Serving engine whose scheduling defaults apply: vllm, sglang or tensorrt-llm (trtllm).")] = "vllm",
        prices: PricesOpt = None,
        weight_dtype: Annotated[Optional[str], typer.Option("--weight-dtype", help="Comma list of weight formats to try (default auto,fp8; auto = the model dtype). Quality is not modelled.")] = None,
        kv_cache_dtype: Annotated[Optional[str], typer.Option("--kv-cache-dtype", help="Comma list of KV-cache formats to try (default auto,fp8).")] = None,
        no_disaggregate: Annotated[bool, typer.Option("--no-disaggregate", help="Only aggregated deployments (no separate prefill and decode pools).")] = False,
        num_prompts: Annotated[int, typer.Option("--num-prompts", help="Requests simulated per finalist (per replica).")] = 150,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated arrivals.")] = 0,
        json_out: JsonOpt = False,
    ) -> None:
        import json

        from ..planning import plan as make_plan

        r = make_plan(model, request_rate=request_rate, input_len=input_len, output_len=output_len, ttft_slo=ttft_slo,
                      tpot_slo=tpot_slo, gpus=gpus, max_gpus=max_gpus, engine=engine, prices=prices,
                      weight_dtypes=weight_dtype, kv_cache_dtypes=kv_cache_dtype, disaggregate=not no_disaggregate,
                      num_prompts=num_prompts, seed=seed)
        if json_out:
            typer.echo(json.dumps(r.to_dict(), indent=2))
            return
        _render(r)


def _lat(c, name: str) -> str:
    """A finalist's p90 latency (screened mean if not simulated) and, where the measurements give one, its 80% interval."""
    from ..planning.result import latency_range
    from ..units import fmt_time

    rng = latency_range(c, name)
    return fmt_time(c.metric(name)) + (f" ({fmt_time(rng['low'])}–{fmt_time(rng['high'])})" if rng else "")


def _render(r) -> None:
    """The answer, then the finalists: a table where it fits the terminal, else one block each."""
    from rich.markup import escape

    from .layout import console, fits, say, table

    con = console()
    con.print(f"[bold]{escape(r.model)}[/bold]: {escape(r.summary)}")
    rows = sorted(r.finalists, key=lambda c: c.usd_per_million_output_tokens)
    mark = lambda c: "★ " if c is r.chosen else ("◆ " if c in r.frontier else "")  # noqa: E731
    title = "Finalists (simulated)" if rows and rows[0].simulated else "Finalists"
    t = table("GPUs", "replicas × split", "weights/KV", "budget", "$/M out", "$/M in", "$/hour", "TTFT", "TPOT", "e2e",
              "verdict", right=("budget", "$/M out", "$/M in", "$/hour", "TTFT", "TPOT", "e2e"), title=title)
    for c in rows:
        t.add_row(escape(f"{mark(c)}{c.num_gpus} × {c.gpu}"), escape(c.layout), c.formats, str(c.budget),
                  f"{c.usd_per_million_output_tokens:.3g}", f"{c.usd_per_million_input_tokens:.3g}", f"{c.usd_per_hour:.2f}",
                  _lat(c, "ttft_s"), _lat(c, "tpot_s"), _lat(c, "e2e_s"), escape(c.verdict))
    if rows and fits(con, t):
        con.print(t)
    elif rows:  # too narrow for the table: one block per finalist, nothing cut
        con.print(f"[bold]{title}[/bold]")
        for c in rows:
            say(con, f"{escape(mark(c))}[bold]{c.num_gpus} × {escape(c.gpu)}[/bold] · {escape(c.layout)} · {escape(c.formats)} "
                     f"· budget {c.budget}", indent=0)
            say(con, f"${c.usd_per_million_output_tokens:.3g} per million output tokens (${c.usd_per_million_input_tokens:.3g} "
                     f"input), ${c.usd_per_hour:.2f}/hour · p90 TTFT {_lat(c, 'ttft_s')}, TPOT "
                     f"{_lat(c, 'tpot_s')}, e2e {_lat(c, 'e2e_s')}", indent=4)
            say(con, escape(c.verdict), indent=4)
    if rows:
        say(con, "★ chosen · ◆ on the cost–latency frontier (no other finalist is both cheaper and faster) · "
                 "latencies are p90 of the simulation, in brackets its 80% interval from the simulator's held-out "
                 "errors where the serving measurements give one (not simulated: the screened mean and the static "
                 "estimate's interval); budget = max_num_batched_tokens; $/M = US dollars per million tokens, the rent "
                 "over the offered load (no interval: the price and the rate fix it)",
            indent=0)
    s = r.counts
    if s:
        say(con, f"Screened {s['screened']:,} candidates: {s['cannot_keep_up']:,} cannot keep up with the rate, "
                      f"{s['miss_targets_by_estimate']:,} miss the targets by estimate, {s['dearer_than_finalists']:,} meet them "
                 f"but cost more than the cheapest finalist; {len(r.unfit)} replica shapes do not fit at all.", indent=0)
    for note in r.notes:
        say(con, f"[yellow]note:[/yellow] {escape(note)}")
