"""benchmarks/gpu_grid.sh and gpu_grid.py: the plan of the GPU run (what fits, what is skipped and
why, the time it needs), and the whole run on the CPU with a tiny model (calibrate, measure,
the record of command and software, validate)."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_grid  # noqa: E402
from test_evidence import TINY  # noqa: E402


def test_predicted_seconds_counts_every_prefill_and_decode_step():
    est = types.SimpleNamespace(ttft_s=0.1, tpot_s=0.01)
    # 3 reps: 5 prefills (warm-up, 3 timed, the first token) and 4 × 31 decode steps, doubled, + 2 s to build
    assert gpu_grid.predicted_seconds(est, output_len=32, reps=3) == pytest.approx(2 * (5 * 0.1 + 4 * 31 * 0.01) + 2)


def _plan(**kw):
    args = dict(output_len=32, reps=3, max_prefill_tokens=65536, budget_s=420.0, fp8_reason=None)
    args.update(kw)
    return gpu_grid.plan_cells("h100-sxm", gpu_grid.MODELS, gpu_grid.BATCHES, gpu_grid.INPUTS, gpu_grid.FORMATS, **args)


def test_the_default_grid_fits_ten_minutes_on_an_h100():
    plan = _plan()
    assert len(plan.cells) == 2 * 2 * 5 * 3
    by = {c.label(): c for c in plan.cells}
    # 16 × 8192 = 131,072 prompt tokens: more than one prefill pass of the plain decoder holds
    assert by["llama-2-7b bf16 b=16 in=8192"].skipped == "prefill of 131072 tokens in one pass: over --max-prefill-tokens 65536"
    assert not by["llama-3-8b fp8 b=64 in=1024"].skipped and not by["llama-2-7b bf16 b=256 in=128"].skipped
    # the cells that run, within the measurement budget (calibration and start-up take the rest of ~10 min)
    assert len(plan.run) >= 40 and sum(c.predicted_s for c in plan.run) <= 420


def test_what_does_not_fit_or_has_no_fp8_is_skipped_with_why():
    plan = _plan(max_prefill_tokens=10**7, fp8_reason="fp8 needs a CUDA GPU with compute capability ≥ 8.9; A100 has 8.0")
    by = {c.label(): c for c in plan.cells}
    # Llama-2-7B's KV cache: 2 × 32 layers × 4096 × 2 B = 524,288 B a token; 256 × 8224 tokens = 1,104 GB,
    # + 13.5 GB of weights, against 85% of the H100's 85.52 GB = 72.7 GB
    why = by["llama-2-7b bf16 b=256 in=8192"].skipped
    assert why.startswith("does not fit: ") and why.endswith(" GB of 72.7 GB")
    assert float(why.split()[3]) > 1104 + 13.5
    assert all(c.skipped.endswith("A100 has 8.0") for c in plan.cells if c.fmt == "fp8")
    nothing = _plan(budget_s=0.0)
    assert not nothing.run and all("over the 0 s budget" in c.skipped or "prefill of" in c.skipped for c in nothing.cells)


def test_the_run_on_the_cpu_end_to_end(tmp_path):
    pytest.importorskip("torch")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "measured"
    env = dict(os.environ, PYTHON=sys.executable)
    args = ["bash", str(ROOT / "benchmarks" / "gpu_grid.sh"), "--device", "cpu", "--gpu", "h100", "--models", str(config),
            "--batches", "1,2", "--inputs", "8,16", "--formats", "bf16,fp8", "--output-len", "4", "--reps", "1",
            "--max-prefill-tokens", "16", "--out", str(out)]
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    names = sorted(f.name for f in out.iterdir())
    assert names == ["h100-sxm.csv", "h100-sxm.run.json", "h100-sxm.toml", "h100-sxm.validate.json", "h100-sxm.validate.txt"]
    run = json.loads((out / "h100-sxm.run.json").read_text())
    assert run["command"].startswith("benchmarks/gpu_grid.py --device cpu --gpu h100") and run["catalog_gpu"] == "h100-sxm"
    assert run["torch"] and "nvml" in run
    # 2 × 16 prompt tokens is over the cap of 16; fp8 has no CPU kernel path here: 3 bf16 cells ran
    assert run["skipped"][f"{config} bf16 b=2 in=16"] == "prefill of 32 tokens in one pass: over --max-prefill-tokens 16"
    assert run["skipped"][f"{config} fp8 b=1 in=8"].endswith("this is the CPU")
    assert run["cells_run"] == [f"{config} bf16 b=1 in=8", f"{config} bf16 b=1 in=16", f"{config} bf16 b=2 in=8"]
    rows = [line for line in (out / "h100-sxm.csv").read_text().splitlines()[1:] if not line.startswith("#")]
    assert len(rows) == 6 and all(",h100-sxm," in r for r in rows)
    v = json.loads((out / "h100-sxm.validate.json").read_text())
    assert len(v["cases"]) == 6 and {c["metric"] for c in v["cases"]} == {"ttft_s", "tpot_s"}
    assert "median" in (out / "h100-sxm.validate.txt").read_text()
