"""Every command reads well in an 80- and a 120-column terminal: nothing is cut with "…".

Rich cuts a table cell with "…" when the table is wider than the terminal; the commands choose a
layout that fits instead (cli/layout.py). Each command runs through typer's CliRunner with
$COLUMNS set, which is what rich reads for the width.
"""

import re

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from roofline.cli.main import app

COMMANDS = [
    ["estimate", "llama-2-7b", "--gpu", "a100,h100,l40s", "-b", "32"],
    ["estimate", "llama-2-70b", "--gpu", "a100,h100,l40s,l4,h200-sxm,mi300x,rtx-pro-6000-blackwell", "-b", "32"],
    ["estimate", "llama-2-7b", "--gpu", "h100", "--ops"],
    ["estimate", "llama-2-70b", "--gpu", "l4", "--explain"],
    ["estimate", "mixtral-8x7b", "--gpu", "h100", "-tp", "2", "-pp", "2", "--num-gpus", "8", "--enable-expert-parallel", "-b", "64"],
    ["estimate", "llama-3-70b", "--gpu", "h100", "-tp", "4", "--speculative-model", "llama-3-8b",
     "--num-speculative-tokens", "4", "--acceptance-rate", "0.7"],
    ["parallel", "llama-2-70b", "--gpu", "a100", "--dtype", "fp16"],
    ["parallel", "mixtral-8x7b", "--gpu", "h100", "--num-gpus", "8"],
    ["parallel", "llama-2-70b", "--gpu", "a100", "--num-gpus", "16", "--gpus-per-node", "8", "--inter-node-link", "roce-100"],
    ["gpus"],
    ["models"],
    ["show", "a100"],
    ["show", "rtx-pro-6000-blackwell"],
    ["show", "deepseek-v3"],
    ["formulas"],
    ["estimate", "--help"],
    ["parallel", "--help"],
    ["plot", "--help"],
    ["prices"],
    ["simulate", "--help"],
    ["plan", "--help"],
]


def render(args: list[str], columns: int) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, (result.exit_code, result.output[-2000:])
    return result.output


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_nothing_is_cut(args, columns):
    text = render(args, columns)
    assert "…" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= columns  # display width: c̄ is one cell


@pytest.mark.parametrize("columns", [80, 120])
def test_comparison_keeps_every_gpu_name_and_unit(columns):
    gpus = ["a100-sxm-80gb", "h100-sxm", "l40s", "l4", "h200-sxm", "mi300x", "rtx-pro-6000-blackwell"]
    text = render(["estimate", "llama-2-70b", "--gpu", ",".join(gpus), "-b", "32"], columns)
    for name in gpus:
        assert re.search(rf"(^|\s){re.escape(name)}(\s|$)", text, re.M), name
    # every bandwidth keeps its unit: L4 300 GB/s, H200 4.8 TB/s
    assert "300 GB/s" in text and "4.8 TB/s" in text
    # both throughputs, each saying which it is
    assert "output tokens/s (static batch)" in text or "static batch" in text
    assert "decode tokens/s" in text or "decode\ntok/s" in text or "tok/s" in text


def test_not_fitting_is_marked_hypothetical():
    # Llama-2-70B in bf16 needs 139 GB: it does not fit one L4 (24 GB)
    one = render(["estimate", "llama-2-70b", "--gpu", "l4"], 80)
    assert "does not fit" in one
    assert one.count("if it fit:") == 3  # prefill, decode and end-to-end lines
    both = render(["estimate", "llama-2-70b", "--gpu", "l4,h200", "-b", "1"], 80)
    # H200 (141 GB) holds it; the L4 column is starred, with the legend
    assert "* if it fit" in both
    l4_ttft = re.search(r"TTFT \(prefill\)\s+(\S+ \S+)\s+(\S+ \S+)", both)
    assert l4_ttft and l4_ttft.group(1).endswith("*") and not l4_ttft.group(2).endswith("*")


def test_counts_read_as_people_say_them():
    models = render(["models"], 80)
    # Llama-2-70B: 68,976,648,192 parameters; Llama-3.1-8B: 8,030,261,248
    assert re.search(r"llama-2-70b\s+69\.0B\s+69\.0B", models)
    assert re.search(r"llama-3\.1-8b\s+8\.0B\s+8\.0B", models)
    assert not re.search(r"\de\d", models)
    shown = render(["show", "llama-3.1-70b"], 80)
    assert "70.6B (70,553,706,496) total" in shown


def test_labels_say_what_they_are():
    one = render(["estimate", "llama-2-7b", "--gpu", "h100"], 120)
    assert "decode throughput" in one and "output throughput (static batch)" in one


def test_flags_show_no_bool_in_help():
    text = render(["estimate", "--help"], 120)
    assert "--ideal" in text and "--enable-expert-parallel" in text
    assert "<bool>" not in text
    assert "<int>" in text  # options that take a value still say what kind


@pytest.mark.parametrize("args", [["formulas"], ["--help"], ["formulas", "--help"], ["parallel", "--help"]], ids=" ".join)
def test_no_internal_vocabulary(args):
    text = render(args, 120)
    assert not re.search(r"\bseeds?\b", text, re.I)


def test_formulas_cite_their_rules_of_thumb():
    text = render(["formulas"], 120)
    assert "rule of thumb (primer “GPU Fundamentals & LLM Inference Mental Models”)" in text
    assert "rule of thumb (primer “GPU Architecture for GenAI Leads”)" in text
    assert "→ 13.5 GB" in text  # Llama-2-7B fp16 weights, 6,738,415,616 × 2 B
