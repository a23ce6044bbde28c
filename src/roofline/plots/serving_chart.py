"""Serving under load, from the request-level simulator (`roofline.serving.simulate`), three panels:

1. Throughput against interactivity: output tokens/s per GPU against output tokens/s per user
   (1 / mean TPOT), one point per closed-loop concurrency. More concurrency buys throughput per GPU
   and costs each user speed; where the curve turns flat, more concurrency only adds queueing.
2. Latency against request rate: TTFT and TPOT (p50 and p99) under Poisson arrivals at rates up
   to past the saturation point — the most requests/s the deployment completes at the highest
   concurrency of panel 1. Past it the queue, and with it TTFT, grows for as long as the load lasts.
3. One run over time: batch size, KV-cache use and queue length at the chosen request rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from . import style

CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # cut at the most the KV cache and engine hold
RATE_FRACTIONS = (0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)  # of the saturation rate


@dataclass(frozen=True)
class ServingChart:
    title: str
    subtitle: str
    concurrency: list[int]
    tokens_per_s_per_gpu: list[float]
    tokens_per_s_per_user: list[float]
    request_rate: list[float]
    ttft_p50_s: list[float]
    ttft_p99_s: list[float]
    tpot_p50_s: list[float]
    tpot_p99_s: list[float]
    saturation_requests_per_s: float
    timeline_rate: float
    time_s: list[float]
    batch_size: list[float]
    kv_cache_usage: list[float]
    queue_length: list[float]
    notes: list[str]
    # the 80% interval of each curve from the simulator's held-out errors, [low, high] per point,
    # or None where the serving measurements give it no basis (docs/accuracy.md)
    bands: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def figure(self):
        fig, (a, b, c) = _figure()
        a.plot(self.tokens_per_s_per_user, self.tokens_per_s_per_gpu, color=style.color(0), marker="o", linewidth=2.2, gid="curve")
        for x, y, n in zip(self.tokens_per_s_per_user, self.tokens_per_s_per_gpu, self.concurrency):
            a.annotate(str(n), (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7.5, color=style.GREY)
        self._band(a, self.tokens_per_s_per_user, "tokens_per_s_per_gpu", 1.0, 0)
        a.set_xlabel("Output tokens/s per user (1 / mean TPOT)")
        a.set_ylabel("Output tokens/s per GPU")
        r = np.asarray(self.request_rate)
        for ys, name, col, dash in ((self.ttft_p50_s, "TTFT p50", 1, "-"), (self.ttft_p99_s, "TTFT p99", 1, "--"),
                                    (self.tpot_p50_s, "TPOT p50", 2, "-"), (self.tpot_p99_s, "TPOT p99", 2, "--")):
            b.plot(r, np.asarray(ys) * 1e3, color=style.color(col), linestyle=dash, marker=".", label=name, gid=name)
            self._band(b, r, f"{name.split()[0].lower()}_{name.split()[1]}_s", 1e3, col)
        b.set_yscale("log")
        b.axvline(self.saturation_requests_per_s, color=style.GREY, linestyle=":", gid="saturation")
        b.annotate(f"saturation ≈ {self.saturation_requests_per_s:.3g} req/s", (self.saturation_requests_per_s, 1),
                   xycoords=("data", "axes fraction"), xytext=(4, -4), textcoords="offset points", va="top", fontsize=8.5)
        b.set_xlabel("Request rate (requests/s, Poisson)")
        b.set_ylabel("Latency (ms)")
        b.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, 0.9))
        t = np.asarray(self.time_s)
        c.plot(t, self.batch_size, color=style.color(0), label="batch size (running requests)", gid="batch")
        c.plot(t, self.queue_length, color=style.color(1), label="queue length (waiting requests)", gid="queue")
        c.set_xlabel(f"Time (s) at {self.timeline_rate:.3g} requests/s")
        c.set_ylabel("Requests")
        kv = c.twinx()
        kv.plot(t, np.asarray(self.kv_cache_usage) * 100, color=style.color(2), linestyle="--", label="KV-cache use", gid="kv")
        kv.set_ylabel("KV-cache use (%)")
        kv.set_ylim(0, 105)
        lines = c.get_lines() + kv.get_lines()
        c.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="upper right")
        style.title(fig, a, self.title, self.subtitle)
        return fig

    def _band(self, ax, x, key: str, scale: float, col: int) -> None:
        b = self.bands.get(key)
        if b:  # shaded 80% interval under the curve
            ax.fill_between(x, np.asarray(b[0], dtype=float) * scale, np.asarray(b[1], dtype=float) * scale,
                            color=style.color(col), alpha=0.13, linewidth=0, gid=f"band:{key}")

    def _plotly_band(self, x, key: str, scale: float, col: int, name: str, axis: str) -> list[dict]:
        b = self.bands.get(key)
        if not b:
            return []
        band = style.plotly_band(x, [v * scale for v in b[0]], [v * scale for v in b[1]], style.color(col),
                                 f"{name}: {BAND_LEVEL:.0%} interval", key, yaxis=axis)
        return [{**t, "xaxis": "x" if axis == "y" else "x2"} for t in band]

    def plotly(self) -> dict:
        rate_ms = lambda ys: [v * 1e3 for v in ys]  # noqa: E731
        data = [
            {"type": "scatter", "mode": "lines+markers+text", "name": "throughput vs interactivity", "x": self.tokens_per_s_per_user,
             "y": self.tokens_per_s_per_gpu, "text": [str(n) for n in self.concurrency], "textposition": "top right",
             "xaxis": "x", "yaxis": "y", "line": {"color": style.color(0), "width": 2.5},
             "hovertemplate": "concurrency %{text}: %{x:.4g} tokens/s per user, %{y:.4g} per GPU<extra></extra>"},
        ]
        data += self._plotly_band(self.tokens_per_s_per_user, "tokens_per_s_per_gpu", 1.0, 0, "tokens/s per GPU", "y")
        for ys, name, col, dash in ((self.ttft_p50_s, "TTFT p50", 1, "solid"), (self.ttft_p99_s, "TTFT p99", 1, "dash"),
                                    (self.tpot_p50_s, "TPOT p50", 2, "solid"), (self.tpot_p99_s, "TPOT p99", 2, "dash")):
            data.append({"type": "scatter", "mode": "lines+markers", "name": name, "x": self.request_rate, "y": rate_ms(ys),
                         "xaxis": "x2", "yaxis": "y2", "line": {"color": style.color(col), "dash": dash},
                         "hovertemplate": f"{name}: %{{y:.4g}} ms at %{{x:.3g}} req/s<extra></extra>"})
            data += self._plotly_band(self.request_rate, f"{name.split()[0].lower()}_{name.split()[1]}_s", 1e3, col, name, "y2")
        for ys, name, col, axis in ((self.batch_size, "batch size", 0, "y3"), (self.queue_length, "queue length", 1, "y3"),
                                    ([v * 100 for v in self.kv_cache_usage], "KV-cache use (%)", 2, "y4")):
            data.append({"type": "scatter", "mode": "lines", "name": name, "x": self.time_s, "y": ys, "xaxis": "x3",
                         "yaxis": axis, "line": {"color": style.color(col)}})
        sat = self.saturation_requests_per_s
        shape = {"type": "line", "x0": sat, "x1": sat, "y0": 0, "y1": 1, "xref": "x2", "yref": "y2 domain",
                 "line": {"color": style.GREY, "dash": "dot"}}
        note = {"x": sat, "y": 1, "xref": "x2", "yref": "y2 domain", "text": f"saturation ≈ {sat:.3g} req/s",
                "showarrow": False, "xanchor": "left", "yanchor": "top"}
        layout = style.plotly_layout(
            self.title, self.subtitle, height=900,
            xaxis=style.plotly_axis("Output tokens/s per user", anchor="y"),
            yaxis=style.plotly_axis("Output tokens/s per GPU", domain=[0.76, 1.0]),
            xaxis2=style.plotly_axis("Request rate (requests/s)", anchor="y2"),
            yaxis2=style.plotly_axis("Latency (ms)", log=True, domain=[0.40, 0.63]),
            xaxis3=style.plotly_axis(f"Time (s) at {self.timeline_rate:.3g} requests/s", anchor="y3"),
            yaxis3=style.plotly_axis("Requests", domain=[0.0, 0.27]),
            yaxis4=style.plotly_axis("KV-cache use (%)", overlaying="y3", side="right", range=[0, 105],
                                   tickvals=[0, 25, 50, 75, 100], showgrid=False),
            shapes=[shape], annotations=[note])
        layout["margin"] = {**layout["margin"], "r": 80}  # room for the KV-cache axis on the right
        return {"data": data, "layout": layout}


def _figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        from ..errors import RooflineError

        raise RooflineError("drawing PNG/SVG charts needs matplotlib: pip install 'roofline[plot]'") from None
    fig = Figure(figsize=(style.FIGSIZE[0], 10.0), dpi=style.DPI, layout="constrained")
    axes = fig.subplots(3, 1)
    for ax in axes:
        ax.grid(True, color="#D9D9D9", linewidth=0.8)
        ax.tick_params(labelsize=style.FONT_SIZE - 1)
    return fig, axes


BAND_LEVEL = 0.8


def _bands(runs: list[dict], figure: str, stat: str) -> list | None:
    """[lows, highs] of one figure over a sweep of simulations; None unless every point has one."""
    got = [(d.get(f"{figure}_range") or {}).get(stat) for d in runs]
    if not got or any(g is None for g in got):
        return None
    return [[g["low"] for g in got], [g["high"] for g in got]]


def _clean(v) -> float:
    return float(v) if v is not None and math.isfinite(float(v)) else float("nan")


def build(model, gpu="h100-sxm", *, input_len=1024, output_len=256, engine="vllm", request_rate=None, num_prompts=300, seed=0,
          concurrencies=CONCURRENCIES, **options) -> ServingChart:
    """Simulate the three views. `options`: `roofline.serving.simulate`'s estimate and engine options.
    `request_rate`: the run shown over time (default: 80% of the saturation rate)."""
    from ..errors import RooflineError
    from ..serving import simulate

    if request_rate is not None and (isinstance(request_rate, bool) or not isinstance(request_rate, (int, float))
                                     or not 0 < request_rate < math.inf):
        raise RooflineError(f"--request-rate must be a positive finite number of requests/s, got {request_rate!r}")
    common = dict(input_len=input_len, output_len=output_len, engine=engine, seed=seed, **options)
    def closed_loop(c: int) -> dict:
        return simulate(model, gpu, num_prompts=max(num_prompts, 4 * c), request_rate=math.inf, max_concurrency=c,
                        **common).to_dict()

    first = closed_loop(concurrencies[0])
    held = min(first["kv_cache"]["capacity_tokens"] // (input_len + output_len), first["engine"]["max_num_seqs"])
    held *= first["deployment"]["dp"]
    concurrencies = [c for c in concurrencies if c < held] + ([int(held)] if held > concurrencies[0] else [])
    closed = [first] + [closed_loop(c) for c in concurrencies[1:]]
    per_gpu = [d["throughput"]["output_tokens_per_s_per_gpu"] for d in closed]
    per_user = [_clean(d["throughput"]["output_tokens_per_s_per_user"]) for d in closed]
    saturation = max(d["throughput"]["requests_per_s"] for d in closed)
    rates = [saturation * f for f in RATE_FRACTIONS]
    # Past saturation the excess arrivals first fill the running batch (up to `held` requests) and
    # only then the queue: runs long enough to fill it show the queue's growth in TTFT.
    sweep_prompts = max(num_prompts, 3 * int(held))
    opened = [simulate(model, gpu, num_prompts=sweep_prompts, request_rate=r, **common).to_dict() for r in rates]
    shown = float(request_rate) if request_rate else 0.8 * saturation
    run = simulate(model, gpu, num_prompts=num_prompts, request_rate=shown, **common).to_dict()
    tl = run["timeline"]
    dep = run["deployment"]
    split = f"tp={dep['tp']} pp={dep['pp']}" + (f" dp={dep['dp']}" if dep["dp"] > 1 else "")
    return ServingChart(
        title=f"Serving {run['model']} on {dep['num_gpus']} × {run['gpu']} ({run['engine']['label']})",
        subtitle=f"{input_len} in / {output_len} out tokens · {split} · simulated: {len(closed)} concurrencies · "
                 f"{len(rates)} rates × {sweep_prompts} requests · {num_prompts} over time",
        concurrency=list(concurrencies), tokens_per_s_per_gpu=style.listed(per_gpu), tokens_per_s_per_user=per_user,
        request_rate=style.listed(rates),
        ttft_p50_s=[_clean(d["ttft_s"]["p50"]) for d in opened], ttft_p99_s=[_clean(d["ttft_s"]["p99"]) for d in opened],
        tpot_p50_s=[_clean(d["tpot_s"]["p50"]) for d in opened], tpot_p99_s=[_clean(d["tpot_s"]["p99"]) for d in opened],
        saturation_requests_per_s=float(saturation), timeline_rate=shown, time_s=style.listed(tl["time_s"]),
        batch_size=style.listed(tl["batch_size"]), kv_cache_usage=style.listed(tl["kv_cache_usage"]),
        queue_length=style.listed(tl["queue_length"]), notes=list(run.get("notes") or []),
        bands={"tokens_per_s_per_gpu": _bands(closed, "throughput", "output_tokens_per_s_per_gpu"),
               **{f"{f[:-2]}_{q}_s": _bands(opened, f, q) for f in ("ttft_s", "tpot_s") for q in ("p50", "p99")}})
