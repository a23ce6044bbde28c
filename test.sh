#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine (Python venv, the package with its
# test extras, Debian's Chromium for the browser test) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
      || echo "test.sh: could not install chromium; the browser test will be skipped" >&2
  fi
fi
if [ ! -x .venv/bin/pytest ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
.venv/bin/python -m pip install --quiet -e '.[test]'
# The CPU build of PyTorch, pinned, for the calibrate/measure tests (--device cpu). A bare `torch`
# requirement would pull the multi-GB CUDA build; the `gpu` extra leaves that choice to the user.
.venv/bin/python -m pip install --quiet torch==2.13.0
exec .venv/bin/python -m pytest "$@"
