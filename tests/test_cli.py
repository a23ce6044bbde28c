"""The command line: JSON contract, comparisons, the explain trace, and bad input → one line, exit 2."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import roofline

EXE = str(Path(sys.executable).with_name("roofline"))


def run(*args, check_rc=0):
    # a wide terminal, so that the phrases asserted below are not wrapped (tests/test_terminal.py checks 80 columns)
    p = subprocess.run([EXE, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"})
    assert p.returncode == check_rc, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    return p


def test_estimate_json_contract():
    out = json.loads(run("estimate", "llama-2-7b", "--gpu", "a100", "--json").stdout)
    for key in ("weights_bytes", "kv_cache_bytes", "activation_bytes", "overhead_bytes", "total_bytes", "capacity_bytes", "fits"):
        assert key in out["memory"]
    for key in ("time_s", "flops", "bytes", "arithmetic_intensity", "bound"):
        assert key in out["prefill"]
    for key in ("time_per_token_s", "tokens_per_s", "arithmetic_intensity", "bound"):
        assert key in out["decode"]
    for key in ("e2e_latency_s", "ridge_point_flop_per_byte", "critical_batch_size"):
        assert key in out
    assert out["model"]["total_params"] == 6_738_415_616 and out["model"]["active_params"] == 6_738_415_616
    assert out["comm"]["time_s"] == 0
    # per GPU, SI units; KV holds batch × (input + output) tokens
    assert out["memory"]["kv_cache_bytes"] == 1 * (1024 + 256) * 524_288
    assert out["memory"]["capacity_bytes"] == 81_920 * 2**20  # nvidia-smi: A100-SXM4-80GB holds 81,920 MiB


def test_json_equals_python_api():
    out = json.loads(run("estimate", "mixtral-8x7b", "--gpu", "h100", "-tp", "2", "-b", "8", "--input-len", "512",
                         "--output-len", "64", "--weight-dtype", "fp8", "--json").stdout)
    api = roofline.estimate("mixtral-8x7b", "h100", tp=2, batch_size=8, input_len=512, output_len=64, weight_dtype="fp8").to_dict()
    assert json.loads(json.dumps(api)) == out


def test_gpu_comparison_lists_each():
    out = json.loads(run("estimate", "llama-2-7b", "--gpu", "a100,h100,l40s", "--json").stdout)
    assert [o["gpu"]["name"] for o in out] == ["a100-sxm-80gb", "h100-sxm", "l40s"]
    text = run("estimate", "llama-2-7b", "--gpu", "a100,h100").stdout
    assert "h100-sxm vs a100-sxm-80gb" in text and "bandwidth ratio 1.64" in text


def test_alias_is_reported():
    text = run("estimate", "llama-2-7b", "--gpu", "h100").stdout
    assert "[h100-sxm]" in text and "('h100')" in text


def test_not_fitting_is_a_result():
    out = json.loads(run("estimate", "llama-3.1-405b", "--gpu", "l4", "--json").stdout)
    assert out["memory"]["fits"] is False and out["memory"]["shortfall_bytes"] > 700e9


def test_explain_prints_working():
    text = run("estimate", "llama-2-7b", "--gpu", "a100", "--explain").stdout
    assert "weights = linear weights × w + other weights × a" in text
    assert "TTFT (prefill) = Σ op time × count" in text
    assert "ridge point = peak bf16 / bandwidth" in text


@pytest.mark.parametrize("args,pattern", [
    (["estimate", "llama-2-7", "--gpu", "a100"], r"unknown model 'llama-2-7'.*closest: .*llama-2-7b"),
    (["estimate", "llama-2-7b", "--gpu", "h10"], r"unknown gpu 'h10'.*closest:"),
    (["estimate", "llama-2-7b", "--batch-size", "0"], r"batch size must be at least 1"),
    (["estimate", "llama-2-7b", "--batch-size", "-3"], r"batch size must be at least 1"),
    (["estimate", "llama-2-7b", "--batch-size", "abc"], r"(?i)invalid value.*batch-size"),
    (["estimate", "llama-2-7b", "--input-len", "1000000000000"], r"beyond any real workload"),
    (["estimate", "llama-2-7b", "-tp", "3"], r"does not divide .*32 attention heads"),
    (["estimate", "llama-2-7b", "--gpu", "v100", "--dtype", "bf16"], r"cannot compute in bf16; use --dtype fp16"),
    (["estimate", "llama-2-7b", "--gpu", "a100", "--activation-dtype", "fp8"], r"no fp8 tensor cores"),
    (["estimate", "llama-2-7b", "--weight-dtype", "fp5"], r"unknown --weight-dtype 'fp5'"),
    (["estimate", "llama-2-7b", "--gpu-memory-utilization", "1.5"], r"must be in \(0, 1\]"),
    (["estimate", "llama-2-7b", "--nope"], r"(?i)no such option"),
    (["show", "h1000"], r"unknown"),
])
def test_bad_input_is_one_line_exit_2(args, pattern):
    p = run(*args, check_rc=2)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: ") and re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_malformed_and_incomplete_config(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"hidden_size": 4096, "num_hidden_layers": ')
    assert "malformed JSON" in run("estimate", str(bad), check_rc=2).stderr
    bad.write_text('{"hidden_size": 4096, "num_hidden_layers": 32, "vocab_size": 32000}')
    assert "no num_attention_heads" in run("estimate", str(bad), check_rc=2).stderr
    bad.write_text('{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "vocab_size": 32000, '
                   '"intermediate_size": 11008, "sliding_window": "wide", "model_type": "mistral"}')
    err = run("estimate", str(bad), check_rc=2).stderr
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    bad.write_text('{"hidden_size": 4096, "num_hidden_layers": 10000000, "num_attention_heads": 32, "vocab_size": 32000}')
    assert "beyond any real model" in run("estimate", str(bad), check_rc=2).stderr


def test_local_config_works(tmp_path):
    src = Path(roofline.__file__).parent / "data" / "models" / "llama-2-7b.json"
    (tmp_path / "config.json").write_text(src.read_text())
    out = json.loads(run("estimate", str(tmp_path), "--json").stdout)
    assert out["model"]["total_params"] == 6_738_415_616


def test_catalog_listings():
    gpus = json.loads(run("gpus", "--json").stdout)
    assert any(g["name"] == "h100-sxm" and "h100" in g["aliases"] for g in gpus)
    models = json.loads(run("models", "--json").stdout)
    m = next(x for x in models if x["name"] == "mixtral-8x7b")
    assert m["total_params"] == 46_702_792_704 and m["active_params"] == 12_879_925_248
    assert "mistralai/Mixtral-8x7B-v0.1" in m["aliases"]
    # 81,920 MiB of HBM / (108 SMs × 192 KiB L1/shared) = 85,899,345,920 / 21,233,664
    assert "4,045× larger" in run("show", "a100").stdout
    assert "MLA latent 512 + rope 64" in run("show", "deepseek-v3").stdout
    assert "WRONG in the primer" in run("formulas").stdout


def test_help_lists_commands():
    text = run("--help").stdout
    for cmd in ("estimate", "parallel", "gpus", "models", "show", "formulas", "plot", "report", "web"):
        assert cmd in text
