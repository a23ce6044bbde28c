"""Write a residual file, or check that the committed one reproduces (the `--check` of loso.py and
serving_loso.py, which CI runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable


def write_or_check(out: Path, run: Callable[[], str], description: str) -> None:
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed residual file differs from a fresh run")
    args = ap.parse_args()
    text = run()
    if args.check:
        ok = out.exists() and out.read_text() == text
        print(f"{out.name} {'reproduces' if ok else 'differs from a fresh run'}")
        raise SystemExit(0 if ok else 1)
    out.write_text(text)
    print(f"wrote {out} ({text.count(chr(10)) - 1} rows)")
