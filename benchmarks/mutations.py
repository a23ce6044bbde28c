"""Physics mutations: each breaks one piece of the model on purpose and must make a test fail.

    python benchmarks/mutations.py            # every mutation; prints the failing test of each
    python benchmarks/mutations.py --list     # the mutations and the source lines they change
    python benchmarks/mutations.py NAME ...   # only these

Each mutation is a source patch (exact text → replacement) applied to a copy of the tree in a
temporary directory; pytest then runs against the copy (PYTHONPATH points at its src/), first
tests/test_physics_regressions.py, the whole suite only if that file stays green. A mutation that
no test catches is a hole in the suite: the script exits 1. A patch whose text is no longer in
the source exits 2 (the code moved: update the mutation, do not delete it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOCUS = "tests/test_physics_regressions.py"
GUARD = FOCUS + "::test_every_mutation_still_applies"  # fails on any patched copy by design: not a catch


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str
    file: str
    old: str
    new: str
    count: int = 1  # occurrences replaced (all must exist)


MUTATIONS = [
    Mutation("sliding-window-ignored", "sliding window ignored in attention FLOPs/bytes (every layer attends globally)",
             "src/roofline/cost/context.py",
             '    full = L * (L + 1) / 2\n    if layer.window_kind == "global" or not layer.window:\n        return full',
             '    full = L * (L + 1) / 2\n    if True:\n        return full'),
    Mutation("shared-experts-no-compute", "shared experts dropped from compute",
             "src/roofline/cost/graph.py", "    if s.shared_width:\n        ops += _mlp_ops",
             "    if False:\n        ops += _mlp_ops"),
    Mutation("shared-experts-no-memory", "shared experts dropped from weight memory",
             "src/roofline/estimates/memory.py",
             '("shared_experts", mats * d * s.shared_width)', '("shared_experts", 0.0)'),
    Mutation("verify-k-not-k+1", "speculative verification over k instead of k + 1 tokens",
             "src/roofline/estimates/speculative.py", "query_len=k + 1), r, par)", "query_len=k), r, par)"),
    Mutation("all-to-all-doubled", "all-to-all traffic doubled",
             "src/roofline/cost/expert_parallel.py", "comm=local * k * d * w.a", "comm=2 * local * k * d * w.a",
             count=2),
    Mutation("tied-lm-head-twice", "a tied lm_head counted twice in weight memory",
             "src/roofline/estimates/memory.py",
             "head = 0.0 if m.tie_word_embeddings else m.vocab_size * m.hidden_size / par.tp",
             "head = m.vocab_size * m.hidden_size / par.tp"),
    Mutation("chunked-as-global", "chunked attention treated as global",
             "src/roofline/cost/context.py",
             '    full = L * (L + 1) / 2\n    if layer.window_kind == "global" or not layer.window:',
             '    full = L * (L + 1) / 2\n    if layer.window_kind in ("global", "chunked") or not layer.window:'),
    Mutation("pipeline-kv-floor", "the pipeline KV share rounded down instead of up",
             "src/roofline/estimates/memory.py",
             "    share = math.ceil(m.num_layers / par.pp) / m.num_layers\n    return np.asarray(batch",
             "    share = (m.num_layers // par.pp) / m.num_layers\n    return np.asarray(batch"),
    Mutation("no-eager-overhead", "eager kernel overhead removed",
             "src/roofline/estimates/timing.py", "return op.kernels * r.eager_kernel_overhead", "return 0.0"),
    Mutation("attention-kernels-1", "attention kernels per layer 2 → 1",
             "src/roofline/cost/graph.py", "ATTENTION_KERNELS = 2", "ATTENTION_KERNELS = 1"),
    Mutation("no-logits-activation", "logits dropped from activation memory",
             "src/roofline/estimates/memory.py",
             "p.model.bytes + np.asarray(batch, dtype=float) * s.vocab * 4.0", "p.model.bytes"),
    Mutation("prefill-lm-head-all-tokens", "prefill lm_head over all tokens instead of the last",
             "src/roofline/cost/graph.py", 'rows = b if phase == "prefill" else T', "rows = T"),
    Mutation("decode-context-off-by-one", "decode context off by one (positions L .. L+n−2 instead of L+1 .. L+n−1)",
             "src/roofline/cost/context.py",
             "return (attended_sum(L + m, layer) - attended_sum(L, layer)) / m",
             "return (attended_sum(L + m - 1, layer) - attended_sum(L - 1, layer)) / m"),
    # issue 8, sections 3 and 4: the limit and the collectives
    Mutation("ideal-is-per-op-sum", "--ideal back to the per-operator sum instead of the fused limit",
             "src/roofline/estimates/timing.py", "if self.ops and all(t.fused for t in self.ops):", "if False:"),
    Mutation("ring-steps-constant", "collective latency no longer grows with the ring's 2(n−1) steps",
             "src/roofline/estimates/collectives.py", "total, inter = 2 * (n - 1), 2 * (nodes - 1)",
             "total, inter = 2 + 2 * (nodes - 1), 2 * (nodes - 1)"),
]


def _copy_tree(dst: Path) -> None:
    skip = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".hypothesis", ".pytest_cache", "*.png", "*.svg")
    for part in ("src", "tests", "benchmarks", "docs"):
        shutil.copytree(ROOT / part, dst / part, ignore=skip)
    for f in ("pyproject.toml", "README.md"):
        if (ROOT / f).exists():
            shutil.copy(ROOT / f, dst / f)


def apply(mut: Mutation, tree: Path) -> None:
    path = tree / mut.file
    text = path.read_text()
    found = text.count(mut.old)
    if found != mut.count:
        print(f"{mut.name}: expected {mut.count} occurrence(s) of the patched text in {mut.file}, found {found}")
        sys.exit(2)
    path.write_text(text.replace(mut.old, mut.new))


def _pytest(tree: Path, targets: list[str]) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly",
           "--no-header", "-rf", "--tb=no", "--deselect", GUARD, *targets]
    out = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in out.stdout.splitlines() if line.startswith("FAILED ")]
    return out.returncode, failed[0] if failed else ""


def check_isolated(tree: Path) -> None:
    """The copy, not the installed tree, must be what the tests import."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    where = subprocess.run([sys.executable, "-c", "import roofline; print(roofline.__file__)"], env=env, cwd=tree,
                           capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(tree)):
        print(f"the tests would import roofline from {where}, not from the mutated copy")
        sys.exit(2)


def run_one(mut: Mutation, base: Path) -> tuple[str, str, float]:
    start = time.perf_counter()
    tree = base / mut.name
    _copy_tree(tree)
    check_isolated(tree)
    apply(mut, tree)
    rc, failed = _pytest(tree, [FOCUS])
    where = "physics"
    if rc == 0:
        rc, failed = _pytest(tree, ["tests"])
        where = "suite"
    shutil.rmtree(tree, ignore_errors=True)
    verdict = f"caught by {failed}" if rc == 1 and failed else ("NOT CAUGHT" if rc == 0 else f"pytest exit {rc}")
    return verdict, where, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="mutations to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    if args.list:
        for m in chosen:
            print(f"{m.name:28} {m.what}\n{'':28} {m.file}: {m.old.strip()!r} → {m.new.strip()!r}")
        return 0
    missed = 0
    print(f"| mutation | what it breaks | result | seconds |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="roofline-mutations-") as tmp:
        for m in chosen:
            verdict, _, secs = run_one(m, Path(tmp))
            missed += not verdict.startswith("caught")
            print(f"| `{m.name}` | {m.what} | {verdict} | {secs:.0f} |", flush=True)
    print(f"\n{len(chosen) - missed} of {len(chosen)} mutations caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
