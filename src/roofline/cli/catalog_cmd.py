"""`roofline gpus`, `roofline models`, `roofline show NAME`: what the catalogs hold, with sources."""

from __future__ import annotations

import json
from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def register(app: typer.Typer) -> None:
    @app.command(help="List the GPUs in the catalog with their key figures.")
    def gpus(json_out: JsonOpt = False) -> None:
        from ..catalog import all_gpus

        items = all_gpus()
        if json_out:
            typer.echo(json.dumps([{"name": g.name, "display_name": g.display_name, "aliases": g.aliases,
                                    "memory_bytes": g.memory_bytes, "memory_label": g.memory_label,
                                    "memory_basis": g.memory_basis, "memory_bandwidth": g.memory_bandwidth,
                                    "peak_flops": g.peak_flops} for g in items], indent=2))
            return
        from . import render

        render.gpus_table(items)

    @app.command(help="List the models in the catalog with parameter counts and shapes.")
    def models(json_out: JsonOpt = False) -> None:
        from ..catalog import all_models, model_summary

        rows = [model_summary(n) for n in all_models()]
        if json_out:
            typer.echo(json.dumps(rows, indent=2))
            return
        from . import render

        render.models_table(rows)

    @app.command(help="Show one GPU (memory hierarchy, peaks, ridge points, links, factors) or one model (shapes, parameters, KV).")
    def show(name: Annotated[str, typer.Argument(help="A GPU or model name, alias, or config.json path.")], json_out: JsonOpt = False) -> None:
        from ..catalog.gpus import _names as gpu_names
        from ..catalog.names import normalize

        if normalize(name) in gpu_names():
            _show_gpu(name, json_out)
        else:
            try:
                _show_model(name, json_out)
            except Exception as e:
                from ..errors import RooflineError

                if isinstance(e, RooflineError) and "unknown model" in str(e):
                    from ..catalog import resolve_gpu

                    resolve_gpu(name)  # raises with GPU suggestions if it looks like one
                raise


def _show_gpu(name: str, json_out: bool) -> None:
    from ..catalog import get_gpu, get_link
    from ..units import fmt_bw, fmt_bytes, fmt_gib, fmt_num, fmt_rate, fmt_time
    from . import render

    g = get_gpu(name)
    if json_out:
        typer.echo(json.dumps(g.model_dump(), indent=2))
        return
    rows = [
        ("name", f"{g.display_name} [{g.name}]" + (f", aliases: {', '.join(g.aliases)}" if g.aliases else "")),
        ("architecture", f"{g.vendor} {g.architecture}, {g.form_factor}" + (f", {g.tdp_watts:g} W" if g.tdp_watts else "")),
        ("HBM/DRAM", f"{fmt_bytes(g.memory_bytes)} ({fmt_gib(g.memory_bytes)}) {g.memory_type} at {fmt_bw(g.memory_bandwidth)}"
                     f"; datasheet label {g.memory_label or 'not given'}; physical size {g.memory_basis}: {g.sources.get('memory', 'no source')}"),
    ]
    if g.l2_bytes:
        rows.append(("L2 cache", f"{fmt_bytes(g.l2_bytes)} ({g.l2_bytes / 2**20:g} MiB)"))
    if g.l1_smem_per_unit_bytes:
        total = g.compute_units * g.l1_smem_per_unit_bytes
        rows.append(("on-chip SRAM", f"{g.compute_units} {g.compute_unit_kind}s × {g.l1_smem_per_unit_bytes / 1024:g} KiB L1/shared = "
                                      f"{fmt_bytes(total)}; HBM is {g.memory_bytes / total:,.0f}× larger"))
    elif g.smem_per_unit_bytes:
        total = g.compute_units * g.smem_per_unit_bytes
        rows.append(("on-chip SRAM", f"{g.compute_units} {g.compute_unit_kind}s × {g.smem_per_unit_bytes / 1024:g} KiB shared = {fmt_bytes(total)}"))
    else:
        rows.append(("compute units", f"{g.compute_units} {g.compute_unit_kind}"))
    if g.fp32_cores_per_unit:
        rows.append(("cores", f"{g.compute_units} {g.compute_unit_kind}s × ({g.fp32_cores_per_unit} FP32 cores + "
                              f"{g.tensor_cores_per_unit} Tensor Cores) = {g.compute_units * g.fp32_cores_per_unit:,} CUDA cores"))
    vendor = _vendor_facts().get(g.vendor)
    if vendor:
        rows.append(("programming model", f"warps of {vendor['warp_size']} threads in lockstep, up to "
                                          f"{vendor['max_threads_per_block']} threads per block ({vendor['source']})"))
    rows.append(("latencies", "not in the catalog: no sourced cycle counts, so the tool prints none"))
    for dt, v in g.peak_flops.items():
        ridge = v / g.memory_bandwidth
        rows.append((f"peak {dt}", f"{fmt_rate(v)} dense · ridge {ridge:,.0f} FLOP/B"))
    for label, key in (("scale-up link", g.scale_up_link), ("scale-out link", g.scale_out_link), ("host link", g.host_link)):
        if key:
            link = get_link(key)
            rows.append((label, f"{link.display_name}: {fmt_bw(link.bandwidth_per_direction)} per direction"
                                + (f", {g.scale_up_domain} GPUs per domain" if label == "scale-up link" else "")))
    f = g.factors
    for fname, fac in (("memory efficiency", f.memory_efficiency), ("matmul efficiency", f.matmul_efficiency),
                       ("kernel overhead", f.kernel_overhead_s)):
        extra = "".join(f", {k} {v:g}" for k, v in fac.by_dtype.items())
        value = fmt_time(fac.value) if fname == "kernel overhead" else fmt_num(fac.value)
        rows.append((fname, f"{value}{extra} ({fac.basis}; {fac.source}" + (f"; fitted on {fac.fitted_on})" if fac.fitted_on else ")")))
    rows.append(("sources", g.sources.get("datasheet", "")))
    if g.sources.get("notes"):
        rows.append(("notes", g.sources["notes"]))
    render.key_values(g.display_name, rows)


def _vendor_facts() -> dict:
    import tomllib
    from importlib import resources

    return tomllib.loads((resources.files("roofline") / "data" / "vendors.toml").read_text())


def _active_line(m) -> str:
    from ..catalog.models import CONVENTIONS, active_params
    from ..units import fmt_count

    a = active_params(m)
    line = (f"{fmt_count(a['active_params_with_embedding'])} with the input embedding, "
            f"{fmt_count(a['active_params_excluding_embedding'])} without it")
    conv = a["published_active_convention"]
    if conv:
        line += (f"; the published {fmt_count(a['published_active_params'])} "
                 f"{CONVENTIONS[conv]} ({a['published_active_source']})")
    return line


def _show_model(name: str, json_out: bool) -> None:
    from ..catalog import get_model
    from ..cost.params import count_params, layer_params
    from ..units import fmt_bytes, fmt_count
    from . import render

    m = get_model(name)
    if json_out:
        doc = m.model_dump()
        p = count_params(m)
        from ..catalog.models import active_params

        doc["params"] = {"total": p.total, "active": p.active, "active_excluding_embedding": p.active_excluding_embedding,
                         "embedding": p.embedding, "layers": p.layers, "lm_head": p.lm_head, **active_params(m)}
        typer.echo(json.dumps(doc, indent=2))
        return
    p = count_params(m)
    a = m.attention
    rows = [
        ("name", f"{m.name} ({m.architecture}, {m.model_type})"),
        ("parameters", f"{fmt_count(p.total, exact=True)} total"),
        ("active per token", _active_line(m)),
        ("breakdown", f"embedding {fmt_count(p.embedding)} · layers {fmt_count(p.layers)} · lm_head "
                      f"{fmt_count(p.lm_head) if p.lm_head else 'tied to embedding'}"),
        ("layers", f"{m.num_layers} × hidden {m.hidden_size}, {m.norm}norm ×{m.norms_per_layer}"
                   + (", parallel attention/MLP" if m.parallel_attention else "")),
        ("attention", f"{m.kv_kind}: {a.num_heads} heads × {a.head_dim} (q/k), {a.v_head_dim} (v), {a.num_kv_heads} KV heads"
                      + (f"; MLA latent {a.mla.kv_lora_rank} + rope {a.mla.qk_rope_head_dim}, q_lora {a.mla.q_lora_rank}" if a.mla else "")),
        ("MLP", f"{'gated (3 matrices)' if m.mlp.gated else '2 matrices'}, width {m.mlp.intermediate_size}"),
    ]
    if m.moe:
        e = m.moe
        rows.append(("MoE", f"{e.num_experts} experts, top-{e.experts_per_token}, expert width {e.expert_intermediate_size}"
                            + (f", shared width {e.shared_intermediate_size}" if e.shared_intermediate_size else "")
                            + f"; {sum(l.moe for l in m.layers)} of {m.num_layers} layers"))
    if m.quantization:
        q = m.quantization
        kept = f"; {', '.join(q.unconverted)} left in the model dtype" if q.unconverted else ""
        rows.append(("checkpoint format", f"{q.description} ({q.weight.layout}){kept}: the default --weight-dtype"))
    for layer, count in m.layer_groups():
        lp = layer_params(m, layer)
        span = "global" if layer.window_kind == "global" else f"{layer.window_kind} window {layer.window}"
        rows.append((f"{count} layers", f"{span}{', MoE' if layer.moe else ''}: {fmt_count(lp.total)} params each"))
    kv = 2 * a.num_kv_heads * a.head_dim if not a.mla else a.mla.kv_lora_rank + a.mla.qk_rope_head_dim
    rows.append(("KV per token", f"{kv if a.mla else a.num_kv_heads * (a.head_dim + a.v_head_dim)} values per layer × {m.num_layers} layers "
                                 f"= {fmt_bytes((a.mla.kv_lora_rank + a.mla.qk_rope_head_dim if a.mla else a.num_kv_heads * (a.head_dim + a.v_head_dim)) * m.num_layers * 2)} in bf16 (full context)"))
    rows.append(("context", str(m.max_position_embeddings or "not stated")))
    rows.append(("vocabulary", f"{m.vocab_size}, embeddings {'tied' if m.tie_word_embeddings else 'untied'}"))
    for note in m.notes:
        rows.append(("note", note))
    render.key_values(m.name, rows)
