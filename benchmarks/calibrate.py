"""Score the estimator against the published measurements and print the error per metric.

    python benchmarks/calibrate.py                 # summary table (median |error| per metric)
    python benchmarks/calibrate.py --rows          # every row: measured, predicted, error
    python benchmarks/calibrate.py --markdown docs/accuracy-table.md

Error = predicted / measured − 1. Tuning of the efficiency defaults (data/gpus/*.toml,
data/factors.toml) used these rows only; docs/accuracy.md explains how.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from calibration import group_of, load_cases, score, summary  # noqa: E402


def table(summ: dict, ideal: dict | None = None) -> str:
    head = "| group | rows | median abs error | p90 abs error | median signed error |"
    rule = "|---|---:|---:|---:|---:|"
    if ideal is not None:
        head, rule = head + " pure roofline (--ideal): median signed error |", rule + "---:|"
    lines = [head, rule]
    for k, v in summ.items():
        row = f"| {k} | {v['rows']} | {v['median_abs_error']:.1%} | {v['p90_abs_error']:.1%} | {v['median_signed_error']:+.1%} |"
        if ideal is not None:
            row += f" {ideal[k]['median_signed_error']:+.1%} |" if k in ideal else " - |"
        lines.append(row)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", action="store_true", help="print every row")
    ap.add_argument("--markdown", type=Path, help="write the summary table to this file")
    args = ap.parse_args()
    cases = load_cases()
    scored = score(cases)
    if args.rows:
        for s in sorted(scored, key=lambda s: (group_of(s), s.case.id)):
            c = s.case
            print(f"{c.id:12s} {group_of(s)[:40]:40s} {c.row['model'][:22]:22s} {c.row['gpu'][:16]:16s} tp={c.row['tp']:2s} "
                  f"{c.row['weight_dtype'][:10]:10s} b={c.row['batch_or_concurrency'][:6]:6s} in={c.row['input_len'][:5]:5s} "
                  f"out={c.row['output_len'][:5]:5s} measured {c.measured:10.4g} predicted {s.predicted:10.4g} error {s.error:+7.1%}")
    skipped = [c for c in cases if c.skip]
    summ = summary(scored)
    text = table(summ, summary(score(cases, ideal=True)))
    print(text)
    reasons: dict[str, int] = {}
    for c in skipped:
        reasons[c.skip] = reasons.get(c.skip, 0) + 1
    print(f"\n{len(scored)} rows scored, {len(skipped)} skipped" + "".join(f"\n  {n} skipped: {why}" for why, n in reasons.items()))
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
