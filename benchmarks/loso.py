"""Leave-one-source-out: refit the factors without each source and score that source's rows.

    python benchmarks/loso.py           # write benchmarks/data/loso_residuals.csv (a few minutes)
    python benchmarks/loso.py --check   # exit 1 if the committed file differs from a fresh run

Every scoreable static row gets two predictions: in-sample (the factors fitted on every source, as
committed) and held-out (the factors refitted on every source but the row's own). Sources that
are not in the fit (DeepGEMM, FlashMLA kernels) are held out already: both columns agree. Per-GPU
measured factors (MAMF matmul rates, bandwidth anchors) are measurements, not fits, and stay.
Each row also carries its regime and situation (roofline.evidence.uncertainty), from which
benchmarks/intervals.py builds the error bars.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from residual_file import write_or_check  # noqa: E402
from calibration import load_cases, score  # noqa: E402
from fit import fit, fit_rows  # noqa: E402

from roofline.evidence.uncertainty import regime_of_row, situation_of  # noqa: E402

OUT = Path(__file__).parent / "data" / "loso_residuals.csv"
COLUMNS = ["id", "source", "metric", "regime", "gpus", "link", "quantized", "measured", "in_sample", "held_out"]


def predictions(cases) -> dict[str, tuple[float, dict | None]]:
    """Prediction and situation of every scoreable row under the factors installed now."""
    out = {}
    for s in score(cases):
        c = s.case
        sit = None
        if c.read is not None:
            import roofline

            sit = situation_of(roofline.estimate(**c.kwargs))
        out[c.id] = (s.predicted, sit)
    return out


def run() -> str:
    cases = [c for c in load_cases() if not c.skip]
    train = fit_rows(cases)
    fit(train)
    inside = predictions(cases)
    held: dict[str, float] = {}
    for src in sorted({c.source for c in train}):
        fit([c for c in train if c.source != src])
        mine = [c for c in cases if c.source == src]
        held.update({k: v[0] for k, v in predictions(mine).items()})
    fit(train)  # leave the in-sample factors installed
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for c in cases:
        if c.id not in inside:
            continue
        pred, sit = inside[c.id]
        sit = sit or {"gpus": "1", "link": "", "quantized": ""}
        w.writerow([c.id, c.source, c.metric, regime_of_row(c.metric, c.tags), sit["gpus"], sit["link"],
                    sit["quantized"], f"{c.measured:.6g}", f"{pred:.6g}", f"{held.get(c.id, pred):.6g}"])
    return buf.getvalue()


def main() -> None:
    write_or_check(OUT, run, __doc__)


if __name__ == "__main__":
    main()
