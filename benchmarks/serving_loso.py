"""Leave-one-source-out for the serving simulator: refit the host-side overheads without each
source of serving measurements and score that source's runs.

    python benchmarks/serving_loso.py           # write benchmarks/data/serving_residuals.csv (a few minutes)
    python benchmarks/serving_loso.py --check   # exit 1 if the committed file differs from a fresh run

A source is one engine (and version) measured by one harness (serving_cases.Run.source):
InferenceMAX's vLLM, SGLang and TensorRT-LLM sweeps, TensorRT-LLM v0.17's max-throughput table and
v0.14's online table. Left out, its engine or version is one the fit never saw: its engine's step
times come from the engine's other sources, or, where none remain (vLLM, SGLang), from the other
engines' pooled fit; its front end's request time from its other runs, or the engine's own front
end's where none remain (Triton, seen only in v0.14). Every measured metric of every run gets two
simulations: in-sample (data/serving_overheads.toml as committed) and held-out (the refit).

Also written, as a second source of the static estimate's `batched decode` regime: the static
estimate at the largest batch the KV cache holds against the max-throughput rows (TensorRT-LLM
v0.17), where continuous batching keeps the batch at that limit. The estimate's factors were fitted
on no serving row, so those rows are held out already (both columns agree).

Columns as benchmarks/data/loso_residuals.csv; benchmarks/intervals.py builds the error bars.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from residual_file import write_or_check  # noqa: E402
from fit_serving import ENGINE_FRONTEND, fit_all, record, run_overheads, simulated, static, stored  # noqa: E402
from serving_cases import all_runs  # noqa: E402

OUT = Path(__file__).parent / "data" / "serving_residuals.csv"
COLUMNS = ["id", "source", "metric", "regime", "gpus", "link", "quantized", "measured", "in_sample", "held_out"]


def committed() -> dict:
    """data/serving_overheads.toml in fit_all's shape."""
    out = {}
    for eng in ENGINE_FRONTEND:
        row = stored()[eng]
        out[eng] = {k: row[k] for k in ("step_s", "per_seq_s", "request_s", "frontend")} | {
            "frontends": {f: {"request_s": v["request_s"]} for f, v in row.get("frontends", {}).items()}}
    return out


def situation_of_run(run) -> dict:
    import roofline
    from roofline.evidence.uncertainty import situation_of

    w = run.workload
    return situation_of(roofline.estimate(run.model, run.gpu, batch_size=1, input_len=w["input_len"],
                                          output_len=w["output_len"], **run.options))


def run() -> str:
    runs = all_runs()
    records = {r.key: record(r) for r in runs if r.workload["request_rate"] == math.inf}
    inside = committed()
    held: dict = {}
    for src in sorted({r.source for r in runs}):
        print(f"leaving out {src}", flush=True)
        params = fit_all(runs, records, leave_out=src, log=lambda *a: None)
        held.update({r.key: simulated(r, run_overheads(params, r)) for r in runs if r.source == src})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in runs:
        sit = situation_of_run(r)
        where = [sit["gpus"], sit["link"], sit["quantized"]]
        ins, out = simulated(r, run_overheads(inside, r)), held[r.key]
        for metric, value in r.measured.items():
            if ins.get(metric) and out.get(metric) and value > 0:
                w.writerow([f"{r.key}:{metric}", r.source, metric, r.regime, *where, f"{value:.6g}",
                            f"{ins[metric]:.6g}", f"{out[metric]:.6g}"])
        if r.regime == "max-throughput serving" and r.source == "trtllm-0.17":
            got = static(r).get("output_tok_s_per_gpu")
            if got:
                v = f"{got:.6g}"
                w.writerow([f"{r.key}:static", r.source, "output_tok_s_per_gpu", "batched decode", *where,
                            f"{r.measured['output_tok_s_per_gpu']:.6g}", v, v])
    return buf.getvalue()


def main() -> None:
    write_or_check(OUT, run, __doc__)


if __name__ == "__main__":
    main()
