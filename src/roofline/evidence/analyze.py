"""Hold a measured run against the roofline: utilization against the true limit, the estimate and
its interval, and the phase where the run loses most time.

The true limit of a phase is max(Σ FLOPs / peak, Σ bytes / bandwidth) per GPU with datasheet peaks
(everything fused and overlapped); MBU = bytes / time / bandwidth and MFU = FLOPs / time / peak of
the measured time, FLOPs and bytes being the estimate's count of the work (per GPU)."""

from __future__ import annotations

from ..scenario import estimate
from .runs import MeasuredRun
from .uncertainty import interval, situation_of

FIGURES = ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s")


def phase_limits(est) -> dict[str, dict]:
    """Per phase: the true limit (seconds), which roof sets it, and the work it is made of."""
    peak, bw = est.gpu["peak_flops"], est.gpu["memory_bandwidth"]
    out = {}
    for name, ph in (("prefill", est.prefill), ("decode", est.decode)):
        t_c, t_m = ph.flops / peak, ph.bytes / bw
        out[name] = {"limit_s": max(t_c, t_m), "bound": "compute" if t_c >= t_m else "memory",
                     "flops": ph.flops, "bytes": ph.bytes, "estimate_s": ph.time_s}
    return out


def utilization(limits: dict, phase: str, measured_s: float, peak: float, bw: float) -> dict:
    lim = limits[phase]
    return {"phase": phase, "measured_s": measured_s, "limit_s": lim["limit_s"], "bound": lim["bound"],
            "estimate_s": lim["estimate_s"], "mbu": lim["bytes"] / measured_s / bw, "mfu": lim["flops"] / measured_s / peak,
            "headroom": measured_s / lim["limit_s"] - 1.0}


def analyze(run: MeasuredRun, model, gpu, *, level: float = 0.8, **options) -> dict:
    """`options`: roofline.estimate's keyword arguments besides the workload (tp, dtype, ...)."""
    batch, inp, out = run.batch_size or 1, run.input_len or 1024, run.output_len or 256
    est = estimate(model, gpu, batch_size=batch, input_len=inp, output_len=out, **options)
    sit = situation_of(est)
    figures = {}
    for k in FIGURES:
        measured, predicted = getattr(run, k), getattr(est, k)
        rng = interval(k, predicted, sit, level)
        figures[k] = {"measured": measured, "estimate": predicted, "range": rng,
                      "error": (predicted / measured - 1.0) if measured else None,
                      "within_range": (rng["low"] <= measured <= rng["high"]) if (rng and measured) else None}
    limits = phase_limits(est)
    peak, bw = est.gpu["peak_flops"], est.gpu["memory_bandwidth"]
    phases = []
    if run.ttft_s:
        phases.append(utilization(limits, "prefill", run.ttft_s, peak, bw))
    if run.tpot_s:
        phases.append(utilization(limits, "decode", run.tpot_s, peak, bw))
    return {"model": est.model["name"], "gpu": est.gpu["name"], "workload": est.workload, "parallel": est.parallel,
            "precision": est.precision["label"], "measured": run.to_dict(), "figures": figures, "phases": phases,
            "loses": where_it_loses(phases, out), "notes": list(run.notes) + list(est.notes)}


def where_it_loses(phases: list[dict], output_len: int) -> dict | None:
    """The phase with the most time per request above its limit: prefill once, decode output − 1 times."""
    if not phases:
        return None
    weight = {"prefill": 1, "decode": max(output_len - 1, 1)}
    lost = {p["phase"]: (p["measured_s"] - p["limit_s"]) * weight[p["phase"]] for p in phases}
    worst = max(phases, key=lambda p: lost[p["phase"]])
    util = worst["mbu"] if worst["bound"] == "memory" else worst["mfu"]
    return {"phase": worst["phase"], "bound": worst["bound"], "lost_s_per_request": lost[worst["phase"]],
            "headroom": worst["headroom"],
            "summary": (f"{worst['phase']} loses most: {lost[worst['phase']]:.3g} s per request above its "
                        f"{worst['bound']}-bound limit; it runs at {util:.0%} "
                        f"{'bandwidth (MBU)' if worst['bound'] == 'memory' else 'compute (MFU)'} utilization, "
                        f"{worst['headroom']:.0%} slower than the limit")}
