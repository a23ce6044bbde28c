"""The estimator against the published measurements in benchmarks/data/measured.csv.

The target (docs/accuracy.md): median |error| ≤ 15% per metric on the single-stream and
static-batch rows. Anchors (rows that are themselves a factor's measurement) must be exact.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from calibration import load_cases, score, summary  # noqa: E402

TARGET = ["output_tok_s_per_gpu", "ttft", "decode_tok_s_per_user", "achieved_weight_bw_per_gpu", "achieved_mem_bw"]


@pytest.fixture(scope="module")
def scored():
    cases = load_cases()
    # every static row maps to the catalog; only the serving rows (the serving simulator's) are skipped
    assert not [c for c in cases if c.skip and not c.skip.startswith("serving row")], "every static row maps to the catalog"
    return score(cases)


@pytest.mark.parametrize("metric", TARGET)
def test_median_error_within_target(scored, metric):
    s = summary(scored)[f"metric: {metric}"]
    assert s["rows"] >= 27
    assert s["median_abs_error"] <= 0.15


def test_anchor_rows_are_the_factors(scored):
    for s in scored:
        if "anchor" in s.case.tags:
            assert abs(s.error) < 0.05, s.case.id


def test_known_rows(scored):
    by_id = {s.case.id: s for s in scored}
    # gpt-fast Llama-2-7B bf16 on one A100 (330 W): 104.9 tokens/s
    assert by_id["gptfast-001"].predicted == pytest.approx(104.9, rel=0.15)
    # TensorRT-LLM Llama-2-7B fp16 A100, 2048-token prompt: 132.4 ms to the first token
    assert by_id["trt09-140"].predicted == pytest.approx(132.4, rel=0.15)
