"""GET /api/options: one declaration of the estimate's options (name, default, meaning, unit, type,
choices) that the page builds its controls from, with the CLI's defaults."""

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from roofline.web.app import create_app


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def fields(client, command=None) -> dict:
    r = client.get("/api/options" + (f"?command={command}" if command else ""))
    assert r.status_code == 200
    doc = r.json()
    assert set(doc) == {"fields"}
    for f in doc["fields"]:
        assert {"name", "default", "help", "unit", "type", "choices"} <= set(f)
        assert f["type"] in ("int", "float", "bool", "string")
    return {f["name"]: f for f in doc["fields"]}


def test_estimate_options_have_the_clis_defaults(client):
    opts = fields(client)
    # `roofline estimate --help`: --gpu a100-sxm-80gb, -b 1, --input-len 1024, --output-len 256, utilization 1.0
    assert opts["gpu"]["default"] == "a100-sxm-80gb"
    assert opts["batch_size"]["default"] == 1 and opts["batch_size"]["unit"] == "sequences"
    assert opts["input_len"]["default"] == 1024 and opts["output_len"]["default"] == 256
    assert opts["gpu_memory_utilization"]["default"] == 1.0 and opts["gpu_memory_utilization"]["type"] == "float"
    assert opts["tensor_parallel_size"]["default"] == 1 and opts["ideal"] == {**opts["ideal"], "type": "bool", "default": False}


def test_every_estimate_option_is_declared_with_a_meaning(client):
    opts = fields(client)
    for name in ("speculative_model", "num_speculative_tokens", "acceptance_rate", "data_parallel_size",
                 "enable_expert_parallel", "num_gpus", "gpus_per_node", "inter_node_link", "num_micro_batches",
                 "dtype", "weight_dtype", "weight_bits", "activation_dtype", "kv_cache_dtype"):
        assert name in opts, name
        assert opts[name]["help"], name
    assert "explain" not in opts and "config" not in opts  # the page has its own control for a pasted config
    assert opts["acceptance_rate"]["unit"] == "probability, 0 to 1"
    assert opts["inter_node_link"]["choices"] and {"ib-ndr", "roce-400"} <= set(opts["inter_node_link"]["choices"])
    assert opts["dtype"]["choices"] == ["auto", "bf16", "fp16", "fp32"]


def test_planner_options(client):
    opts = fields(client, "parallel")
    assert opts["objective"]["choices"] == ["throughput", "latency"] and opts["objective"]["default"] == "throughput"
    assert opts["max_ttft"]["unit"] == "seconds" and "Unit:" not in opts["max_ttft"]["help"] and opts["max_ttft"]["default"] is None
    assert "tensor_parallel_size" not in opts  # the planner tries every split itself


def test_unknown_command_is_a_client_error(client):
    r = client.get("/api/options?command=serve-everything")
    assert r.status_code == 422 and "error" in r.json()


def test_simulate_options(client):
    opts = fields(client, "simulate")
    # `roofline simulate --help`: --engine vllm, --burstiness 1, --random-prefix-len 0, --ttft-slo in seconds
    assert opts["engine"]["default"] == "vllm" and opts["engine"]["choices"] == ["vllm", "sglang", "tensorrt-llm"]
    assert {"vllm-serve", "sglang-server", "trtllm-serve", "triton"} <= set(opts["frontend"]["choices"])
    assert opts["burstiness"]["default"] == 1.0 and opts["burstiness"]["flags"] == ["--burstiness"]
    assert opts["ttft_slo"]["unit"] == "s" and opts["ttft_slo"]["default"] is None
    assert opts["random_prefix_len"]["unit"] == "tokens" and opts["enable_chunked_prefill"]["type"] == "bool"
    assert "dataset" not in opts and "batch_size" not in opts  # a file path; a stream of requests, not a batch
