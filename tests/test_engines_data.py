"""Serving-engine defaults: the values engines.csv quotes from each release's source."""

import pytest

from roofline.catalog.engines import default_for, engine_defaults, engine_names
from roofline.errors import RooflineError

GIB = 2**30


def test_every_engine_cites_version_and_sources():
    for name in engine_names():
        t = engine_defaults(name)
        assert t["version"] and t["source"]
        for key in t["sources"]:
            assert key in t or key in ("mem_fraction_static",), (name, key)


def test_vllm_0_11_defaults_by_gpu():
    t = engine_defaults("vllm")
    assert t["gpu_memory_utilization"] == 0.9
    # vllm serve: 8192 tokens on >= 70 GiB GPUs other than A100 (H100 80GB = 81,559 MiB), else 2048
    assert default_for(t, "max_num_batched_tokens", 81_559 * 2**20, "h100-sxm") == 8192
    assert default_for(t, "max_num_batched_tokens", 81_920 * 2**20, "a100-sxm-80gb") == 2048
    assert default_for(t, "max_num_batched_tokens", 23_034 * 2**20, "l4") == 2048
    assert default_for(t, "max_num_seqs", 141 * GIB, "h200-sxm") == 1024
    assert t["block_size"] == 16


def test_aliases_and_unknown():
    assert engine_defaults("trt-llm")["free_gpu_memory_fraction"] == 0.9
    assert engine_defaults("SGLang")["chunked_prefill_size"] == 8192
    with pytest.raises(RooflineError, match="unknown engine"):
        engine_defaults("tgi")
