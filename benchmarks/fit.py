"""Fit the few empirical factors that the calibration set can pin down, each with a physical meaning.

    python benchmarks/fit.py            # fit and print the values and the error they give
    python benchmarks/fit.py --write    # also write them into the data files (basis = "fitted")

Fitted (everything else stays at its measured or datasheet value):
  compute_memory_overlap   share of min(t_compute, t_memory) a kernel hides      (global)
  dequant_ops_per_weight   ALU ops to unpack a weight in weight-only GEMMs         (global)
  gemm_shape_efficiency    model GEMMs in an engine vs the best-shape MAMF rate    (global)
  kernel_overhead_s        launch/tail cost per kernel                             (per GPU family, shared)
  memory_efficiency        achieved / datasheet bandwidth, for GPUs whose rows are
                           not themselves a bandwidth measurement                  (per GPU)
The loss is |log(predicted / measured)|, averaged within each kind of measurement (throughput,
TTFT, single-stream decode, bandwidth, GEMM kernels) and then across kinds, over every row that is
not itself the measurement of a factor (MAMF and achievable-bandwidth anchors): over- and
under-prediction weigh the same, and no source outvotes the others by its row count.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).parent))
from calibration import load_cases, score, summary  # noqa: E402

import roofline.estimates.timing as timing  # noqa: E402
from roofline.catalog import gpus as gpu_catalog  # noqa: E402
from roofline.catalog.factors import all_factors  # noqa: E402
from roofline.specs.hardware import Factor  # noqa: E402

DATA = Path(__file__).parents[1] / "src" / "roofline" / "data"
FIT_GPUS = ["mi250x-gcd"]  # memory_efficiency fitted: its only rows are gpt-fast decode


def params0() -> dict[str, float]:
    f = all_factors()
    gpus = gpu_catalog._load_all()
    p = {
        "compute_memory_overlap": f["compute_memory_overlap"].value,
        "dequant_ops_per_weight": f["dequant_ops_per_weight"].value,
        "gemm_shape_efficiency": f["gemm_shape_efficiency"].value if "gemm_shape_efficiency" in f else 1.0,
        "kernel_overhead_s": gpus["h100-sxm"].factors.kernel_overhead_s.value,
        "eager_kernel_overhead_s": f["eager_kernel_overhead_s"].value,
    }
    for g in FIT_GPUS:
        p[f"memory_efficiency:{g}"] = gpus[g].factors.memory_efficiency.value
    return p


BOUNDS = {"compute_memory_overlap": (0.0, 1.0), "dequant_ops_per_weight": (0.0, 10.0),
          "gemm_shape_efficiency": (0.5, 1.0), "kernel_overhead_s": (0.5e-6, 20e-6),
          "eager_kernel_overhead_s": (0.0, 30e-6)}
GLOBAL = ("compute_memory_overlap", "dequant_ops_per_weight", "gemm_shape_efficiency", "eager_kernel_overhead_s")


def apply(p: dict[str, float]) -> None:
    """Install the parameters in the loaded catalogs (in memory only)."""
    base = all_factors()
    patched = dict(base)
    for k in GLOBAL:
        patched[k] = Factor(value=p[k], basis="fitted", source="fit", fitted_on="")
    timing.factor = lambda name: patched[name]
    gpus = gpu_catalog._load_all()
    for name, g in list(gpus.items()):
        upd = {"kernel_overhead_s": g.factors.kernel_overhead_s.model_copy(update={"value": p["kernel_overhead_s"]})}
        key = f"memory_efficiency:{name}"
        if key in p:
            upd["memory_efficiency"] = g.factors.memory_efficiency.model_copy(update={"value": min(p[key], 1.0)})
        gpus[name] = g.model_copy(update={"factors": g.factors.model_copy(update=upd)})


def family(metric: str) -> str:
    """Rows of one measurement kind; a GEMM's TFLOP/s and GB/s are one measurement."""
    return "gemm" if metric.startswith("gemm_") else metric


def loss(cases, p: dict[str, float]) -> float:
    """Mean over measurement kinds of the mean |log error| within the kind, so that the 144
    TensorRT-LLM rows do not outvote the kernel and single-stream measurements."""
    apply(p)
    errs: dict[str, list[float]] = {}
    for s in score(cases):
        errs.setdefault(family(s.case.metric), []).append(abs(np.log(s.predicted / s.case.measured)))
    return float(np.mean([np.mean(v) for v in errs.values()]))


def fit(cases, p0: dict[str, float]) -> dict[str, float]:
    keys = list(p0)

    def to_x(p):
        return np.array([p[k] for k in keys])

    def to_p(x):
        p = {}
        for k, v in zip(keys, x):
            lo, hi = BOUNDS.get(k.split(":")[0], (0.3, 1.0))
            p[k] = float(np.clip(v, lo, hi))
        return p

    res = minimize(lambda x: loss(cases, to_p(x)), to_x(p0), method="Nelder-Mead",
                   options={"maxiter": 600, "xatol": 1e-4, "fatol": 1e-5, "adaptive": True})
    return to_p(res.x)


def write(p: dict[str, float], fitted_on: str) -> None:
    """Set each fitted value in its data file, keeping the comments around it."""
    note = f'source = "Fitted by benchmarks/fit.py (mean |log error| over the calibration rows)."\nfitted_on = "{fitted_on}"'

    def sub(path: Path, table: str, value: float) -> None:
        text = path.read_text()
        pat = re.compile(rf"(\[{re.escape(table)}\]\n(?:#.*\n)*)value = [^\n]*\n(?:by_dtype = [^\n]*\n)?basis = [^\n]*\nsource = [^\n]*\nfitted_on = [^\n]*")
        m = pat.search(text)
        if not m:
            raise SystemExit(f"cannot find [{table}] in {path}")
        by = re.search(r"by_dtype = [^\n]*\n", m.group(0))
        repl = f"{m.group(1)}value = {value:.4g}\n{by.group(0) if by else ''}basis = \"fitted\"\n{note}"
        path.write_text(text[: m.start()] + repl + text[m.end():])

    for k in GLOBAL:
        sub(DATA / "factors.toml", k, p[k])
    for f in sorted((DATA / "gpus").glob("*.toml")):
        sub(f, "factors.kernel_overhead_s", p["kernel_overhead_s"])
    for g in FIT_GPUS:
        sub(DATA / "gpus" / f"{g}.toml", "factors.memory_efficiency", p[f"memory_efficiency:{g}"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--with-kernels", action="store_true", help="also fit on the single-kernel rows (DeepGEMM, FlashMLA)")
    args = ap.parse_args()
    cases = [c for c in load_cases() if not c.skip and "anchor" not in c.tags
             and (args.with_kernels or "kernel" not in c.tags)]
    p0 = params0()
    print(f"start loss {loss(cases, p0):.4f}")
    p = fit(cases, p0)
    print(f"fitted loss {loss(cases, p):.4f}")
    for k, v in p.items():
        print(f"  {k:32s} {v:.4g}")
    for k, v in summary(score(cases)).items():
        print(f"  {k:55s} n={v['rows']:3d} median |err| {v['median_abs_error']:6.1%} signed {v['median_signed_error']:+6.1%}")
    if args.write:
        write(p, f"{len(cases)} rows of benchmarks/data/measured.csv (all but the MAMF and bandwidth anchors)")
        print("written")


if __name__ == "__main__":
    main()
