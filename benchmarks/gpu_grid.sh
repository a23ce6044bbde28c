#!/usr/bin/env bash
# The measurements still to take on a real NVIDIA GPU (none was available when the evidence commands
# were built): calibrate the GPU, time the Llama-2-7B / Llama-3-8B grid, score the estimator on it.
#   benchmarks/gpu_grid.sh h100-sxm        # writes benchmarks/measured/h100-sxm.{toml,csv}
set -euo pipefail
gpu=${1:?catalog GPU name, e.g. h100-sxm}
out=benchmarks/measured
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv > "$out/$gpu.nvidia-smi.txt"
roofline calibrate --gpu "$gpu" -o "$out/$gpu.toml"
for model in llama-2-7b llama-3-8b; do
  for batch in 1 4 16 64 256; do
    for input in 128 1024 8192; do
      roofline measure "$model" --gpu "$gpu" -b "$batch" --input-len "$input" --output-len 64 -o "$out/$gpu.csv" \
        || echo "skipped $model b=$batch in=$input (see the error above)" >&2
    done
  done
done
roofline validate "$out/$gpu.csv"
