"""`roofline prices`: the hourly GPU prices costs are computed from, with their source and date."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

PricesOpt = Annotated[Optional[str], typer.Option(
    "--prices", help="Your own prices: a CSV file of 'gpu,usd_per_gpu_hour[,source]' lines (or TOML in the "
    "built-in shape); they replace the built-in ones for the GPUs named.")]


def register(app: typer.Typer) -> None:
    @app.command(help="List the hourly price per GPU used for cost per million tokens, with source and date.")
    def prices(prices_file: PricesOpt = None,
               json_out: Annotated[bool, typer.Option("--json", help="One JSON list, US dollars per GPU-hour.")] = False) -> None:
        import json

        from ..catalog.prices import load_prices

        table = load_prices(prices_file)
        if json_out:
            typer.echo(json.dumps([p.to_dict() for p in table.values()], indent=2))
            return
        _render(table)


def _render(table: dict) -> None:
    from rich.markup import escape

    from .layout import console as new_console
    from .layout import table as compact_table

    console = new_console()
    # the source wraps under its price rather than being cut: every column folds, none drops text
    t = compact_table("GPU", "$/GPU-hour", "providers", "range", "observed", "source", right=("$/GPU-hour", "providers"))
    for p in sorted(table.values(), key=lambda p: p.usd_per_gpu_hour):
        rng = f"{p.low:.2f}–{p.high:.2f}" if p.low is not None and p.low != p.high else "-"
        t.add_row(p.gpu, f"{p.usd_per_gpu_hour:.2f}", str(p.providers or "-"), rng, escape(p.observed or "-"),
                  escape(p.source))
    console.print(t)
    console.print("Defaults: the median on-demand list price across providers (shared/reference/prices.md). "
                  "Cost per million tokens = $/GPU-hour × GPUs ÷ (tokens/s × 3600) × 10⁶.")
