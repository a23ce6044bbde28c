"""How long `roofline --help` takes (the budget is 0.3 s): the CLI must not import plotting or
web libraries until a command needs them.

    python benchmarks/help_time.py            # median of 7 runs, and the heavy modules imported
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

BUDGET_S = 0.3
HEAVY = ("matplotlib", "plotly", "fastapi", "starlette", "uvicorn", "numpy", "pydantic")


def help_median(runs: int = 7) -> float:
    """Median wall time of `roofline --help` over `runs` fresh processes."""
    exe = Path(sys.executable).with_name("roofline")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(exe), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    runs = 7
    median = help_median(runs)
    probe = "import sys, roofline.cli.main; print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:]))))"
    loaded = subprocess.run([sys.executable, "-c", probe, *HEAVY], check=True, capture_output=True, text=True).stdout.strip()
    print(f"roofline --help: median {median * 1e3:.0f} ms over {runs} runs (budget {BUDGET_S * 1e3:.0f} ms); "
          f"heavy modules imported: {loaded or 'none'}")
    return 0 if median < BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
