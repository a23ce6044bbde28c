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
it (HTTP, tokenization), a property of the front end the requests go through: the engine's own HTTP
server (InferenceMAX's runs) for the engine's `request_s`; each other front end measured gets its
own (Triton's TensorRT-LLM backend: the v0.14 table); `trtllm-bench`, in-process, measured no TTFT
and is taken as 0 (assumed). Closed-loop and offline runs are scheduled the same whatever the step
times (every request is sent at once or when another finishes), so each run is simulated once with
no overhead, recording every step's GPU time and sequence count; a metric under (step_s,
per_seq_s) is then exact arithmetic on those records. `request_s` shifts a request and, in a closed
loop, every later request of its client slot (approximated as request j being the ⌊j / C⌋-th of
its slot). The fit minimizes the squared log error of output throughput, mean TTFT and mean TPOT
over the runs of the engine through its own front end (median TTFT where measured: a few
cold-start outliers dominate the means); the errors reported are then from full simulations at the
fitted values. Another front end's `request_s` is then fitted alone on the TTFT of its runs, the
engine's step times held: those runs (Poisson or all at once) send requests on their own schedule,
so the request time delays every arrival alike and adds exactly to each TTFT.
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
from serving_cases import SWEEP_FRONTEND, Run, all_runs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOML = ROOT / "src" / "roofline" / "data" / "serving_overheads.toml"
FITTED = ("output_tok_s_per_gpu", "ttft_median_s", "tpot_mean_s")  # the median TTFT: the means carry warm-up outliers
CHECK_TOLERANCE = 0.02  # the stored values may fit this much worse than a refit before they count as stale
ENGINE_FRONTEND = SWEEP_FRONTEND  # each engine's own HTTP server: the front end its request_s belongs to
ENGINE_OF_FRONTEND = {"vllm-serve": "vllm", "sglang-server": "sglang", "trtllm-serve": "tensorrt-llm",
                      "triton": "tensorrt-llm", "trtllm-bench": "tensorrt-llm"}
# Front ends whose request time no measurement can pin down, with the value taken and why.
FIXED_FRONTENDS = {"trtllm-bench": (0.0, "trtllm-bench drives the engine in-process (no HTTP server, prompts "
                                         "tokenized before the run); it measured no TTFT to fit one on")}
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


def request_of(rec_or_run, c: float) -> float:
    """The request time a record is scored with: its front end's fixed value, else the parameter c."""
    run = getattr(rec_or_run, "run", rec_or_run)
    return FIXED_FRONTENDS.get(run.frontend, (c,))[0]


def log_errors(rec: Record, p) -> list[float]:
    m = rec.metrics(p[0], p[1], request_of(rec, p[2]))
    return [math.log(m[k] / rec.run.measured[k]) for k in FITTED if k in rec.run.measured]


def fit(records: list[Record]) -> tuple[float, float, float]:
    """step_s, per_seq_s and the request_s of the engines' own front ends (those of FIXED_FRONTENDS
    keep theirs) by least squares on the closed-loop and offline runs."""
    from scipy.optimize import least_squares

    def residuals(p):
        return np.concatenate([log_errors(r, p) for r in records])

    res = least_squares(residuals, x0=[1e-3, 1e-5, 1e-2], bounds=([0.0, 0.0, 0.0], [0.1, 1e-3, 1.0]),
                        x_scale=[1e-3, 1e-5, 1e-2])
    return float(res.x[0]), float(res.x[1]), float(res.x[2])


def frontend_costs(runs: list[Run], step_s: float, per_seq_s: float) -> list[tuple[float, float]]:
    """(simulated TTFT with no request time, measured TTFT) of runs whose requests arrive on their
    own schedule (Poisson or all at once): there a front end's request time delays every arrival
    alike, so it adds to every TTFT exactly and one simulation per run serves every value."""
    from roofline.serving.scheduler import Overheads

    pairs = []
    for run in runs:
        if run.workload["max_concurrency"]:
            raise ValueError(f"{run.key}: a closed-loop run cannot fit a front end's request time alone")
        got = simulated(run, Overheads(step_s, per_seq_s, 0.0))
        pairs += [(got[k], run.measured[k]) for k in ("ttft_median_s", "ttft_mean_s") if k in run.measured and k in got][:1]
    return pairs


def frontend_cost(pairs, request_s: float) -> float:
    return float(sum(math.log((t + request_s) / m) ** 2 for t, m in pairs))


def fit_frontend(pairs) -> float:
    from scipy.optimize import minimize_scalar

    return float(minimize_scalar(lambda r: frontend_cost(pairs, r), bounds=(0.0, 1.0), method="bounded",
                                 options={"xatol": 1e-6}).x)


def fit_all(runs: list[Run], records: dict, leave_out: str | None = None, log=print) -> dict:
    """Every engine's parameters from the runs of every source but `leave_out`.

    Per engine: step_s, per_seq_s and its own front end's request_s on its closed-loop and offline
    runs through that front end or one of FIXED_FRONTENDS; an engine none of whose runs remain takes
    the other engines' pooled fit (an unseen engine). Then every other front end measured (Triton)
    gets its own request_s on its runs, the engine's step times held."""
    params = {}
    kept = [r for r in runs if r.source != leave_out]
    own = [rec for rec in records.values() if rec is not None and rec.run.source != leave_out
           and rec.run.frontend in (ENGINE_FRONTEND[rec.run.engine], *FIXED_FRONTENDS)]
    for eng in ENGINE_FRONTEND:
        recs = [rec for rec in own if rec.run.engine == eng]
        pooled = not recs
        a, b, c = fit(recs or own)
        tables = sorted({rec.run.table for rec in (recs or own)})
        used = f"{len(recs or own)} closed-loop / offline runs: " + "; ".join(tables) + (" (other engines: none of its own)" if pooled else "")
        params[eng] = {"step_s": a, "per_seq_s": b, "request_s": c, "frontend": ENGINE_FRONTEND[eng], "fitted_on": used,
                       "frontends": {f: {"request_s": v, "basis": "assumed"} for f, (v, _) in FIXED_FRONTENDS.items()
                                     if f in ENGINE_OF_FRONTEND and ENGINE_OF_FRONTEND[f] == eng}}
        log(f"{eng}: step_s = {a:.4g} s, per_seq_s = {b:.4g} s, request_s ({ENGINE_FRONTEND[eng]}) = {c:.4g} s  ({used})")
    others = sorted({r.frontend for r in kept} - set(ENGINE_FRONTEND.values()) - set(FIXED_FRONTENDS))
    for f in others:
        mine = [r for r in kept if r.frontend == f]
        eng = mine[0].engine
        pairs = frontend_costs(mine, params[eng]["step_s"], params[eng]["per_seq_s"])
        v = fit_frontend(pairs)
        tables = "; ".join(sorted({r.table for r in mine}))
        params[eng]["frontends"][f] = {"request_s": v, "basis": "fitted", "pairs": pairs,
                                       "fitted_on": f"TTFT of {len(mine)} runs (Poisson and all-at-once): {tables}"}
        log(f"{eng} through {f}: request_s = {v:.4g} s  ({len(mine)} runs)")
    return params


def run_overheads(params: dict, run: Run):
    """The Overheads a run is simulated with: its engine's step times and its front end's request
    time (the engine's own front end's where this one was not measured: an unseen front end)."""
    from roofline.serving.scheduler import Overheads

    e = params[run.engine]
    f = e["frontends"].get(run.frontend)
    return Overheads(e["step_s"], e["per_seq_s"], f["request_s"] if f else e["request_s"])


def simulated(run: Run, params) -> dict:
    """The run simulated in full at the fitted overheads, in the measurement's metric names."""
    from roofline.serving import simulate
    from roofline.serving.scheduler import Overheads

    ov = params if isinstance(params, Overheads) else Overheads(*params)
    d = simulate(run.model, run.gpu, engine=run.engine, seed=0, overheads=ov, **run.workload,
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


FRONTEND_WHAT = {
    "vllm-serve": "vLLM's OpenAI-compatible HTTP server (`vllm serve`)",
    "sglang-server": "SGLang's HTTP server (`python -m sglang.launch_server`)",
    "trtllm-serve": "TensorRT-LLM's OpenAI-compatible HTTP server (`trtllm-serve`, 0.17 and later)",
    "triton": "Triton Inference Server with TensorRT-LLM's C++ backend (tensorrtllm_backend; the v0.14 online table)",
    "trtllm-bench": "TensorRT-LLM's benchmark driver (`trtllm-bench throughput`), the engine in-process",
}


def toml_text(params: dict) -> str:
    head = TOML.read_text().split("\n[", 1)[0].rstrip() + "\n"
    text = head
    src = "benchmarks/fit_serving.py (least squares on log errors of output tokens/s per GPU, median TTFT, mean TPOT)"
    for eng, p in params.items():
        text += (f"\n[{eng}]\nstep_s = {p['step_s']:.4g}\nper_seq_s = {p['per_seq_s']:.4g}\n"
                 f"frontend = \"{p['frontend']}\"  # {FRONTEND_WHAT[p['frontend']]}\nrequest_s = {p['request_s']:.4g}\n"
                 f"basis = \"fitted\"\nsource = \"{src}\"\nfitted_on = \"{p['fitted_on']}\"\n")
        for f, q in sorted(p["frontends"].items()):
            why = FIXED_FRONTENDS[f][1] if f in FIXED_FRONTENDS else "benchmarks/fit_serving.py (least squares on log TTFT, the engine's step times held)"
            text += (f"\n[{eng}.frontends.{f}]\nwhat = \"{FRONTEND_WHAT[f]}\"\nrequest_s = {q['request_s']:.4g}\n"
                     f"basis = \"{q['basis']}\"\nsource = \"{why}\"\n"
                     + (f"fitted_on = \"{q['fitted_on']}\"\n" if "fitted_on" in q else ""))
    return text


def check(params: dict, records: dict) -> int:
    """Stale when the stored values fit clearly worse than a refit (weakly set ones may drift)."""
    old, bad = stored(), []
    for eng, p in params.items():
        recs = [rec for rec in records.values() if rec is not None and rec.run.engine == eng
                and rec.run.frontend in (ENGINE_FRONTEND[eng], *FIXED_FRONTENDS)]
        mine = tuple(old[eng][k] for k in ("step_s", "per_seq_s", "request_s"))
        new = (p["step_s"], p["per_seq_s"], p["request_s"])
        cost_old, cost_new = (float(np.sum(np.square(np.concatenate([log_errors(r, q) for r in recs])))) for q in (mine, new))
        print(f"{eng}: squared log error {cost_old:.4g} stored, {cost_new:.4g} refit")
        bad += [eng] if cost_old > cost_new * (1 + CHECK_TOLERANCE) + 1e-9 else []
        for f, q in p["frontends"].items():
            have = old[eng].get("frontends", {}).get(f)
            if have is None or "pairs" not in q:
                bad += [] if have is not None and have["request_s"] == q["request_s"] else [f"{eng} through {f}"]
                continue
            c_old, c_new = frontend_cost(q["pairs"], have["request_s"]), frontend_cost(q["pairs"], q["request_s"])
            print(f"{eng} through {f}: squared log error {c_old:.4g} stored, {c_new:.4g} refit")
            bad += [f"{eng} through {f}"] if c_old > c_new * (1 + CHECK_TOLERANCE) + 1e-9 else []
    if bad:
        print(f"stale: data/serving_overheads.toml fits worse than a refit for {', '.join(bad)} (run --write)")
        return 1
    print("data/serving_overheads.toml fits as well as a refit")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--rows", action="store_true")
    args = ap.parse_args()
    runs = all_runs()
    records = {r.key: record(r) for r in runs if r.workload["request_rate"] == math.inf}
    params = fit_all(runs, records)
    if args.write:
        TOML.write_text(toml_text(params))
    if args.check:
        return check(params, records)
    preds = [simulated(r, run_overheads(params, r)) for r in runs]
    stats = [static(r) for r in runs]
    print(table_md(score(runs, preds), score(runs, stats)))
    if args.rows:
        for r, p, s in zip(runs, preds, stats):
            for k, v in r.measured.items():
                print(f"{r.key:40} {k:22} measured {v:10.4g}  simulated {p.get(k, float('nan')):10.4g}  static {s.get(k, float('nan')):10.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
