"""`roofline simulate`: a deployment serving a stream of requests under continuous batching."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..options import SERVING_OPTIONS, SIMULATE_OWN
from .estimate_cmd import JsonOpt
from .options import command, model_argument, param, scenario_params, scenario_values

InLenOpt = Annotated[Optional[int], typer.Option("--input-len", help="Prompt tokens per request (the longest with --random-range-ratio).")]
OutLenOpt = Annotated[Optional[int], typer.Option("--output-len", help="Generated tokens per request (the longest with --random-range-ratio).")]
SimUtilOpt = Annotated[Optional[float], typer.Option("--gpu-memory-utilization", help="The engine's memory fraction for weights + KV (default: the engine's own rule).")]


def _serving_param(o):
    help_text = o.help + (f" [{o.unit}]" if o.unit and o.unit not in ("fraction", "s") else " [seconds]" if o.unit == "s" else "")
    return param(o.name, Annotated[o.type, typer.Option(*o.flags, help=help_text)], o.default)


def simulate(model: str, gpu: str, json_out: bool, **values) -> None:
    import json

    from ..errors import RooflineError
    from ..serving import simulate as run_simulation

    if "," in gpu:
        raise RooflineError("simulate takes one GPU; run it once per GPU to compare")
    rate = values.get("request_rate")
    if rate is not None and rate != rate:
        raise RooflineError("--request-rate must be a number of requests per second or inf")
    serving = {o.name: values[o.name] for o in SERVING_OPTIONS}
    estimate_options = {k: v for k, v in scenario_values(values).items()
                        if k not in ("input_len", "output_len", "gpu_memory_utilization")}
    result = run_simulation(model, gpu, input_len=values["input_len"], output_len=values["output_len"],
                            gpu_memory_utilization=values["gpu_memory_utilization"], **serving, **estimate_options)
    d = result.to_dict()
    if json_out:
        typer.echo(json.dumps(d, indent=2))
        return
    from .layout import console

    con = console()  # wraps each line at the terminal's width, cutting nothing
    for line in summary_lines(d):
        con.print(line, markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    own = {"input_len": param("input_len", InLenOpt, None), "output_len": param("output_len", OutLenOpt, None),
           "gpu_memory_utilization": param("gpu_memory_utilization", SimUtilOpt, None)}
    params = [model_argument(), *scenario_params(exclude=SIMULATE_OWN, overrides=own),
              *(_serving_param(o) for o in SERVING_OPTIONS), param("json_out", JsonOpt, False)]
    app.command("simulate", help="Simulate MODEL serving a stream of requests with continuous batching: TTFT, TPOT, "
                "inter-token and end-to-end latency percentiles, throughput, goodput, KV use.")(command(simulate, params))


def _ms(v) -> str:
    return "—" if v is None else f"{v * 1e3:.1f} ms" if v < 1 else f"{v:.2f} s"


def _rate_range(r) -> str:
    return f" ({r['level']:.0%}: {r['low']:,.0f} – {r['high']:,.0f} output tokens/s)" if r else ""


def summary_lines(d: dict) -> list[str]:
    e, w, k, t = d["engine"], d["workload"], d["kv_cache"], d["throughput"]
    rate = "all at once" if w["request_rate"] is None else f"{w['request_rate']:g} req/s"
    conc = f", at most {w['max_concurrency']} in flight" if w["max_concurrency"] else ""
    dep = d["deployment"]
    split = (f"{dep['prefill_instances']} prefill × tp={dep['prefill_tp']} + {dep['decode_instances']} decode × "
             f"tp={dep['decode_tp']}, pp={dep['pp']}" if "prefill_instances" in dep
             else f"tp={dep['tp']}, pp={dep['pp']}, dp={dep['dp']}")
    lines = [
        f"{d['model']} on {dep['num_gpus']} × {d['gpu']} ({split}), {e['label']}",
        f"workload: {w['num_prompts']} requests, mean {w['mean_input_len']:.0f} in / {w['mean_output_len']:.0f} out tokens, {rate}{conc}",
        f"scheduler: {e['max_num_batched_tokens']} tokens and {e['max_num_seqs']} sequences per step, block {e['block_size']}, "
        f"{e['step_composition']} steps, chunked prefill {'on' if e['chunked_prefill'] else 'off'}",
        f"KV cache: {k['capacity_bytes'] / 1e9:.2f} GB per GPU = {k['capacity_tokens']:,} tokens ({k['working']}); "
        f"peak use {k['peak_usage']:.0%}, mean {k['mean_usage']:.0%}",
        "",
        f"{'':8} {'mean':>10} {'p50':>10} {'p90':>10} {'p99':>10}",
    ]
    for name in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        s = d[name]
        lines.append(f"{name[:-2].upper():8} " + " ".join(f"{_ms(s[q]):>10}" for q in ("mean", "p50", "p90", "p99")))
        rng = [f"{q} {_ms(r['low'])}–{_ms(r['high'])}" for q, r in (d.get(f"{name}_range") or {}).items() if r]
        if rng:  # the 80% interval from the simulator's held-out errors (docs/accuracy.md)
            lines.append(f"{'':8} {next(r for r in d[f'{name}_range'].values() if r)['level']:.0%}: " + ", ".join(rng))
    per_user = t["output_tokens_per_s_per_user"]
    out_rng = (d.get("throughput_range") or {}).get("output_tokens_per_s")
    lines += [
        "",
        f"throughput: {t['requests_per_s']:.3g} req/s, {t['output_tokens_per_s']:,.0f} output tokens/s "
        f"({t['output_tokens_per_s_per_gpu']:,.0f} per GPU){_rate_range(out_rng)}, {t['total_tokens_per_s']:,.0f} total tokens/s",
        f"per user: {per_user:.1f} output tokens/s" if per_user else "per user: —",
        f"batch: mean {d['batch_size']['mean']:.1f}, max {d['batch_size']['max']}; queue: mean {d['queue_length']['mean']:.1f}, "
        f"max {d['queue_length']['max']}; {d['preemptions']} preemptions; {d['steps']:,} steps in {d['duration_s']:.2f} s",
    ]
    c = d.get("cost")
    if c:
        rng = c.get("usd_per_million_output_tokens_range")  # from the throughput interval: low cost at high throughput
        cost_rng = f" ({rng['level']:.0%}: ${rng['low']:,.3g} – ${rng['high']:,.3g})" if rng else ""
        lines.append(f"cost: ${c['usd_per_million_output_tokens']:,.3g}{cost_rng} per million output tokens "
                     f"(${c['usd_per_million_input_tokens']:,.3g} per million input) at ${c['usd_per_gpu_hour']:.2f}/GPU-hour")
    g = d["goodput"]
    if g:
        lines.append(f"goodput: {g['requests_per_s']:.3g} req/s meet the SLOs ({g['fraction']:.0%} of requests; no interval, see note)")
    lines += disaggregated_lines(d.get("disaggregated"))
    lines += [f"note: {n}" for n in d["notes"]]
    return lines


def _pool(p: dict) -> str:
    split = f"tp={p['tp']}" + (f" × pp={p['pp']}" if p["pp"] > 1 else "")
    return f"{p['instances']} × {split} ({p['num_gpus']} GPUs, {p['kv_capacity_tokens']:,} KV tokens each)"


def disaggregated_lines(dis: dict | None) -> list[str]:
    """Both pools, the KV transfer, and the aggregated deployments it is compared with."""
    if not dis:
        return []
    link = "free" if dis["link_bandwidth"] is None and not dis["link_latency_s"] else dis["link"]
    lines = ["", f"disaggregated {dis['layout']}: prefill {_pool(dis['prefill'])}; decode {_pool(dis['decode'])}",
             f"KV transfer over {link}: mean {_ms(dis['kv_transfer_s']['mean'])}, max {_ms(dis['kv_transfer_s']['max'])} "
             f"({dis['kv_transfer_working']})"]
    for key in ("aggregated_equal_prefill_gpus", "aggregated"):
        a = dis.get(key)
        if a:
            lines.append(f"vs {a['comparison']}: TTFT p50 {_ms(a['ttft_s']['p50'])} p99 {_ms(a['ttft_s']['p99'])}, "
                         f"TPOT p50 {_ms(a['tpot_s']['p50'])}, {a['throughput']['output_tokens_per_s']:,.0f} output tokens/s")
    return lines
