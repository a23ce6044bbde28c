"""`roofline plot serving`: the throughput–interactivity curve, latency against rate, one run over time."""

import math

import numpy as np
import pytest

from roofline.errors import RooflineError
from roofline.plots import build


@pytest.fixture(scope="module")
def chart():
    return build("serving", "llama-3.1-8b", gpu="h100", input_len=512, output_len=128, num_prompts=100)


def test_more_concurrency_buys_throughput_per_gpu_and_costs_each_user_speed(chart):
    per_gpu, per_user = np.array(chart.tokens_per_s_per_gpu), np.array(chart.tokens_per_s_per_user)
    assert chart.concurrency[0] == 1 and chart.concurrency == sorted(chart.concurrency)
    assert per_gpu[-1] > 10 * per_gpu[0]  # memory-bound decode: batching is nearly free
    assert per_user[-1] < per_user[0]
    # one request alone: per-user speed is 1 / TPOT and equals the per-GPU throughput on one GPU
    assert per_gpu[0] == pytest.approx(per_user[0], rel=0.1)


def test_latency_rises_with_the_request_rate_and_saturation_is_marked(chart):
    ttft99, tpot50 = np.array(chart.ttft_p99_s), np.array(chart.tpot_p50_s)
    assert ttft99[-1] > ttft99[0] and tpot50[-1] > tpot50[0]
    # past saturation the queue grows for as long as requests arrive: TTFT is no longer a prefill
    assert ttft99[-1] > 10 * ttft99[0]
    assert chart.request_rate[-1] > chart.saturation_requests_per_s > chart.request_rate[0]
    fig = chart.plotly()
    assert any(s.get("x0") == chart.saturation_requests_per_s for s in fig["layout"]["shapes"])


def test_the_run_over_time_has_batch_kv_and_queue(chart):
    n = len(chart.time_s)
    assert n > 10 and len(chart.batch_size) == len(chart.kv_cache_usage) == len(chart.queue_length) == n
    assert max(chart.batch_size) >= 1 and 0 < max(chart.kv_cache_usage) <= 1
    assert chart.timeline_rate == pytest.approx(0.8 * chart.saturation_requests_per_s)
    assert all(math.isfinite(v) for v in chart.tokens_per_s_per_gpu)


def test_a_bad_rate_is_refused_before_any_simulation():
    with pytest.raises(RooflineError, match="--request-rate must be a positive finite number"):
        build("serving", "llama-3.1-8b", gpu="h100", request_rate=0)


def test_plot_serving_writes_a_png(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "serving.png"
    exe = str(Path(sys.executable).with_name("roofline"))
    p = subprocess.run([exe, "plot", "serving", "llama-3.1-8b", "--gpu", "l40s", "--input-len", "256", "--output-len", "64",
                        "--num-prompts", "60", "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 50_000 and out.read_bytes()[:4] == b"\x89PNG"
