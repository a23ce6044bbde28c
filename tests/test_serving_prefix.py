"""A shared prompt prefix (`--random-prefix-len`) under the engine's prefix cache."""

import pytest

from roofline.serving import simulate
from roofline.serving.scheduler import Overheads

NO_OVERHEAD = Overheads(0.0, 0.0)
KW = dict(num_prompts=10, input_len=200, output_len=10, overheads=NO_OVERHEAD)
# Llama-3.1-8B's KV cache in bf16: 32 layers × 8 KV heads × 128 × (K, V) × 2 B = 131,072 B per token
KV_PER_TOKEN = 131_072


def _prefill_tokens(r) -> int:
    return int(sum(step[2] for step in r.steps))


def test_prefix_zero_changes_nothing():
    base = simulate("llama-3.1-8b", "h100", request_rate=5.0, random_range_ratio=0.5, **KW).to_dict()
    zero = simulate("llama-3.1-8b", "h100", request_rate=5.0, random_range_ratio=0.5, random_prefix_len=0, **KW).to_dict()
    assert zero == base


def test_prefill_and_kv_savings_by_hand():
    # 10 prompts of 1000 shared + 200 own tokens, all at once, vLLM blocks of 16: the first computes
    # all 1200; the other nine find ⌊1000 / 16⌋ × 16 = 992 tokens cached and compute 208 each:
    # 1200 + 9 × 208 = 3,072 prefill tokens instead of 12,000.
    r = simulate("llama-3.1-8b", "h100", random_prefix_len=1000, **KW)
    assert _prefill_tokens(r) == 3072
    d = r.to_dict()
    assert d["input_tokens"] == 10 * 1200 and d["workload"]["random_prefix_len"] == 1000
    assert d["kv_cache"]["shared_prefix_tokens"] == 992
    # KV at the last step, 1209 tokens each (76 blocks = 1216 tokens): the 992 shared once plus
    # 10 × (1216 − 992) of their own = 3,232 tokens, against 12,160 unshared
    assert d["kv_cache"]["peak_usage"] * d["kv_cache"]["capacity_bytes"] == pytest.approx(3232 * KV_PER_TOKEN, rel=1e-9)
    no_share = simulate("llama-3.1-8b", "h100", **dict(KW, input_len=1200))
    assert _prefill_tokens(no_share) == 12000
    assert r.to_dict()["ttft_s"]["mean"] < no_share.to_dict()["ttft_s"]["mean"]


def test_each_replica_computes_the_prefix_once():
    # 2 replicas × 5 prompts: 2 × 1200 + 8 × 208 = 4,064 prefill tokens
    r = simulate("llama-3.1-8b", "h100", random_prefix_len=1000, dp=2, **KW)
    assert _prefill_tokens(r) == 4064


def _cli(*args):
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("roofline"))
    return subprocess.run([exe, "simulate", "llama-3.1-8b", "--gpu", "h100", "--input-len", "200", "--output-len", "10",
                           *args], capture_output=True, text=True)


def test_prefix_on_the_command_line():
    import json

    p = _cli("--num-prompts", "10", "--random-prefix-len", "1000", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["workload"]["random_prefix_len"] == 1000 and d["input_tokens"] == 12000
    bad = _cli("--random-prefix-len", "-5")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--random-prefix-len must be from 0" in bad.stderr


def test_prefix_through_the_web_api():
    from fastapi.testclient import TestClient

    from roofline.web.app import create_app

    client = TestClient(create_app())
    body = {"model": "llama-3.1-8b", "gpu": "h100", "num_prompts": 10, "input_len": 200, "output_len": 10}
    r = client.post("/api/simulate", json=dict(body, random_prefix_len=1000))
    assert r.status_code == 200
    assert r.json()["workload"]["random_prefix_len"] == 1000 and r.json()["kv_cache"]["shared_prefix_tokens"] == 992
    bad = client.post("/api/simulate", json=dict(body, random_prefix_len=-1))
    assert 400 <= bad.status_code < 500 and "random-prefix-len" in bad.json()["error"]
