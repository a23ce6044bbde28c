"""The serving commands read in an 80- and a 120-column terminal: nothing cut short with "…"."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOFLINE = str(Path(sys.executable).with_name("roofline"))
COMMANDS = [
    ["simulate", "llama-3.1-8b", "--gpu", "h100", "--input-len", "512", "--output-len", "64", "--num-prompts", "60",
     "--max-concurrency", "8"],
    ["plan", "llama-3.1-8b", "--request-rate", "2", "--input-len", "512", "--output-len", "64", "--gpus", "h100-sxm,l40s",
     "--max-gpus", "2", "--num-prompts", "40"],
]


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_no_ellipsis(args, columns):
    p = subprocess.run([ROOFLINE, *args], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "COLUMNS": str(columns)})
    assert p.returncode == 0, p.stderr
    assert "…" not in p.stdout, p.stdout
    assert max(len(line.rstrip()) for line in p.stdout.splitlines()) <= columns, p.stdout
