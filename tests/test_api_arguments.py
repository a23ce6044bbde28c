"""Every bad argument of the Python API is one RooflineError (a ValueError) with the CLI's words,
checked once by the Scenario for estimate(), grid(), the charts and the planners."""

import numpy as np
import pytest

import roofline

AXES = dict(batch_sizes=[1], input_lens=[16], output_lens=[4])


@pytest.mark.parametrize("kw,words", [
    (dict(dtype=16), "--dtype: must be a valid string"),
    (dict(kv_cache_dtype=["fp8"]), "--kv-cache-dtype"),
    (dict(inter_node_link=5), "--inter-node-link"),
    (dict(speculative_model=5, num_speculative_tokens=2, acceptance_rate=0.5), "--speculative-model"),
    (dict(weight_bits="4.5"), "--weight-bits: must be a number"),
    (dict(tp=True), "must be a whole number"),
    (dict(batch_size=2.5), "--batch-size: must be a whole number"),
    (dict(acceptance_rate=True), "--acceptance-rate: must be a number"),
    (dict(tensor_parallel=2), "tensor_parallel: is not an option"),
])
def test_estimate_rejects(kw, words):
    with pytest.raises(roofline.RooflineError, match=words.replace("[", r"\[")):
        roofline.estimate("llama-2-7b", "a100", **kw)


def test_model_must_be_a_name():
    with pytest.raises(roofline.RooflineError, match="model: must be a model name"):
        roofline.estimate(123, "a100")
    with pytest.raises(ValueError):  # RooflineError is a ValueError
        roofline.estimate("", "a100")


@pytest.mark.parametrize("kw,words", [
    (dict(weight_bits="4.5"), "--weight-bits"),
    (dict(tp=0), "tensor-parallel size must be at least 1"),
    (dict(tp=5000), "beyond any real workload"),
    (dict(AXES, batch_sizes=["a"]), "batch_sizes must be a list of whole numbers"),
    (dict(AXES, batch_sizes=[[1, 2]]), "flat list"),
    (dict(AXES, batch_sizes=8), "batch_sizes must be a list"),
    (dict(AXES, input_len=512), "as axes"),
])
def test_grid_rejects(kw, words):
    args = {**AXES, **kw}
    with pytest.raises(roofline.RooflineError, match=words):
        roofline.grid("llama-2-7b", ["a100"], **args)


def test_numpy_integers_are_whole_numbers():
    e = roofline.estimate("llama-2-7b", "a100", batch_size=np.int64(4), tp=np.int32(2))
    assert e.workload["batch_size"] == 4 and e.parallel["tp"] == 2
