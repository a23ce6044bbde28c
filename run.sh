#!/usr/bin/env bash
# Set up (first run only) and run roofline. With no arguments: the default estimate,
# Llama-3.1-8B on one H100 SXM, 1024 prompt tokens and 256 output tokens, with its working.
# With arguments: `./run.sh estimate llama-3-70b --gpu a100 -tp 2` runs that command instead.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/roofline ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[plot,web]'
fi
if [ "$#" -eq 0 ]; then
  set -- estimate llama-3.1-8b --gpu h100 --input-len 1024 --output-len 256 --explain
fi
exec .venv/bin/roofline "$@"
