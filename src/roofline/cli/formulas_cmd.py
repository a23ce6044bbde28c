"""`roofline formulas`: the quick-reference formulas, computed, each with a worked example."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command(help="The quick-reference formulas, each computed with a worked example and checked against the classic rules of thumb.")
    def formulas(json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
        from ..estimates.formulas import formulas as compute

        items = compute()
        if json_out:
            typer.echo(json.dumps([f.to_dict() for f in items], indent=2))
            return
        from . import render

        render.formulas_table(items)
