"""The GPU run of issue 11: calibrate this GPU, time Llama-2-7B- and Llama-3-8B-shaped decoders over
batch × prompt length × format, and keep everything a reader needs to trust the numbers.

    python benchmarks/gpu_grid.py [--gpu local] [--out benchmarks/measured] [--budget-s 420]

Writes, under --out, for the catalog GPU G:
  G.toml        the calibration profile (`roofline calibrate`)
  G.csv         the measured TTFT and TPOT as `roofline validate` rows, each run's command in a comment
  G.run.json    the exact command, the date, the GPU (torch and NVML), torch, CUDA, driver, and every
                cell of the grid that was not run with the reason
and prints the CSV's path on stdout (progress goes to stderr); benchmarks/gpu_grid.sh then runs
`roofline validate` on it.

A cell is skipped before it runs when the estimator says it does not fit in 85% of the GPU's
memory, when its prompt (batch × input tokens) is larger than one prefill pass the plain-PyTorch
decoder can hold (--max-prefill-tokens: it does not chunk prefill), or when its predicted time does
not fit the budget; fp8 cells are skipped where the GPU has no fp8 (compute capability < 8.9). The
predicted time of a cell is the estimator's TTFT and TPOT times the prefills and decode steps the
measurement runs, doubled (plain PyTorch is slower than the engines the estimator models) plus
two seconds to build the model.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import roofline
from roofline.errors import RooflineError

MODELS = ("llama-2-7b", "llama-3-8b")
BATCHES = (1, 4, 16, 64, 256)
INPUTS = (128, 1024, 8192)
FORMATS = ("bf16", "fp8")  # fp8: weights and activations in e4m3 through the scaled matmul
MEMORY_FRACTION = 0.85  # leave room for the prefill's activations and the allocator
SLOWDOWN = 2.0  # plain PyTorch against the engines the estimator models
BUILD_S = 2.0  # allocate and fill the random weights, capture the CUDA graph


@dataclass
class Cell:
    model: str
    fmt: str
    batch: int
    input_len: int
    predicted_s: float = 0.0
    skipped: str = ""

    def label(self) -> str:
        return f"{self.model} {self.fmt} b={self.batch} in={self.input_len}"


@dataclass
class Plan:
    cells: list[Cell] = field(default_factory=list)

    @property
    def run(self) -> list[Cell]:
        return [c for c in self.cells if not c.skipped]


def predicted_seconds(est, output_len: int, reps: int) -> float:
    prefills = reps + 2  # one warm-up, `reps` timed, one for the first token before decoding
    steps = (reps + 1) * (output_len - 1)
    return SLOWDOWN * (prefills * est.ttft_s + steps * est.tpot_s) + BUILD_S


def plan_cells(gpu: str, models, batches, inputs, formats, *, output_len: int, reps: int,
               max_prefill_tokens: int, budget_s: float, fp8_reason: str | None) -> Plan:
    """Every cell of the grid, each either to run (with its predicted seconds) or skipped with why."""
    plan = Plan()
    for model in models:
        for fmt in formats:
            for batch in batches:
                for n in inputs:
                    plan.cells.append(_cell(gpu, model, fmt, batch, n, output_len, reps, max_prefill_tokens, fp8_reason))
    spent = 0.0
    for c in sorted(plan.run, key=lambda c: c.predicted_s):  # the cheapest cells first, until the budget is spent
        if spent + c.predicted_s > budget_s:
            c.skipped = f"predicted {c.predicted_s:.0f} s: over the {budget_s:.0f} s budget"
        else:
            spent += c.predicted_s
    return plan


def _cell(gpu, model, fmt, batch, n, output_len, reps, max_prefill_tokens, fp8_reason) -> Cell:
    c = Cell(model, fmt, batch, n)
    if fmt == "fp8" and fp8_reason:
        c.skipped = fp8_reason
        return c
    if batch * n > max_prefill_tokens:
        c.skipped = f"prefill of {batch * n} tokens in one pass: over --max-prefill-tokens {max_prefill_tokens}"
        return c
    quant = {"weight_dtype": "fp8", "activation_dtype": "fp8"} if fmt == "fp8" else {}
    est = roofline.estimate(model, gpu, batch_size=batch, input_len=n, output_len=output_len, dtype="bfloat16",
                            gpu_memory_utilization=MEMORY_FRACTION, **quant)
    if not est.memory.fits:
        c.skipped = f"does not fit: {est.memory.total_bytes / 1e9:.1f} GB of {est.memory.capacity_bytes / 1e9:.1f} GB"
        return c
    c.predicted_s = predicted_seconds(est, output_len, reps)
    return c


def environment(device, gpu: str, argv: list[str]) -> dict:
    """What the numbers depend on: the command, the GPU as torch and NVML name it, the software."""
    from roofline.evidence.local_gpu import read_nvml
    from roofline.evidence.torch_env import device_name, software

    env = {"command": " ".join(["benchmarks/gpu_grid.py", *argv]), "date": _now(), "catalog_gpu": gpu,
           "device": device_name(device), "python": platform.python_version(), "roofline": roofline.__version__,
           **software(device)}
    try:
        nv = read_nvml()
        env["nvml"] = {"name": nv.name, "memory_bytes": nv.memory_bytes, "driver": nv.driver, "gpus": nv.count}
    except RooflineError as e:
        env["nvml"] = {"unavailable": str(e)}
    return env


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_cells(plan: Plan, args, gpu: str, csv_path: Path, deadline: float) -> None:
    from roofline.evidence.measure import append_csv, measure
    from roofline.evidence.torch_env import load_torch

    torch = load_torch()
    for c in plan.run:
        if time.monotonic() + c.predicted_s > deadline:
            c.skipped = "not run: the time budget was spent"
            continue
        log(f"measure {c.label()} (predicted {c.predicted_s:.1f} s)")
        try:
            r = measure(c.model, args.device, batch_size=c.batch, input_len=c.input_len, output_len=args.output_len,
                        dtype="bf16", weight_dtype="fp8" if c.fmt == "fp8" else None, reps=args.reps, gpu=gpu)
        except RooflineError as e:  # out of memory after all, or a kernel this build lacks
            c.skipped = f"failed: {e}"
            log(f"  {c.skipped}")
            continue
        append_csv(str(csv_path), r, gpu)
        log(f"  TTFT {r['ttft_s'] * 1e3:.2f} ms, TPOT {(r['tpot_s'] or 0) * 1e3:.3f} ms")
        if args.device == "cuda":
            torch.cuda.empty_cache()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gpu", default="local", help="catalog GPU the estimates are for (default: the local GPU, via NVML)")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"), help="cpu: tiny shapes, for the tests")
    p.add_argument("--out", default="benchmarks/measured")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batches", default=",".join(map(str, BATCHES)))
    p.add_argument("--inputs", default=",".join(map(str, INPUTS)))
    p.add_argument("--formats", default=",".join(FORMATS))
    p.add_argument("--output-len", type=int, default=32)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--max-prefill-tokens", type=int, default=65536)
    p.add_argument("--budget-s", type=float, default=420.0, help="seconds for the measurements, calibration aside")
    p.add_argument("--no-calibrate", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    start = time.monotonic()
    gpu = roofline.get_gpu(args.gpu).name
    from roofline.evidence.torch_env import device_of, fp8_unsupported

    device = device_of(args.device)
    plan = plan_cells(gpu, args.models.split(","), _ints(args.batches), _ints(args.inputs), args.formats.split(","),
                      output_len=args.output_len, reps=args.reps, max_prefill_tokens=args.max_prefill_tokens,
                      budget_s=args.budget_s, fp8_reason=fp8_unsupported(device))
    log(f"{gpu}: {len(plan.run)} of {len(plan.cells)} cells to run, predicted {sum(c.predicted_s for c in plan.run):.0f} s")
    for c in plan.cells:
        if c.skipped:
            log(f"  skip {c.label()}: {c.skipped}")
    if args.dry_run:
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment(device, gpu, argv)
    if not args.no_calibrate:
        from roofline.evidence.run_calibration import calibrate

        log("calibrate")
        calibrate(str(out / f"{gpu}.toml"), args.device, gpu, "bf16,fp16,fp8,int8", None)
    csv_path = out / f"{gpu}.csv"
    csv_path.unlink(missing_ok=True)  # one run per file: the run.json describes exactly these rows
    run_cells(plan, args, gpu, csv_path, deadline=time.monotonic() + args.budget_s)
    env.update(finished=_now(), wall_s=round(time.monotonic() - start, 1),
               cells_run=[c.label() for c in plan.cells if not c.skipped],
               skipped={c.label(): c.skipped for c in plan.cells if c.skipped})
    (out / f"{gpu}.run.json").write_text(json.dumps(env, indent=2) + "\n")
    print(csv_path)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RooflineError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
