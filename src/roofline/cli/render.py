"""Human output for the CLI (rich). Numbers are SI inside; here they get their units."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..estimates.result import Estimate
from ..units import fmt_bw, fmt_bytes, fmt_flops, fmt_num, fmt_rate, fmt_time



class _Console(Console):
    def on_broken_pipe(self) -> None:
        """rich exits 1 on a closed pipe; `roofline ... | head` is a normal use, so let the entry
        point end it quietly with status 0."""
        raise BrokenPipeError


console = _Console(highlight=False)
if not console.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
    console = _Console(highlight=False, width=160)


def _fit(e: Estimate) -> str:
    m = e.memory
    if m.fits:
        return f"[green]fits[/green] ({fmt_bytes(m.headroom_bytes)} free)"
    return f"[red]does not fit[/red]: short by {fmt_bytes(m.shortfall_bytes)}"


def _gpu_label(e: Estimate) -> str:
    g = e.gpu
    via = f" ('{g['query']}')" if g["query"].lower() != g["name"] else ""
    return escape(f"{g['display_name']} [{g['name']}]{via}")


def estimate(e: Estimate) -> None:
    w, p = e.workload, e.parallel
    split = (f" · tp={p['tp']} pp={p['pp']}" + (f" dp={p['dp']}" if p.get("dp", 1) > 1 else "")
             + (f" ep={p['ep']}" if p.get("ep", 1) > 1 else "") + f" ({p['num_gpus']} GPUs)") if p["num_gpus"] > 1 else ""
    mode = " · ideal roofline" if e.ideal else ""
    console.print(f"[bold]{e.model['name']}[/bold] on {_gpu_label(e)}{split}{mode}")
    console.print(f"  {e.precision['label']} · batch {w['batch_size']} · {w['input_len']} in / {w['output_len']} out tokens")
    t = Table(box=box.SIMPLE, show_header=False, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    m = e.memory
    t.add_row("Memory per GPU", f"weights {fmt_bytes(m.weights_bytes)} + KV {fmt_bytes(m.kv_cache_bytes)} + activations "
              f"{fmt_bytes(m.activation_bytes)} + overhead {fmt_bytes(m.overhead_bytes)} = {fmt_bytes(m.total_bytes)} "
              f"of {fmt_bytes(m.capacity_bytes)}: {_fit(e)}")
    pf, dc = e.prefill, e.decode
    t.add_row("Prefill (TTFT)", f"{fmt_time(pf.time_s)} · {pf.bound}-bound · {fmt_flops(pf.flops)} · "
              f"intensity {fmt_num(pf.arithmetic_intensity)} FLOP/B")
    t.add_row("Decode (TPOT)", f"{fmt_time(dc.time_s)} per token · {e.decode_tokens_per_s:,.4g} tokens/s "
              f"({1 / dc.time_s:,.4g} per sequence) · {dc.bound}-bound · intensity {fmt_num(dc.arithmetic_intensity)} FLOP/B")
    t.add_row("End to end", f"{fmt_time(e.e2e_latency_s)} · {e.output_tokens_per_s:,.4g} output tokens/s"
              + (f" ({e.output_tokens_per_s / p['num_gpus']:,.4g} per GPU)" if p["num_gpus"] > 1 else ""))
    if pf.comm_s or dc.comm_s:
        links = [f"{k.split('_')[0]}: {v['name']} at {fmt_bw(v['bandwidth'])}" for k, v in e.comm.items() if v]
        t.add_row("Communication", f"prefill {fmt_time(pf.comm_s)} · decode {fmt_time(dc.comm_s)} per step"
                  + (f" · {escape('; '.join(links))}" if links else ""))
    if e.pipeline:
        pl = e.pipeline
        t.add_row("Pipeline", f"{pl['stages']} stages of {pl['layers_per_stage']} layers · {pl['micro_batches']} micro-batch(es) "
                  f"of {pl['micro_batch_size']} · bubble {pl['prefill']['bubble_fraction']:.0%} of prefill, "
                  f"{pl['decode']['bubble_fraction']:.0%} of each decode step")
    if e.speculative:
        sp = e.speculative
        t.add_row("Speculative", f"{escape(sp['draft'])}, k={sp['num_speculative_tokens']}, α={sp['acceptance_rate']:g}: "
                  f"{sp['expected_tokens_per_step']:.3g} tokens per {fmt_time(sp['step_s'])} step · "
                  f"{sp['speedup']:.2f}× vs {fmt_time(sp['time_per_token_without_s'])} per token without")
    cap = e.capacity
    kv = e.kv_capacity
    t.add_row("Engine KV cache", f"{fmt_bytes(kv.kv_capacity_bytes)} = {kv.kv_capacity_tokens:,} tokens under "
              f"{kv.engine} {kv.engine_version.split()[0]} defaults · holds {kv.max_concurrency} concurrent requests "
              f"of {kv.tokens_per_request:,} tokens (continuous batching)")
    t.add_row("Capacity", f"largest static batch {cap['max_batch_size']} at this context · longest context "
              f"{cap['max_context_len']:,} tokens at this batch"
              + (f" (memory allows {cap['max_context_len_by_memory']:,})" if cap["max_context_len_by_memory"] > cap["max_context_len"] else "")
              + " · fewest GPUs "
              + (f"{cap['min_gpus']} (tp={cap['min_gpus_tp']}, pp={cap['min_gpus_pp']})" if cap["min_gpus"] else "more than 4096"))
    crit = f"{e.critical_batch_size}" if e.critical_batch_size else "none (never compute-bound)"
    t.add_row("Ridge point", f"{e.ridge_point_flop_per_byte:.4g} FLOP/B ({e.precision['compute_dtype']}) · critical batch {crit}")
    console.print(t)
    for note in e.notes:
        console.print(f"  [yellow]note:[/yellow] {escape(note)}")


def comparison(results: list[Estimate]) -> None:
    e0 = results[0]
    w = e0.workload
    console.print(f"[bold]{e0.model['name']}[/bold] · batch {w['batch_size']} · {w['input_len']} in / {w['output_len']} out tokens"
                  + (" · ideal roofline" if e0.ideal else ""))
    t = Table(box=box.SIMPLE_HEAD)
    for col in ("GPU", "format", "memory/GPU", "fits", "TTFT", "prefill", "TPOT", "decode", "tokens/s", "BW", "peak", "ridge"):
        t.add_column(col, justify="left" if col in ("GPU", "format", "fits", "prefill", "decode") else "right")
    for e in results:
        t.add_row(e.gpu["name"], e.precision["compute_dtype"], fmt_bytes(e.memory.total_bytes),
                  "yes" if e.memory.fits else f"[red]no[/red] (−{fmt_bytes(e.memory.shortfall_bytes)})",
                  fmt_time(e.ttft_s), e.prefill.bound, fmt_time(e.tpot_s), e.decode.bound,
                  f"{e.output_tokens_per_s:,.4g}", fmt_bw(e.gpu["memory_bandwidth"]), fmt_rate(e.gpu["peak_flops"]),
                  f"{e.ridge_point_flop_per_byte:.0f}")
    console.print(t)
    if len(results) > 1:
        base = results[0]
        for e in results[1:]:
            console.print(f"  {e.gpu['name']} vs {base.gpu['name']}: prefill {base.ttft_s / e.ttft_s:.2f}× "
                          f"(peak ratio {e.gpu['peak_flops'] / base.gpu['peak_flops']:.2f}), decode {base.tpot_s / e.tpot_s:.2f}× "
                          f"(bandwidth ratio {e.gpu['memory_bandwidth'] / base.gpu['memory_bandwidth']:.2f})")
    for e in results:
        for note in e.notes:
            console.print(f"  [yellow]note ({e.gpu['name']}):[/yellow] {escape(note)}")


def ops_table(e: Estimate) -> None:
    t = Table(title=f"operators on {e.gpu['name']} (per GPU, all layers)", box=box.SIMPLE_HEAD)
    for col in ("phase", "operator", "layers", "×", "FLOPs", "bytes", "FLOP/B", "time", "bound"):
        t.add_column(col, justify="right" if col in ("×", "FLOPs", "bytes", "FLOP/B", "time") else "left")
    for o in e.ops:
        ai = "-" if o.bytes == 0 else f"{o.arithmetic_intensity:.3g}"
        t.add_row(o.phase, o.name, o.group, str(o.count), fmt_flops(o.flops), fmt_bytes(o.bytes), ai, fmt_time(o.time_s), o.bound)
    console.print(t)


def explain(e: Estimate) -> None:
    trace = e.explain()
    console.print(f"\n[bold]Working[/bold] ({e.model['name']} on {e.gpu['name']})")
    for section, steps in trace.sections().items():
        console.print(f"[bold cyan]{section}[/bold cyan]")
        for s in steps:
            if s.name == "note":
                console.print(f"  [yellow]note:[/yellow] {escape(s.formula)}")
            else:
                console.print("  " + s.line(), markup=False)


def gpus_table(gpus) -> None:
    t = Table(box=box.SIMPLE_HEAD, title="GPUs (dense peaks; memory as the driver reports it, datasheet label in brackets; `roofline show NAME` for details)")
    for col in ("name", "aliases", "memory", "bandwidth", "bf16", "fp8", "fp4", "ridge bf16", "link"):
        t.add_column(col, justify="right" if col in ("memory", "bandwidth", "bf16", "fp8", "fp4", "ridge bf16") else "left")
    for g in gpus:
        pk = g.peak_flops
        half = pk.get("bf16") or pk.get("fp16")
        label = f" ({g.memory_label})" if g.memory_label else ""
        t.add_row(g.name, ", ".join(g.aliases[:3]), fmt_bytes(g.memory_bytes) + label, fmt_bw(g.memory_bandwidth),
                  fmt_rate(half) if half else "-", fmt_rate(pk["fp8"]) if "fp8" in pk else "-",
                  fmt_rate(pk["fp4"]) if "fp4" in pk else "-", f"{half / g.memory_bandwidth:.0f}" if half else "-",
                  g.scale_up_link or g.host_link)
    console.print(t)


def models_table(rows: list[dict]) -> None:
    t = Table(box=box.SIMPLE_HEAD, title="Models (`roofline show NAME` for shapes; * the convention of the published active count)")
    for col in ("name", "params", "active", "active w/o embedding", "layers", "hidden", "attention", "KV/token bf16", "context"):
        t.add_column(col, justify="left" if col in ("name", "attention") else "right")
    for r in rows:
        # * marks the figure the model's published active count uses
        conv = r.get("published_active_convention")
        star = {"with_embedding": ("*", ""), "without_embedding": ("", "*")}.get(conv, ("", ""))
        t.add_row(r["name"], fmt_num(r["total_params"]), fmt_num(r["active_params"]) + star[0],
                  fmt_num(r["active_params_excluding_embedding"]) + star[1], str(r["layers"]),
                  str(r["hidden_size"]), r["attention"], fmt_bytes(r["kv_bytes_per_token_bf16"]),
                  str(r["max_position_embeddings"] or "-"))
    console.print(t)


def key_values(title: str, rows: list[tuple[str, str]]) -> None:
    t = Table(box=box.SIMPLE, show_header=False, title=title, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    for k, v in rows:
        t.add_row(escape(k), escape(v))
    console.print(t)


def formulas_table(items) -> None:
    for f in items:
        console.print(f"[bold]{escape(f.name)}[/bold]: {escape(f.formula)}")
        console.print(f"  = {f.example}", markup=False)
        value = f"{fmt_num(f.value)} {f.unit}"
        console.print(f"  → {value}", markup=False)
        if f.seed:
            console.print(f"  seed: “{f.seed}” — {f.verdict}", markup=False)
