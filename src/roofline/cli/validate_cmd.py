"""`roofline validate FILE`: predictions against a file of measurements."""

from __future__ import annotations

from typing import Annotated

import typer

from .evidence_opts import JsonOpt, LevelOpt, fmt_pct


def register(app: typer.Typer) -> None:
    @app.command(help="Compare the estimates with a CSV of measurements (columns model, gpu, metric, value, and "
                      "optionally id, tp, pp, batch_size, input_len, output_len, dtype, weight_dtype, weight_bits, "
                      "activation_dtype, kv_cache_dtype): the error per case and the median |error| per metric.")
    def validate(
        file: Annotated[str, typer.Argument(help="CSV of measurements; metric one of ttft_s, tpot_s, e2e_latency_s, "
                                                 "output_tokens_per_s, output_tokens_per_s_per_gpu, decode_tokens_per_s.")],
        level: LevelOpt = 0.8,
        json_out: JsonOpt = False,
    ) -> None:
        import json

        from ..evidence.validate import validate as run_validate

        v = run_validate(file, level)
        if json_out:
            typer.echo(json.dumps(v, indent=2))
            return
        _render(v)


def _render(v: dict) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from .render import console as make_console
    console = make_console()

    from .layout import table

    t = table("case", "model", "GPU", "metric", "measured", "predicted", "error", f"{v['level']:.0%} range", "in?",
              right=("measured", "predicted", "error", "in?"))
    for c in v["cases"]:
        r = c["range"]
        t.add_row(escape(c["id"]), escape(c["model"]), escape(c["gpu"]), c["metric"], f"{c['measured']:.4g}",
                  f"{c['predicted']:.4g}", fmt_pct(c["error"]), f"{r['low']:.3g}–{r['high']:.3g}" if r else "no basis",
                  {True: "yes", False: "[red]no[/red]", None: "-"}[c["within_range"]])
    console.print(t)
    s = Table(box=box.SIMPLE_HEAD, title="per metric")
    for col in ("metric", "rows", "median |error|", "p90 |error|", "within range"):
        s.add_column(col, overflow="fold", justify="left" if col == "metric" else "right")
    for metric, m in v["summary"].items():
        s.add_row(metric, str(m["rows"]), f"{m['median_abs_error']:.1%}", f"{m['p90_abs_error']:.1%}",
                  "-" if m["within_range"] is None else f"{m['within_range']:.0%}")
    console.print(s)
