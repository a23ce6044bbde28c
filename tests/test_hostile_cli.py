"""Hostile command lines: a closed pipe ends every command quietly with 0, zero sweep limits and
unknown hosts are one-line errors, bad configs are one line with exit 2, and a fuzz of arguments
ends in exit 0 with finite, non-negative numbers or exit 2 with one line, never a traceback."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roofline.cli.main import run as cli_run

EXE = str(Path(sys.executable).with_name("roofline"))


def cli(*args):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


def one_line_error(p) -> str:
    assert p.returncode == 2, (p.returncode, p.stdout[-500:], p.stderr[-2000:])
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "Traceback" not in p.stderr and "pydantic" not in p.stderr
    return lines[0]


# Every command, with output enough to meet the closed pipe (each path: rich tables, the explain
# trace, plain JSON, typer's help, a `wrote FILE` line).
PIPED = [
    ["estimate", "llama-2-7b", "--gpu", "a100,h100"], ["estimate", "llama-2-7b", "--explain"],
    ["estimate", "llama-2-7b", "--json"], ["parallel", "llama-2-70b", "--gpu", "a100"], ["gpus"],
    ["models", "--json"], ["show", "deepseek-v3"], ["formulas"], ["--help"],
    ["plot", "memory", "llama-2-7b", "-o", "{tmp}/m.svg"], ["report", "llama-2-7b", "-o", "{tmp}/r.html"],
]


def test_every_command_into_a_closed_pipe_exits_quietly_with_0(tmp_path):
    """As `roofline ... | head -1` once head has exited: our end of the pipe is closed before the
    command writes, so every write meets EPIPE (deterministic, unlike racing a real `head`)."""
    procs = []
    for args in PIPED:
        argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
        p = subprocess.Popen([EXE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.close()
        procs.append((argv, p))
    for argv, p in procs:
        err = p.stderr.read().decode()
        p.stderr.close()
        assert p.wait(timeout=120) == 0 and err == "", (argv, p.returncode, err[-1500:])


@pytest.mark.parametrize("args, words", [
    (["plot", "batch", "llama-2-7b", "--max-batch", "0"], "the largest batch of a sweep must be in 1.."),
    (["plot", "crossover", "llama-2-7b", "--max-batch", "0"], "the largest batch of a sweep must be in 1.."),
    (["plot", "prefill", "llama-2-7b", "--max-input-len", "0"], "the longest prompt of a sweep must be in 1.."),
    (["web", "--host", "no.such.host.invalid"], "--host no.such.host.invalid"),
])
def test_zero_sweep_limits_and_unknown_hosts_are_one_line(tmp_path, args, words):
    argv = [*args, "-o", str(tmp_path / "x.png")] if args[0] == "plot" else args
    assert words in one_line_error(cli(*argv))
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("content, words", [
    ('{"num_hidden_layers": Infinity}', "Infinity is not a number JSON allows"),
    (None, "num_attention_heads (32) is not a multiple of num_key_value_heads (3)"),
])
def test_bad_config_files_are_one_line(tmp_path, content, words):
    from test_hostile_config import LLAMA

    p = tmp_path / "config.json"
    p.write_text(content if content is not None else json.dumps({**LLAMA, "num_key_value_heads": 3}))
    assert words in one_line_error(cli("estimate", str(p)))


def test_a_model_name_too_long_for_a_path_is_one_line():
    assert "unknown model" in one_line_error(cli("estimate", "x" * 5000))


def test_dev_zero_and_non_utf8_files_are_one_line(tmp_path):
    assert "larger than 16 MB" in one_line_error(cli("estimate", "/dev/zero"))
    p = tmp_path / "config.json"
    p.write_bytes(b"\xff\xfe{}")
    assert "not UTF-8" in one_line_error(cli("estimate", str(p)))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert "nested more than 32 levels" in one_line_error(cli("estimate", str(deep)))


# --- the fuzz: hostile arguments, run in-process ---

NUMBERS = st.one_of(st.sampled_from(["1", "2", "4", "8", "0.7"]),  # half plausible, half hostile
                    st.sampled_from(["0", "-1", "3", "1e400", "nan", "inf", "-inf", "0.5", "2.5", "abc", "",
                                     "999999999999", "4096", "1.0", "100000001"]))
OPTIONS = {
    "--batch-size": NUMBERS, "--input-len": NUMBERS, "--output-len": NUMBERS, "-tp": NUMBERS, "-pp": NUMBERS,
    "-dp": NUMBERS, "--num-gpus": NUMBERS, "--gpus-per-node": NUMBERS, "--num-micro-batches": NUMBERS,
    "--weight-bits": NUMBERS, "--gpu-memory-utilization": NUMBERS, "--acceptance-rate": NUMBERS,
    "--num-speculative-tokens": NUMBERS,
    "--dtype": st.sampled_from(["fp16", "bf16", "fp8", "int4", "16", "", "auto", "tf32"]),
    "--weight-dtype": st.sampled_from(["fp8", "int4", "fp4", "mxfp4", "bogus", "", "fp32"]),
    "--kv-cache-dtype": st.sampled_from(["fp8", "int8", "int4", "fp4", "x"]),
    "--activation-dtype": st.sampled_from(["fp8", "int8", "fp4", "bf16", "q"]),
    "--inter-node-link": st.sampled_from(["ib-ndr", "roce-100", "5", ""]),
    "--speculative-model": st.sampled_from(["llama-3.2-1b", "mtp", "ngram", "5", "llama-2-7b", ""]),
    "--gpu": st.sampled_from(["a100", "h100,l4", "l4", "nosuchgpu", "", ",", "mi300x"]),
}
FLAGS = ["--ideal", "--enable-expert-parallel"]
MODELS = st.sampled_from(["llama-2-7b", "mixtral-8x7b", "deepseek-v2-lite", "gemma-2-9b", "nosuch", "", "gpt-oss-20b"])


@st.composite
def argvs(draw):
    argv = ["estimate", draw(MODELS)]
    for option in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=4, unique=True)):
        argv += [option, draw(OPTIONS[option])]
    argv += draw(st.lists(st.sampled_from(FLAGS), max_size=2, unique=True))
    return [*argv, "--json"]


def sane(doc) -> None:
    if isinstance(doc, dict):
        for v in doc.values():
            sane(v)
    elif isinstance(doc, list):
        for v in doc:
            sane(v)
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        assert math.isfinite(doc) and doc >= 0, doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(argvs())
def test_fuzzed_command_lines_end_in_0_or_one_line_and_2(capsys, argv):
    capsys.readouterr()
    try:
        cli_run(argv)
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    assert code in (0, 2), (argv, code, err[-1500:])
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), (argv, err)
    else:
        doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the output of {argv}"))
        sane(doc)
