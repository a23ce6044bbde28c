#!/usr/bin/env bash
# The measurements to take on a machine with an NVIDIA GPU (about 10 minutes on one H100 or H200):
# calibrate the GPU, time the Llama-2-7B / Llama-3-8B grid (batch 1-256 × input 128-8192, bf16, and
# fp8 where the GPU has it), then score the estimator on what was measured.
#   pip install -e '.[gpu]'           # PyTorch and nvidia-ml-py
#   benchmarks/gpu_grid.sh            # the local GPU, found through NVML; writes benchmarks/measured/<gpu>.*
#   benchmarks/gpu_grid.sh --gpu h100-sxm --budget-s 300 --dry-run    # options: benchmarks/gpu_grid.py --help
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
[ -x "$py" ] || py=python3
roofline=$(dirname "$py")/roofline
[ -x "$roofline" ] || roofline=roofline
csv=$("$py" benchmarks/gpu_grid.py "$@")       # progress on stderr; the CSV's path on stdout
[ -n "$csv" ] || exit 0                         # --dry-run: the plan only
"$roofline" validate "$csv" | tee "${csv%.csv}.validate.txt"
"$roofline" validate "$csv" --json > "${csv%.csv}.validate.json"
echo "wrote ${csv%.csv}.{toml,csv,run.json,validate.txt,validate.json}" >&2
