"""`roofline report MODEL`: a self-contained, offline HTML report with every chart, the tables and the working."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import command, model_argument, param, scenario_params, scenario_values

OutputOpt = Annotated[str, typer.Option("--output", "-o", help="File to write: .html.")]


def report(model: str, output: str, gpu: str, **values) -> None:
    from ..plots import style
    from ..plots.inputs import Inputs
    from ..report import render_report

    path = style.check_output(output, (".html",))
    inputs = Inputs.of(model, gpu, **scenario_values(values))
    style.write_text(path, render_report(inputs))
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, self-contained)")


def register(app: typer.Typer) -> None:
    params = [model_argument(), param("output", OutputOpt), *scenario_params()]
    app.command("report", help="Write one self-contained HTML report (works offline): inputs, every chart, result "
                "tables, the working.")(command(report, params))
