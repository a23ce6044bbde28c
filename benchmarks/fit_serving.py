"""Fit the serving simulator's host-side step overheads per engine, and score the simulator and
the static estimate against every published serving measurement.

    python benchmarks/fit_serving.py            # fit, print the parameters and the error tables
    python benchmarks/fit_serving.py --write    # ... and store them in data/serving_overheads.toml
    python benchmarks/fit_serving.py --check    # fail when the stored parameters fit clearly worse than a refit
    python benchmarks/fit_serving.py --rows     # every run: measured, simulated, static

Three parameters per engine, each with a meaning: `step_s`, seconds every engine step adds beyond
its GPU work (scheduling, input preparation, launches the CUDA graphs do not hide); `per_seq_s`,
seconds per sequence the step carries (per-request bookkeeping, sampling, detokenization,
streaming); `request_s`, seconds between the client sending a request and the engine scheduling
it (HTTP, tokenization). Closed-loop and offline runs are scheduled the same whatever the step
times (every request is sent at once or when another finishes), so each run is simulated once with
no overhead, recording every step's GPU time and sequence count; a metric under (step_s,
per_seq_s) is then exact arithmetic on those records. `request_s` shifts a request and, in a closed
loop, every later request of its client slot (approximated as request j being the ⌊j / C⌋-th of
its slot). The fit minimizes the squared log error of output throughput, mean TTFT and mean TPOT
over the runs of the engine (median TTFT where measured: a few cold-start outliers dominate the
means); the errors reported are then from full simulations at the fitted
values. Poisson runs (TensorRT-LLM v0.14) are not fitted on, only reported.
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from serving_cases import Run, all_runs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOML = ROOT / "src" / "roofline" / "data" / "serving_overheads.toml"
FITTED = ("output_tok_s_per_gpu", "ttft_median_s", "tpot_mean_s")  # the median TTFT: the means carry warm-up outliers
CHECK_TOLERANCE = 0.02  # the stored values may fit this much worse than a refit before they count as stale
METRICS = ("output_tok_s_per_gpu", "total_tok_s_per_gpu", "ttft_mean_s", "ttft_median_s", "ttft_p99_s",
           "tpot_mean_s", "tpot_median_s", "itl_mean_s", "e2e_mean_s")


@dataclass
class Record:
    """One run simulated with no overhead: per step GPU time and sequences, per request step indices."""

    run: Run
    base: np.ndarray
    seqs: np.ndarray
    sent: np.ndarray
    first: np.ndarray
    finish: np.ndarray
    inp: np.ndarray
    out: np.ndarray
    scale: float  # replicas × (tokens of one replica) → per GPU: dp / num_gpus
    conc: int | None  # the replica's client concurrency limit

    def metrics(self, step_s: float, per_seq_s: float, request_s: float = 0.0) -> dict:
        clock = np.concatenate([[0.0], np.cumsum(self.base + step_s + per_seq_s * self.seqs)])
        chain = np.arange(self.out.size) // self.conc if self.conc else np.zeros(self.out.size)
        sent = clock[self.sent] + chain * request_s
        first, finish = clock[self.first] + (chain + 1) * request_s, clock[self.finish] + (chain + 1) * request_s
        duration = finish.max() - sent.min()
        ttft, e2e = first - sent, finish - sent
        multi = self.out > 1
        tpot = (finish - first)[multi] / (self.out[multi] - 1)
        out_rate = self.out.sum() * self.scale / duration
        return {
            "output_tok_s_per_gpu": out_rate, "total_tok_s_per_gpu": (self.out.sum() + self.inp.sum()) * self.scale / duration,
            "ttft_mean_s": ttft.mean(), "ttft_median_s": np.median(ttft), "ttft_p99_s": np.percentile(ttft, 99),
            "tpot_mean_s": tpot.mean(), "tpot_median_s": np.median(tpot),
            "itl_mean_s": (finish - first)[multi].sum() / (self.out[multi] - 1).sum(), "e2e_mean_s": e2e.mean(),
        }


def record(run: Run) -> Record | None:
    """Simulate once with no overhead and keep the step records; None when a request never fits."""
    from roofline.serving.scheduler import Overheads, Replica, TooLarge
    from roofline.serving.simulation import make_workload, prepare

    w = run.workload
    wl = make_workload(w["num_prompts"], w["request_rate"], w["input_len"], w["output_len"], None, 0,
                       w["random_range_ratio"], 1.0, False)
    s, cfg, kv, how, pred = prepare(run.model, run.gpu, run.engine, run.options, **run.engine_options)
    dp = s.par.dp
    mine = np.arange(0, wl.size, dp)
    conc = w["max_concurrency"]
    rep = Replica(cfg, pred, kv, Overheads(), wl.arrival_s[mine], wl.input_len[mine], wl.output_len[mine],
                  max_concurrency=None if conc is None else max(1, math.ceil(conc / dp)), record=True)
    try:
        rep.run()
    except TooLarge:
        return None
    base = np.concatenate([np.atleast_1d(x) for x in rep.rec_dt])
    seqs = np.concatenate([np.atleast_1d(x) for x in rep.rec_n]).astype(float)
    return Record(run, base, seqs, rep.sent_step, rep.first_step, rep.finish_step, wl.input_len[mine],
                  wl.output_len[mine], dp / s.par.num_gpus, rep.limit if rep.limit < rep.n else None)


def log_errors(rec: Record, p) -> list[float]:
    m = rec.metrics(*p)
    return [math.log(m[k] / rec.run.measured[k]) for k in FITTED if k in rec.run.measured]


def fit(records: list[Record]) -> tuple[float, float, float]:
    from scipy.optimize import least_squares

    def residuals(p):
        return np.concatenate([log_errors(r, p) for r in records])

    res = least_squares(residuals, x0=[1e-3, 1e-5, 1e-2], bounds=([0.0, 0.0, 0.0], [0.1, 1e-3, 1.0]),
                        x_scale=[1e-3, 1e-5, 1e-2])
    return float(res.x[0]), float(res.x[1]), float(res.x[2])


def simulated(run: Run, params) -> dict:
    """The run simulated in full at the fitted overheads, in the measurement's metric names."""
    from roofline.serving import simulate
    from roofline.serving.scheduler import Overheads

    d = simulate(run.model, run.gpu, engine=run.engine, seed=0, overheads=Overheads(*params), **run.workload,
                 **run.engine_options, **run.options).to_dict()
    if not d["kv_cache"]["fits"]:
        return {}
    g, t = d["deployment"]["num_gpus"], d["throughput"]
    return {"output_tok_s_per_gpu": t["output_tokens_per_s"] / g, "total_tok_s_per_gpu": t["total_tokens_per_s"] / g,
            "ttft_mean_s": d["ttft_s"]["mean"], "ttft_median_s": d["ttft_s"]["p50"], "ttft_p99_s": d["ttft_s"]["p99"],
            "tpot_mean_s": d["tpot_s"]["mean"], "tpot_median_s": d["tpot_s"]["p50"], "itl_mean_s": d["itl_s"]["mean"],
            "e2e_mean_s": d["e2e_s"]["mean"]}


def static(run: Run) -> dict:
    """The static estimate at the largest batch that fits (at most the run's concurrency)."""
    import roofline

    w = run.workload
    r = w["random_range_ratio"]
    L = round(w["input_len"] * (1 + r) / 2)  # mean of the drawn lengths
    O = round(w["output_len"] * (1 + r) / 2)
    probe = roofline.estimate(run.model, run.gpu, batch_size=1, input_len=L, output_len=O, **run.options)
    b = probe.capacity["max_batch_size"] or 0
    if w["max_concurrency"]:
        b = min(b, w["max_concurrency"])
    if b < 1 or w["request_rate"] != math.inf:
        return {}
    e = roofline.estimate(run.model, run.gpu, batch_size=b, input_len=L, output_len=O, **run.options)
    g = run.num_gpus
    return {"output_tok_s_per_gpu": e.output_tokens_per_s / g, "total_tok_s_per_gpu": e.output_tokens_per_s * (L + O) / O / g,
            "ttft_mean_s": e.ttft_s, "tpot_mean_s": e.tpot_s, "e2e_mean_s": e.e2e_latency_s}


def score(runs, predictions) -> dict:
    """(table, metric) -> list of log errors (predicted / measured)."""
    out: dict = {}
    for run, pred in zip(runs, predictions):
        for k, v in run.measured.items():
            if k in pred and pred[k] and v > 0:
                out.setdefault((run.table, k), []).append(math.log(pred[k] / v))
    return out


def table_md(sim: dict, stat: dict) -> str:
    lines = ["| table | metric | runs | simulator: median abs error | simulator: median error | static: median abs error |",
             "|---|---|---:|---:|---:|---:|"]
    for (table, metric), errs in sorted(sim.items()):
        e = np.expm1(np.array(errs))
        s = stat.get((table, metric))
        st = f"{np.median(np.abs(np.expm1(s))):.0%}" if s else "—"
        lines.append(f"| {table} | {metric} | {len(errs)} | {np.median(np.abs(e)):.0%} | {np.median(e):+.0%} | {st} |")
    return "\n".join(lines)


def stored() -> dict:
    return tomllib.loads(TOML.read_text())


def write(params: dict, used: dict) -> None:
    text = TOML.read_text().split("\n[", 1)[0].rstrip() + "\n"
    for eng, (a, b, c) in params.items():
        text += (f"\n[{eng}]\nstep_s = {a:.4g}\nper_seq_s = {b:.4g}\nrequest_s = {c:.4g}\nbasis = \"fitted\"\n"
                 f"source = \"benchmarks/fit_serving.py (least squares on log errors of output tokens/s per GPU, median TTFT, mean TPOT)\"\n"
                 f"fitted_on = \"{used[eng]}\"\n")
    TOML.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--rows", action="store_true")
    args = ap.parse_args()
    runs = all_runs()
    records = {r.key: record(r) for r in runs if r.workload["request_rate"] == math.inf}
    params, used = {}, {}
    for eng in ("vllm", "sglang", "tensorrt-llm"):
        recs = [rec for rec in records.values() if rec is not None and rec.run.engine == eng]
        params[eng] = fit(recs)
        tables = sorted({rec.run.table for rec in recs})
        used[eng] = f"{len(recs)} closed-loop / offline runs: " + "; ".join(tables)
        print(f"{eng}: step_s = {params[eng][0]:.4g} s, per_seq_s = {params[eng][1]:.4g} s, "
              f"request_s = {params[eng][2]:.4g} s  ({used[eng]})", flush=True)
    if args.write:
        write(params, used)
    if args.check:  # stale when the stored values fit clearly worse than a refit (weakly set ones may drift)
        old, bad = stored(), []
        for eng, p in params.items():
            recs = [rec for rec in records.values() if rec is not None and rec.run.engine == eng]
            mine = tuple(old[eng][k] for k in ("step_s", "per_seq_s", "request_s"))
            cost_old, cost_new = (float(np.sum(np.square(np.concatenate([log_errors(r, q) for r in recs])))) for q in (mine, p))
            print(f"{eng}: squared log error {cost_old:.4g} stored, {cost_new:.4g} refit")
            if cost_old > cost_new * (1 + CHECK_TOLERANCE) + 1e-9:
                bad.append(eng)
        if bad:
            print(f"stale: data/serving_overheads.toml fits worse than a refit for {', '.join(bad)} (run --write)")
            return 1
        print("data/serving_overheads.toml fits as well as a refit")
        return 0
    preds = [simulated(r, params[r.engine]) for r in runs]
    stats = [static(r) for r in runs]
    print(table_md(score(runs, preds), score(runs, stats)))
    if args.rows:
        for r, p, s in zip(runs, preds, stats):
            for k, v in r.measured.items():
                print(f"{r.key:40} {k:22} measured {v:10.4g}  simulated {p.get(k, float('nan')):10.4g}  static {s.get(k, float('nan')):10.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
