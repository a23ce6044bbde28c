"""Evidence commands end to end on the CPU: validate, analyze, calibrate, measure; the error bars.

The torch paths run with `--device cpu` on a two-layer model of 64 hidden units; the CUDA-only
parts (CUDA events, CUDA graphs, NCCL, fp8 matmul) are exercised on a GPU only (see README)."""

import json
import math
from pathlib import Path

import pytest

import roofline
from roofline.errors import RooflineError
from roofline.evidence import uncertainty
from roofline.evidence.analyze import analyze
from roofline.evidence.runs import MeasuredRun, read_result
from cli_call import call

ROOT = Path(__file__).parents[1]
TINY = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256,
        "max_position_embeddings": 512, "torch_dtype": "float32"}


@pytest.fixture()
def tiny(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(TINY))
    return str(p)


# ------------------------------------------------------------------ error bars

CELLS = {"levels": [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
         "cells": {"prefill": {"rows": 20, "sources": ["a"], "quantiles": [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]},
                   "batched decode|several|nvlink": {"rows": 9, "sources": ["a"],
                                                     "quantiles": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}}}


def test_interval_is_the_residual_quantiles_inverted():
    # r = ln(predicted / measured) in [-0.2, 0.2] for 80% of rows: measured time in [v e^-0.2, v e^0.2]
    iv = uncertainty.interval("ttft_s", 2.0, {"gpus": "1"}, 0.8, cells=CELLS)
    assert iv["low"] == pytest.approx(2.0 * math.exp(-0.2)) and iv["high"] == pytest.approx(2.0 * math.exp(0.2))
    assert iv["basis"] == "prefill" and iv["level"] == 0.8
    # a rate takes the reciprocal: measured rate = v e^r for r in [0.1, 0.5] (an optimistic time estimate)
    iv = uncertainty.interval("output_tokens_per_s", 100.0, {"gpus": "several", "link": "nvlink", "quantized": "quantized", "batch": 8},
                              0.8, cells=CELLS)
    assert iv["basis"] == "batched decode|several|nvlink"  # fell back from the quantized cell
    assert iv["low"] == pytest.approx(100 * math.exp(0.1)) and iv["high"] == pytest.approx(100 * math.exp(0.5))
    # 50%: the 0.25 and 0.75 quantiles
    iv = uncertainty.interval("tpot_s", 1.0, {"gpus": "several", "link": "nvlink", "batch": 4}, 0.5, cells=CELLS)
    assert iv["low"] == pytest.approx(math.exp(-0.4)) and iv["high"] == pytest.approx(math.exp(-0.2))


def test_no_interval_without_measurements_of_the_regime():
    assert uncertainty.interval("tpot_s", 1.0, {"gpus": "1", "batch": 1}, 0.8, cells=CELLS) is None  # no single-stream cell
    assert uncertainty.interval("tpot_s", 1.0, {"regime": "online serving"}, 0.8, cells=CELLS) is None
    with pytest.raises(RooflineError):
        uncertainty.interval("tpot_s", 1.0, {}, 0.7)
    with pytest.raises(RooflineError):
        uncertainty.interval("kv_cache_bytes", 1.0, {}, 0.8)


def test_every_estimate_figure_gets_a_range_from_the_committed_file():
    e = roofline.estimate("llama-2-7b", "a100", batch_size=1)
    r = uncertainty.ranges(e)
    assert set(r) == {"ttft_s_range", "tpot_s_range", "e2e_latency_s_range", "output_tokens_per_s_range"}
    assert r["tpot_s_range"]["regime"] == "single-stream decode" and r["ttft_s_range"]["regime"] == "prefill"
    for k, v in r.items():
        assert 0 < v["low"] < v["high"] and v["level"] == 0.8
    sit = uncertainty.situation_of(roofline.estimate("llama-2-70b", "l40s", tp=4, weight_dtype="fp8", batch_size=8))
    assert sit == {"gpus": "several", "link": "pcie", "quantized": "quantized", "batch": 8}


# ------------------------------------------------------------------ validate

def test_validate_error_per_case_and_median(capsys, tmp_path):
    e = roofline.estimate("llama-2-7b", "a100", batch_size=4, input_len=512, output_len=64)
    f = tmp_path / "m.csv"
    # measured = 2 × predicted → error −50%; = predicted / 0.8 → error −20%
    f.write_text("# my runs\nid,model,gpu,metric,value,batch_size,input_len,output_len\n"
                 f"a,llama-2-7b,a100,tpot_s,{2 * e.tpot_s!r},4,512,64\n"
                 f"b,llama-2-7b,a100,ttft_s,{e.ttft_s / 0.8!r},4,512,64\n"
                 f"c,llama-2-7b,a100,output_tokens_per_s_per_gpu,{e.output_tokens_per_s * 2!r},4,512,64\n")
    v = json.loads(call(capsys, "validate", str(f), "--json").out)
    errs = {c["id"]: c["error"] for c in v["cases"]}
    assert errs == pytest.approx({"a": -0.5, "b": -0.2, "c": -0.5})
    assert v["summary"]["tpot_s"]["median_abs_error"] == pytest.approx(0.5)
    assert v["cases"][0]["line"] == 3
    text = call(capsys, "validate", str(f)).out
    assert "-50.0%" in text and "per metric" in text


def test_validate_the_example_file(capsys):
    v = json.loads(call(capsys, "validate", str(ROOT / "benchmarks" / "data" / "validate_example.csv"), "--json").out)
    by = {c["id"]: c for c in v["cases"]}
    assert by["trt09-097"]["measured"] == 0.005 and by["calm-001"]["measured"] == 67  # the published values
    assert set(v["summary"]) == {"output_tokens_per_s_per_gpu", "ttft_s", "decode_tokens_per_s"}
    assert all(abs(c["error"]) < 0.6 for c in v["cases"])


@pytest.mark.parametrize("body, why", [
    ("model,gpu,metric,value\nllama-2-7b,a100,tpot_s,fast\n", "line 2: value 'fast' is not a number"),
    ("model,gpu,metric,value\nllama-2-7b,a100,tpot_s,0.01\nllama-2-7b,a100,speed,1\n", "line 3: unknown metric 'speed'"),
    ("model,gpu,value\nllama-2-7b,a100,1\n", "line 1: missing column metric"),
    ("model,gpu,metric,value\nllama-2-7b,a100,tpot_s\n", "line 2: 3 fields, the header has 4"),
    ("model,gpu,metric,value,batch_size\nllama-2-7b,a100,tpot_s,0.01,2.5\n", "line 2: batch_size must be a whole number"),
    ("model,gpu,metric,value\nllama-2-7b,zz-gpu,tpot_s,0.01\n", "line 2: unknown gpu"),
    ("# only a comment\n", "no header line"),
])
def test_validate_malformed_file_names_the_line(capsys, tmp_path, body, why):
    f = tmp_path / "bad.csv"
    f.write_text(body)
    err = call(capsys, "validate", str(f), rc=2).err
    assert err.count("\n") == 1 and why.lower() in err.lower(), err


# ------------------------------------------------------------------ analyze

def test_analyze_utilization_against_the_true_limit():
    e = roofline.estimate("llama-2-7b", "h100", batch_size=1, input_len=1024, output_len=128)
    bw, peak = e.gpu["memory_bandwidth"], e.gpu["peak_flops"]
    dec_limit = max(e.decode.bytes / bw, e.decode.flops / peak)  # memory-bound at batch 1
    assert dec_limit == e.decode.bytes / bw
    a = analyze(MeasuredRun(tpot_s=2 * dec_limit, ttft_s=4 * e.prefill.flops / peak, batch_size=1, input_len=1024,
                            output_len=128), "llama-2-7b", "h100")
    dec = next(p for p in a["phases"] if p["phase"] == "decode")
    assert dec["mbu"] == pytest.approx(0.5) and dec["headroom"] == pytest.approx(1.0) and dec["bound"] == "memory"
    pre = next(p for p in a["phases"] if p["phase"] == "prefill")
    assert pre["bound"] == "compute" and pre["mfu"] == pytest.approx(0.25)
    # decode loses 127 × one limit (~3.3 ms each); prefill 3 × its limit (~3 × 6 ms)
    assert a["loses"]["phase"] == "decode"
    assert a["loses"]["lost_s_per_request"] == pytest.approx(127 * dec_limit)
    assert a["figures"]["tpot_s"]["error"] == pytest.approx(e.tpot_s / (2 * dec_limit) - 1)


def test_analyze_reads_a_vllm_result(capsys, tmp_path):
    f = tmp_path / "vllm.json"
    f.write_text(json.dumps({"completed": 100, "total_input_tokens": 51200, "total_output_tokens": 12800,
                             "mean_ttft_ms": 50.0, "mean_tpot_ms": 20.0, "output_throughput": 800.0, "max_concurrency": 16}))
    run = read_result(str(f))
    assert (run.batch_size, run.input_len, run.output_len) == (16, 512, 128)
    assert run.ttft_s == pytest.approx(0.05) and run.tpot_s == pytest.approx(0.02)
    a = json.loads(call(capsys, "analyze", "llama-3.1-8b", "--gpu", "h100", "--result", str(f), "--json").out)
    assert a["workload"]["batch_size"] == 16 and a["figures"]["output_tokens_per_s"]["measured"] == 800.0
    assert a["figures"]["tpot_s"]["range"]["regime"] == "batched decode"
    out = call(capsys, "analyze", "llama-3.1-8b", "--gpu", "h100", "--result", str(f)).out
    assert "Where it loses" in out and "MBU" in out


def test_analyze_reads_a_trtllm_report(tmp_path):
    f = tmp_path / "report.txt"
    f.write_text("===========================================================\n= PERFORMANCE OVERVIEW\n"
                 "Number of requests:             3000\nAverage Input Length (tokens):  128.0000\n"
                 "Average Output Length (tokens): 2048.0000\nToken Throughput (tokens/sec):  9512.34\n"
                 "Max Runtime Batch Size:         1024\n")
    run = read_result(str(f))
    assert (run.input_len, run.output_len, run.batch_size, run.output_tokens_per_s) == (128, 2048, 1024, 9512.34)


@pytest.mark.parametrize("args, why", [
    (["--tpot", "0"], "must be a positive number"),
    ([], "nothing measured"),
    (["--result", "/nonexistent.json"], "no such file"),
])
def test_analyze_bad_input(capsys, args, why):
    err = call(capsys, "analyze", "llama-2-7b", *args, rc=2).err
    assert why in err and err.count("\n") == 1


# ------------------------------------------------------------------ calibrate and measure (torch, CPU)

def test_calibrate_on_the_cpu_writes_a_profile(capsys, tmp_path):
    pytest.importorskip("torch")
    from roofline.evidence.profile import apply_to_gpu, read_profile

    out = tmp_path / "p.toml"
    call(capsys, "calibrate", "--device", "cpu", "--gpu", "l4", "--dtypes", "fp32,fp8", "-o", str(out))
    p = read_profile(str(out))
    bw = p["measured"]["memory_bandwidth"]
    assert p["device"]["kind"] == "cpu" and p["device"]["catalog_gpu"] == "l4"
    # the factor is the measured copy bandwidth over the L4 datasheet's 300 GB/s
    assert p["gpu_factors"]["memory_efficiency"].value == pytest.approx(bw / 300e9)
    assert "fp8" in p["measured"]["matmul_skipped"] and p["measured"]["matmul_flops"]["fp32"] > 0
    assert p["measured"]["kernel_launch_graph_s"] is None if "kernel_launch_graph_s" in p["measured"] else True
    assert "kernel_overhead_s" not in p["gpu_factors"]  # no CUDA graphs on a CPU: not written
    from roofline.evidence.profile import to_profile

    prof = to_profile(str(out))
    assert prof.gpu_factors["l4"]["memory_efficiency"].value == pytest.approx(bw / 300e9)
    assert prof["gemm_shape_efficiency"].value > 0  # the rest of the default profile is kept
    g = apply_to_gpu(roofline.get_gpu("l4"), p)
    assert g.factors.memory_efficiency.value == pytest.approx(bw / 300e9) and g.factors.memory_efficiency.basis == "measured"


def test_all_reduce_bus_bandwidth_on_cpu_workers():
    pytest.importorskip("torch")
    from roofline.evidence.allreduce import all_reduce

    rows = all_reduce("cpu", 2, [32 << 10])
    # nccl-tests' bus bandwidth: 2 (n − 1) / n × bytes / time, = bytes / time for n = 2
    assert rows[0]["gpus"] == 2 and rows[0]["bus_bandwidth"] == pytest.approx((32 << 10) / rows[0]["latency_s"])


def test_decode_with_the_kv_cache_matches_a_longer_prefill(tiny):
    """Prefill 8 tokens then decode the 9th from the cache = prefill all 9 at once (same logits)."""
    torch = pytest.importorskip("torch")
    from roofline.evidence.decoder import RandomDecoder

    torch.manual_seed(0)
    dec = RandomDecoder(roofline.get_model(tiny), torch.float32, torch.device("cpu"), 2, 16)
    tokens = torch.randint(0, 256, (2, 9))
    with torch.inference_mode():
        dec.prefill(tokens[:, :8])
        stepped = dec.decode_step(tokens[:, 8], torch.tensor([8]), logits=True)
        whole = dec.prefill(tokens, logits=True)
    assert stepped.shape == (2, 256)
    assert torch.allclose(stepped, whole, atol=1e-5, rtol=1e-4)


def test_measure_on_the_cpu_then_validate(capsys, tmp_path, tiny):
    pytest.importorskip("torch")
    csv_path = tmp_path / "runs.csv"
    r = json.loads(call(capsys, "measure", tiny, "--device", "cpu", "--input-len", "16", "--output-len", "8",
                        "--batch-size", "2", "--gpu", "l4", "-o", str(csv_path), "--json").out)
    assert r["ttft_s"] > 0 and r["tpot_s"] > 0 and r["cuda_graphs"] is False
    assert r["e2e_latency_s"] == pytest.approx(r["ttft_s"] + 7 * r["tpot_s"])  # TTFT + (output − 1) × TPOT
    assert r["output_tokens_per_s"] == pytest.approx(2 * 8 / r["e2e_latency_s"])
    assert r["estimate"]["gpu"] == "l4"
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("id,model,gpu,metric,value") and lines[1].startswith("# roofline measure")
    v = json.loads(call(capsys, "validate", str(csv_path), "--json").out)
    assert [c["metric"] for c in v["cases"]] == ["ttft_s", "tpot_s"]
    assert v["cases"][1]["measured"] == pytest.approx(r["tpot_s"], rel=1e-5)


def test_no_cuda_device_is_one_line(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    for args in (["calibrate", "-o", "x.toml"], ["measure", "llama-2-7b"]):
        err = call(capsys, *args, rc=2).err
        assert err.startswith("error: no CUDA device") and err.count("\n") == 1


def test_measure_rejects_what_it_cannot_build(capsys):
    err = call(capsys, "measure", "mixtral-8x7b", "--device", "cpu", rc=2).err
    assert "dense decoders only" in err
