"""Speculative decoding: expected tokens per step, the draft's and verifier's cost, the speed-up."""

import pytest

import roofline
from roofline.errors import RooflineError
from roofline.estimates.speculative import expected_tokens

SPEC = dict(speculative_model="llama-2-7b", num_speculative_tokens=4)


@pytest.mark.parametrize("alpha,k,expected", [
    (0.7, 4, (1 - 0.7**5) / 0.3),  # (1 − 0.16807) / 0.3 = 2.7731
    (0.5, 1, 1.5),  # (1 − 0.25) / 0.5
    (0.0, 4, 1.0),  # every draft rejected: only the verifier's own token
    (1.0, 4, 5.0),  # every draft accepted: k + 1
])
def test_expected_tokens_leviathan(alpha, k, expected):
    assert expected_tokens(alpha, k) == pytest.approx(expected)


def test_step_cost_and_speedup_add_up():
    e = roofline.estimate("llama-2-70b", "h100", tp=4, acceptance_rate=0.7, **SPEC)
    sp = e.speculative
    assert sp["expected_tokens_per_step"] == pytest.approx(2.7731, rel=1e-4)
    plain = roofline.estimate("llama-2-70b", "h100", tp=4)
    assert sp["time_per_token_without_s"] == pytest.approx(plain.tpot_s)
    assert sp["speedup"] > 1.2  # memory-bound at batch 1: checking 5 tokens costs about as much as 1
    assert e.ttft_s > plain.ttft_s  # the draft prefills the prompt too
    assert e.memory.weights_bytes > plain.memory.weights_bytes  # and holds its weights (split over tp)


def test_speculation_slows_a_compute_bound_batch_by_hand():
    # Llama-2-7B on A100 (312e12 FLOP/s), ideal, batch 256 at position 17 (prompt 16), n-gram drafts (free), k = 4,
    # α = 0.5: E = (1 − 0.5^5) / (1 − 0.5) = 1.9375 tokens per step.
    # plain decode step, compute-bound: 2 × 256 × 32 × 202,375,168 (linear) + 2 × 256 × 4096 × 32000 (lm_head)
    #   + 2 × 256 × 17 × 32 × 256 × 32 (attention) = 3,385,105,317,888 FLOPs → 10.8497 ms
    # verify step over 5 tokens per sequence: 16,925,526,589,440 FLOPs → 54.2485 ms; per token 54.2485 / 1.9375
    #   = 27.9992 ms; speed-up 10.8497 / 27.9992 = 0.3875: verification of 5 tokens costs 5× once compute-bound
    e = roofline.estimate("llama-2-7b", "a100", batch_size=256, input_len=16, output_len=2, speculative_model="ngram",
                          num_speculative_tokens=4, acceptance_rate=0.5, ideal=True)
    sp = e.speculative
    plain_s, verify_s = 3_385_105_317_888 / 312e12, 16_925_526_589_440 / 312e12
    assert sp["expected_tokens_per_step"] == pytest.approx(1.9375)
    assert sp["time_per_token_without_s"] == pytest.approx(plain_s, rel=1e-9)
    assert e.tpot_s == pytest.approx(verify_s / 1.9375, rel=1e-9)
    assert sp["speedup"] == pytest.approx(plain_s / (verify_s / 1.9375), rel=1e-9)


def test_zero_acceptance_is_slower():
    e = roofline.estimate("llama-2-70b", "h100", tp=4, acceptance_rate=0.0, **SPEC)
    assert e.speculative["speedup"] < 1
    assert any("slower than plain decoding" in n for n in e.notes)


def test_speedup_falls_at_large_batch():
    # verifying k + 1 tokens per sequence turns a big batch compute-bound: speculation stops paying
    small = roofline.estimate("llama-2-70b", "h100", tp=4, acceptance_rate=0.7, batch_size=1, **SPEC)
    big = roofline.estimate("llama-2-70b", "h100", tp=4, acceptance_rate=0.7, batch_size=256, **SPEC)
    assert big.speculative["speedup"] < 1 < small.speculative["speedup"]


def test_mtp_and_ngram_drafters():
    mtp = roofline.estimate("deepseek-v3", "h200", tp=8, weight_dtype="fp8", speculative_model="mtp",
                            num_speculative_tokens=1, acceptance_rate=0.85)
    # one extra MoE layer of 61: its weights are about 1/61 of the layers' (embedding and lm_head are shared)
    plain = roofline.estimate("deepseek-v3", "h200", tp=8, weight_dtype="fp8")
    extra = mtp.memory.weights_bytes - plain.memory.weights_bytes
    assert 0.5 / 61 < extra / plain.memory.weights_bytes < 2 / 61
    assert mtp.speculative["expected_tokens_per_step"] == pytest.approx(1.85)
    assert mtp.speculative["speedup"] > 1.3
    ng = roofline.estimate("llama-2-7b", "a100", speculative_model="ngram", num_speculative_tokens=3, acceptance_rate=0.5)
    assert ng.speculative["draft_step_s"] == 0 and ng.speculative["draft_weights_bytes"] == 0


def test_explain_shows_the_working():
    e = roofline.estimate("llama-2-70b", "h100", tp=4, acceptance_rate=0.7, **SPEC)
    text = e.explain().render()
    assert "[speculative decoding]" in text and "(1 − 0.7^5) / (1 − 0.7)" in text and "Leviathan" in text


@pytest.mark.parametrize("kwargs,message", [
    (dict(speculative_model="llama-2-7b", num_speculative_tokens=4, acceptance_rate=1.2), r"\[0, 1\]"),
    (dict(speculative_model="llama-2-7b", num_speculative_tokens=4, acceptance_rate=-0.1), r"\[0, 1\]"),
    (dict(speculative_model="llama-2-7b", num_speculative_tokens=4), "acceptance-rate"),
    (dict(speculative_model="llama-2-7b", acceptance_rate=0.5), "num-speculative-tokens"),
    (dict(speculative_model="llama-2-7b", num_speculative_tokens=0, acceptance_rate=0.5), "num-speculative-tokens"),
    (dict(num_speculative_tokens=4), "need --speculative-model"),
    (dict(speculative_model="llama-3-8b", num_speculative_tokens=4, acceptance_rate=0.5), "vocabulary"),
    (dict(speculative_model="llama-2-7b", num_speculative_tokens=4, acceptance_rate=0.5, pp=2), "pipeline"),
])
def test_bad_speculative_input(kwargs, message):
    with pytest.raises(RooflineError, match=message):
        roofline.estimate("llama-2-70b", "h100", **{"tp": 4, **kwargs})
