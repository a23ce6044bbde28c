"""The explain trace: every formula's substituted numbers evaluate to the figure it explains."""

import re

import pytest

import roofline
from roofline.catalog import get_model
from roofline.cost.graph import step_ops
from roofline.specs.parallel import Parallel
from roofline.specs.precision import resolve_precision

CASES = [("llama-2-7b", "a100", 1), ("mixtral-8x7b", "h100", 2), ("deepseek-v2-lite", "h100", 1),
         ("gemma-2-9b", "l40s", 1), ("gpt-oss-20b", "h200", 1)]


def evaluate(expr: str) -> float:
    """The arithmetic after the last '=' of a formula, words dropped: '2·M·K·N = 2 × 8 × 4096' -> 65536."""
    tail = expr.rsplit("=", 1)[-1]
    tail = re.sub(r"(?<=\d),(?=\d{3}\b)", "", tail)  # whole numbers keep their digits with commas: 50,331,648
    tail = re.sub(r"[A-Za-z_][A-Za-z_,·̄()+]*(?=\s|$)", " ", tail)  # labels such as 'q,k,v in', 'KV write'
    tail = tail.replace("×", "*").replace("^", "**")
    return eval(tail, {"__builtins__": {}})


@pytest.mark.parametrize("model,gpu,tp", CASES)
@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_operator_formulas_evaluate_to_their_values(model, gpu, tp, phase):
    m = get_model(model)
    prec = resolve_precision(roofline.get_gpu(gpu))
    ops = step_ops(m, prec, Parallel(tp=tp), phase, 4, 1000, 200, trace=True)
    checked = 0
    for op in ops:
        for key, value in (("flops", op.flops), ("bytes", op.bytes)):
            expr = op.expr.get(key, "")
            if not expr or op.unit == "comm" or float(value) == 0:
                continue
            assert evaluate(expr) == pytest.approx(float(value), rel=0.03), (op.name, key, expr)
            checked += 1
    assert checked >= 10


def test_trace_covers_every_result():
    e = roofline.estimate("llama-3-70b", "h100", tp=4, batch_size=8, input_len=2048, output_len=128, weight_dtype="fp8")
    text = e.explain().render()
    for section in ("[inputs]", "[memory (per GPU)]", "[roofs]", "[prefill]", "[decode step]", "[results]"):
        assert section in text
    for figure in ("weights =", "KV cache =", "fits =", "TTFT (prefill) =", "decode step (TPOT) =", "e2e latency =",
                   "ridge point =", "critical batch =", "tp_all_reduce"):
        assert figure in text, figure
    d = e.to_dict(explain=True)
    assert d["explain"] and d["ops"] and all("formula" in s for s in d["explain"])


def test_memory_line_substitutes_numbers():
    lines = roofline.estimate("llama-2-7b", "a100").explain().render().splitlines()
    w = next(line for line in lines if line.strip().startswith("weights ="))
    assert "× 2 B" in w and w.strip().endswith("13.5 GB")
