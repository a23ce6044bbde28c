"""`roofline calibrate`: measure this machine's GPU and write a calibration profile."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .evidence_opts import DeviceOpt, JsonOpt


def register(app: typer.Typer) -> None:
    @app.command(help="Measure the local GPU (needs PyTorch: the `gpu` extra): HBM bandwidth, matmul FLOP/s per "
                      "dtype, attention efficiency, kernel-launch overhead with and without CUDA graphs, all-reduce "
                      "across the visible GPUs; write a calibration profile.")
    def calibrate(
        output: Annotated[Optional[str], typer.Option("--output", "-o", help="Profile file to write (TOML). Default: on a GPU "
                          "the catalog knows, the per-user folder the estimates read it from (ROOFLINE_CALIBRATION_DIR, "
                          "else ~/.config/roofline/calibration/GPU.toml); otherwise profile.toml.")] = None,
        device: DeviceOpt = "cuda",
        gpu: Annotated[Optional[str], typer.Option("--gpu", "-g", help="Catalog GPU whose datasheet the factors are relative to; default: matched from the device name and memory.")] = None,
        dtypes: Annotated[str, typer.Option("--dtypes", help="Matmul formats to time, comma list of bf16, fp16, fp32, fp8, int8.")] = "bf16,fp16,fp8,int8",
        all_reduce_gpus: Annotated[Optional[int], typer.Option("--all-reduce-gpus", help="Processes in the all-reduce test; default: every visible GPU (none with one GPU). On --device cpu: gloo workers.")] = None,
        json_out: JsonOpt = False,
    ) -> None:
        import json

        from ..evidence.run_calibration import calibrate as run_calibration

        result = run_calibration(output, device, gpu, dtypes, all_reduce_gpus)
        if json_out:
            typer.echo(json.dumps(result, indent=2))
            return
        _render(result)


def _render(r: dict) -> None:
    from rich.markup import escape

    from ..units import fmt_rate, fmt_time
    from .render import console as make_console
    console = make_console()

    m = r["measured"]
    console.print(f"[bold]{escape(r['device']['name'])}[/bold] ({escape(r['device'].get('catalog_gpu') or 'no catalog match')})")
    console.print(f"  bandwidth   {m['memory']['bytes_per_s'] / 1e9:,.1f} GB/s (copy of {m['memory']['copy_bytes'] / 1e9:.3g} GB, read + write)")
    for dt, x in m["matmul"].items():
        console.print(f"  matmul {dt:5s} " + (f"{fmt_rate(x['flops_per_s'])} (n = {x['n']})" if "flops_per_s" in x else escape(x["skipped"])))
    a = m["attention"]
    eff = f"{a['prefill_efficiency']:.0%} of the matmul rate" if a["prefill_efficiency"] else "-"
    console.print(f"  attention   prefill {fmt_rate(a['prefill_flops_per_s'])} ({eff}); "
                  f"decode {a['decode_bytes_per_s'] / 1e9:,.3g} GB/s ({a['decode_efficiency']:.0%} of the copy bandwidth)")
    la = m["launch"]
    console.print(f"  launch      {fmt_time(la['eager_s'])} per kernel eager, "
                  + (f"{fmt_time(la['graph_s'])} from a CUDA graph" if la["graph_s"] else escape(la.get("graph_note", ""))))
    for row in m.get("all_reduce") or []:
        console.print(f"  all-reduce  {row['gpus']} × {row['bytes'] / 1e6:g} MB: {fmt_time(row['latency_s'])}, "
                      f"bus {row['bus_bandwidth'] / 1e9:,.1f} GB/s")
    for note in r["notes"]:
        console.print(f"  [yellow]note:[/yellow] {escape(note)}")
    console.print(f"wrote {escape(r['output'])}")
