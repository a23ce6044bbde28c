"""Human output for the CLI (rich). Numbers are SI inside; here they get their units.

Every layout fits an 80-column terminal without cutting a word (cli/layout.py). A workload that
does not fit is still timed, but its latencies and throughputs are marked "if it fit" and dimmed:
they describe hardware that would hold it, not the one asked about.
"""

from __future__ import annotations

from rich.markup import escape

from ..estimates.result import Estimate
from ..units import fmt_bw, fmt_bytes, fmt_count, fmt_flops, fmt_num, fmt_rate, fmt_time
from .layout import chunks_that_fit, fits, say, table
from .layout import console as new_console

class _LiveConsole:
    """`render.console` for the commands that print with it: a console made at each use, so that
    it takes the width of the terminal (or $COLUMNS) of the moment, not of the import. Call it for
    a console (`console()`), or print with it directly (`console.print`)."""

    def __call__(self):
        return new_console()

    def __getattr__(self, name):
        return getattr(new_console(), name)


console = _LiveConsole()

IF_IT_FIT = "*"
IF_IT_FIT_LEGEND = f"[dim]{IF_IT_FIT} if it fit: the workload does not fit there, so these figures are hypothetical[/dim]"


def _fit(e: Estimate) -> str:
    m = e.memory
    if m.fits:
        return f"[green]fits[/green] ({fmt_bytes(m.headroom_bytes)} free)"
    return f"[red]does not fit[/red]: short by {fmt_bytes(m.shortfall_bytes)}"


def _gpu_label(e: Estimate) -> str:
    g = e.gpu
    via = f" ('{g['query']}')" if g["query"].lower() != g["name"] else ""
    return escape(f"{g['display_name']} [{g['name']}]{via}")


def _split(p: dict) -> str:
    if p["num_gpus"] <= 1:
        return ""
    extra = (f" dp={p['dp']}" if p.get("dp", 1) > 1 else "") + (f" ep={p['ep']}" if p.get("ep", 1) > 1 else "")
    return f" · tp={p['tp']} pp={p['pp']}{extra} ({p['num_gpus']} GPUs)"


def _rate(x: float) -> str:
    return f"{x:,.4g}"


def _range(e: Estimate, figure: str, fmt) -> str:
    """' (80%: low – high)' from the held-out errors of the calibration set, or nothing without a basis."""
    r = e.ranges.get(f"{figure}_range")
    return f" ({r['level']:.0%}: {fmt(r['low'])} – {fmt(r['high'])})" if r else ""


def estimate(e: Estimate) -> None:
    con = new_console()
    w, p = e.workload, e.parallel
    con.print(f"[bold]{e.model['name']}[/bold] on {_gpu_label(e)}{_split(p)}" + (" · ideal roofline" if e.ideal else ""))
    say(con, f"{e.precision['label']} · batch {w['batch_size']} · {w['input_len']} in / {w['output_len']} out tokens")
    t = table("", "", header=False)
    t.columns[0].style = "bold"
    m, pf, dc = e.memory, e.prefill, e.decode
    t.add_row("Memory per GPU", f"weights {fmt_bytes(m.weights_bytes)} + KV {fmt_bytes(m.kv_cache_bytes)} + activations "
              f"{fmt_bytes(m.activation_bytes)} + overhead {fmt_bytes(m.overhead_bytes)} = {fmt_bytes(m.total_bytes)} "
              f"of {fmt_bytes(m.capacity_bytes)}: {_fit(e)}")
    timed = [
        ("Prefill (TTFT)", f"{fmt_time(pf.time_s)}{_range(e, 'ttft_s', fmt_time)} · {pf.bound}-bound · {fmt_flops(pf.flops)} · "
                           f"intensity {fmt_num(pf.arithmetic_intensity)} FLOP/B"),
        ("Decode (TPOT)", f"{fmt_time(dc.time_s)}{_range(e, 'tpot_s', fmt_time)} per token · decode throughput {_rate(e.decode_tokens_per_s)} tokens/s "
                          f"({_rate(1 / dc.time_s)} per sequence) · {dc.bound}-bound · intensity "
                          f"{fmt_num(dc.arithmetic_intensity)} FLOP/B"),
        ("End to end", f"{fmt_time(e.e2e_latency_s)}{_range(e, 'e2e_latency_s', fmt_time)} · output throughput (static "
                       f"batch) {_rate(e.output_tokens_per_s)}{_range(e, 'output_tokens_per_s', _rate)} tokens/s"
                       + (f" ({_rate(e.output_tokens_per_s / p['num_gpus'])} per GPU)" if p["num_gpus"] > 1 else "")),
    ]
    if e.cost:
        c = e.cost
        rng = c.get("usd_per_million_output_tokens_range")  # the throughput interval's, inverted
        cost_rng = f" ({rng['level']:.0%}: ${rng['low']:,.3g} – ${rng['high']:,.3g})" if rng else ""
        timed.append(("Cost", f"${c['usd_per_million_output_tokens']:,.3g}{cost_rng} per million output tokens at "
                      f"${c['usd_per_gpu_hour']:.2f}/GPU-hour × {c['num_gpus']} (median on-demand price, "
                      f"{c['price_observed']}; `roofline prices`)"))
    if pf.comm_s or dc.comm_s:
        links = [f"{k.split('_')[0]}: {v['name']} at {fmt_bw(v['bandwidth'])}" for k, v in e.comm.items() if v]
        timed.append(("Communication", f"prefill {fmt_time(pf.comm_s)} · decode {fmt_time(dc.comm_s)} per step"
                      + (f" · {escape('; '.join(links))}" if links else "")))
    if e.pipeline:
        pl = e.pipeline
        timed.append(("Pipeline", f"{pl['stages']} stages of {pl['layers_per_stage']} layers · {pl['micro_batches']} "
                      f"micro-batch(es) of {pl['micro_batch_size']} · bubble {pl['prefill']['bubble_fraction']:.0%} of "
                      f"prefill, {pl['decode']['bubble_fraction']:.0%} of each decode step"))
    if e.speculative:
        sp = e.speculative
        timed.append(("Speculative", f"{escape(sp['draft'])}, k={sp['num_speculative_tokens']}, α={sp['acceptance_rate']:g}: "
                      f"{sp['expected_tokens_per_step']:.3g} tokens per {fmt_time(sp['step_s'])} step · "
                      f"{sp['speedup']:.2f}× vs {fmt_time(sp['time_per_token_without_s'])} per token without"))
    for label, text in timed:
        if m.fits:
            t.add_row(label, text)
        else:  # a hypothetical: say so on every line, dimmed
            t.add_row(f"[dim]{label}[/dim]", f"[dim]if it fit: {text}[/dim]")
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
    con.print(t)
    for note in e.notes:
        say(con, f"[yellow]note:[/yellow] {escape(note)}")


def _comparison_metrics() -> list[tuple[str, str, bool, object]]:
    """(wide header, transposed label, hypothetical when it does not fit, value) for each compared figure."""
    def fits(e):
        return "yes" if e.memory.fits else f"[red]no[/red], short {fmt_bytes(e.memory.shortfall_bytes)}"

    return [
        ("format", "format", False, lambda e: e.precision["compute_dtype"]),
        ("memory\nper GPU", "memory per GPU", False, lambda e: fmt_bytes(e.memory.total_bytes)),
        ("fits", "fits", False, fits),
        ("TTFT", "TTFT (prefill)", True, lambda e: fmt_time(e.ttft_s)),
        ("prefill\nbound", "prefill bound by", False, lambda e: e.prefill.bound),
        ("TPOT", "TPOT (decode step)", True, lambda e: fmt_time(e.tpot_s)),
        ("decode\nbound", "decode bound by", False, lambda e: e.decode.bound),
        ("output tok/s\nstatic batch", "output tokens/s (static batch)", True, lambda e: _rate(e.output_tokens_per_s)),
        ("decode\ntok/s", "decode tokens/s", True, lambda e: _rate(e.decode_tokens_per_s)),
        ("memory\nbandwidth", "memory bandwidth", False, lambda e: fmt_bw(e.gpu["memory_bandwidth"])),
        ("dense\npeak", "dense peak", False, lambda e: fmt_rate(e.gpu["peak_flops"])),
        ("ridge\nFLOP/B", "ridge point, FLOP/B", False, lambda e: f"{e.ridge_point_flop_per_byte:.0f}"),
    ]


def _cell(e: Estimate, hypothetical: bool, value) -> str:
    text = value(e)
    return f"[dim]{text}{IF_IT_FIT}[/dim]" if hypothetical and not e.memory.fits else text


def _comparison_wide(results: list[Estimate]):
    metrics = _comparison_metrics()
    t = table("GPU", *(h for h, *_ in metrics), right=tuple(h for h, *_ in metrics if h not in
                                                              ("format", "fits", "prefill\nbound", "decode\nbound")))
    for e in results:
        t.add_row(e.gpu["name"], *(_cell(e, hyp, value) for _, _, hyp, value in metrics))
    return t


def _comparison_transposed(results: list[Estimate]):
    """One column per GPU (the figures down the side), for terminals too narrow for one row per GPU."""
    t = table("", *(e.gpu["name"] for e in results), right=tuple(e.gpu["name"] for e in results))
    for _, label, hyp, value in _comparison_metrics():
        t.add_row(label, *(_cell(e, hyp, value) for e in results))
    return t


def comparison(results: list[Estimate]) -> None:
    con = new_console()
    e0 = results[0]
    w = e0.workload
    con.print(f"[bold]{e0.model['name']}[/bold] · batch {w['batch_size']} · {w['input_len']} in / {w['output_len']} out tokens"
              + (" · ideal roofline" if e0.ideal else ""))
    wide = _comparison_wide(results)
    if fits(con, wide):
        con.print(wide)
    else:
        for group in chunks_that_fit(con, results, _comparison_transposed):
            con.print(_comparison_transposed(group))
    if not all(e.memory.fits for e in results):
        say(con, IF_IT_FIT_LEGEND)
    base = results[0]
    for e in results[1:]:
        say(con, f"{e.gpu['name']} vs {base.gpu['name']}: prefill {base.ttft_s / e.ttft_s:.2f}× "
                  f"(peak ratio {e.gpu['peak_flops'] / base.gpu['peak_flops']:.2f}), decode {base.tpot_s / e.tpot_s:.2f}× "
                  f"(bandwidth ratio {e.gpu['memory_bandwidth'] / base.gpu['memory_bandwidth']:.2f})")
    for e in results:
        for note in e.notes:
            say(con, f"[yellow]note ({e.gpu['name']}):[/yellow] {escape(note)}")


def ops_table(e: Estimate) -> None:
    con = new_console()
    for phase in dict.fromkeys(o.phase for o in e.ops):
        t = table("operator", "layers", "×", "FLOPs", "bytes", "FLOP/B", "time", "bound",
                  right=("×", "FLOPs", "bytes", "FLOP/B", "time"),
                  title=f"{phase} operators on {e.gpu['name']} (per GPU, all layers)")
        for o in (o for o in e.ops if o.phase == phase):
            ai = "-" if o.bytes == 0 else f"{o.arithmetic_intensity:.3g}"
            t.add_row(o.name, o.group, str(o.count), fmt_flops(o.flops), fmt_bytes(o.bytes), ai, fmt_time(o.time_s), o.bound)
        con.print(t)


def explain(e: Estimate) -> None:
    con = new_console()
    trace = e.explain()
    con.print(f"\n[bold]Working[/bold] ({e.model['name']} on {e.gpu['name']})")
    for section, steps in trace.sections().items():
        con.print(f"[bold cyan]{section}[/bold cyan]")
        for s in steps:
            if s.name == "note":
                say(con, f"[yellow]note:[/yellow] {escape(s.formula)}")
            else:
                say(con, s.line(), markup=False)


def _tflops(x: float | None) -> str:
    return f"{x / 1e12:,.0f}" if x else "-"


def _memory(g) -> str:
    """The capacity as the driver reports it, the datasheet's label beside it: "85.9 GB (80 GB)"."""
    label = getattr(g, "memory_label", "")
    return fmt_bytes(g.memory_bytes) + (f" ({label})" if label else "")


def _gpus_wide(gpus):
    t = table("name", "aliases", "memory", "bandwidth", "bf16", "fp8", "fp4", "ridge bf16", "link",
              right=("memory", "bandwidth", "bf16", "fp8", "fp4", "ridge bf16"),
              title="GPUs: memory as the driver reports it (datasheet label); dense peaks in TFLOP/s; ridge in FLOP/B; "
                    "`roofline show NAME` for details")
    for g in gpus:
        half = g.peak_flops.get("bf16") or g.peak_flops.get("fp16")
        t.add_row(g.name, ", ".join(g.aliases[:3]), _memory(g), fmt_bw(g.memory_bandwidth), _tflops(half),
                  _tflops(g.peak_flops.get("fp8")), _tflops(g.peak_flops.get("fp4")),
                  f"{half / g.memory_bandwidth:.0f}" if half else "-", g.scale_up_link or g.host_link)
    return t


def _gpus_stacked(gpus):
    """Aliases and link under each name, so that the numbers keep their own columns at 80 columns."""
    t = table("name (aliases; link)", "memory", "bandwidth", "bf16", "fp8", "fp4", "ridge",
              right=("memory", "bandwidth", "bf16", "fp8", "fp4", "ridge"),
              title="GPUs: memory as the driver reports it (datasheet label); dense peaks in TFLOP/s; ridge (bf16) in "
                    "FLOP/B; `roofline show NAME` for details")
    for g in gpus:
        half = g.peak_flops.get("bf16") or g.peak_flops.get("fp16")
        extra = ", ".join(g.aliases[:3]) + ("; " if g.aliases else "") + (g.scale_up_link or g.host_link)
        t.add_row(f"[bold]{g.name}[/bold]\n[dim]  {escape(extra)}[/dim]", _memory(g), fmt_bw(g.memory_bandwidth),
                  _tflops(half), _tflops(g.peak_flops.get("fp8")), _tflops(g.peak_flops.get("fp4")),
                  f"{half / g.memory_bandwidth:.0f}" if half else "-")
    return t


def gpus_table(gpus) -> None:
    con = new_console()
    wide = _gpus_wide(gpus)
    con.print(wide if fits(con, wide) else _gpus_stacked(gpus))


def _context(n: int | None) -> str:
    """Context windows as people say them: 131072 -> '128k' (k = 1024 tokens when it divides)."""
    if not n:
        return "-"
    return f"{n // 1024:,}k" if n % 1024 == 0 and n >= 1024 else f"{n:,}"


def _models(rows: list[dict], narrow: bool):
    """Narrow: layers × hidden in one column and `attn` for attention, so that it fits 80 columns."""
    shape = ("layers ×\nhidden",) if narrow else ("layers", "hidden")
    cols = ("name", "params", "active", "active w/o\nembedding", *shape, "attn" if narrow else "attention", "KV/token\nbf16", "context")
    t = table(*cols, right=tuple(c for c in cols if c not in ("name", "attn", "attention")),
              title="Models (`roofline show NAME` for shapes; * the convention of the published active count"
                    + ("; attn: attention)" if narrow else ")"))
    for r in rows:
        # * marks the figure the model's published active count uses
        star = {"with_embedding": ("*", ""), "without_embedding": ("", "*")}.get(r.get("published_active_convention"), ("", ""))
        dims = (f"{r['layers']} × {r['hidden_size']}",) if narrow else (str(r["layers"]), str(r["hidden_size"]))
        t.add_row(r["name"], fmt_count(r["total_params"]), fmt_count(r["active_params"]) + star[0],
                  fmt_count(r["active_params_excluding_embedding"]) + star[1], *dims, r["attention"],
                  fmt_bytes(r["kv_bytes_per_token_bf16"]), _context(r["max_position_embeddings"]))
    return t


def models_table(rows: list[dict]) -> None:
    con = new_console()
    wide = _models(rows, narrow=False)
    con.print(wide if fits(con, wide) else _models(rows, narrow=True))


def key_values(title: str, rows: list[tuple[str, str]]) -> None:
    t = table("", "", header=False, title=escape(title))
    t.columns[0].style = "bold"
    for k, v in rows:
        t.add_row(escape(k), escape(v))
    new_console().print(t)


def formulas_table(items) -> None:
    con = new_console()
    for f in items:
        con.print(f"[bold]{escape(f.name)}[/bold]: {escape(f.formula)}")
        say(con, f"= {f.example}", markup=False)
        say(con, f"→ {f.shown}", markup=False)
        if f.rule:
            say(con, f"rule of thumb ({f.source}): “{f.rule}” — {f.verdict}", markup=False)
