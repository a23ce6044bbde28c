"""Prices, cost per token, the planner's screen, Pareto frontier and nearest miss, and its bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofline.catalog.prices import builtin_prices, load_prices, parse_prices
from roofline.errors import RooflineError
from roofline.estimates.costs import cost_per_million_tokens, cost_per_token
from roofline.planning.pareto import cheapest_meeting, nearest_miss, pareto_front, slo_excess
from roofline.planning.screen import OK, SATURATED, screen
from roofline.planning.shapes import Profile, Shape


# --- prices and cost -------------------------------------------------------------------------

def test_builtin_prices_are_the_provider_medians_of_prices_md():
    p = builtin_prices()
    # shared/reference/prices.md, "default $/GPU-h (median on-demand)" column
    assert p["h100-sxm"].usd_per_gpu_hour == pytest.approx(4.21, abs=0.005)
    assert p["h200-sxm"].usd_per_gpu_hour == pytest.approx(5.35, abs=0.005)
    assert p["a100-sxm-80gb"].usd_per_gpu_hour == pytest.approx(2.70, abs=0.005)
    assert p["l40s"].usd_per_gpu_hour == pytest.approx(1.62, abs=0.005)
    assert p["mi300x"].usd_per_gpu_hour == pytest.approx(3.45, abs=0.005)
    assert p["h100-sxm"].providers == 14 and "2026-10" in p["h100-sxm"].observed
    assert "v100-sxm2-32gb" not in p  # only the 16 GB part was priced


def test_cost_per_million_tokens_by_hand():
    # 2 × H100 at $4.2051/GPU-h = $8.4102/h; 1000 output tokens/s = 3.6e6 tokens/h
    # → 8.4102 / 3.6 = $2.33617 per million output tokens; 4000 input tokens/s → $0.584042
    c = cost_per_token("h100-sxm", 2, input_tokens_per_s=4000, output_tokens_per_s=1000)
    assert c["usd_per_hour"] == pytest.approx(8.4102)
    assert c["usd_per_million_output_tokens"] == pytest.approx(2.336167, rel=1e-6)
    assert c["usd_per_million_input_tokens"] == pytest.approx(0.584042, rel=1e-5)
    assert cost_per_million_tokens(1.0, 1, 0.0) is None
    assert cost_per_token("v100-sxm2-32gb", 1, input_tokens_per_s=1, output_tokens_per_s=1) is None


def test_prices_file_overrides_only_the_gpus_it_names(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("gpu,usd_per_gpu_hour,source\n# our contract\nh100,2.00,contract 2026-11\nl40s,0.80\n")
    p = load_prices(f)
    assert p["h100-sxm"].usd_per_gpu_hour == 2.0 and p["h100-sxm"].source == "contract 2026-11"
    assert p["l40s"].usd_per_gpu_hour == 0.8
    assert p["h200-sxm"].usd_per_gpu_hour == builtin_prices()["h200-sxm"].usd_per_gpu_hour
    c = cost_per_token("h100-sxm", 1, input_tokens_per_s=1, output_tokens_per_s=500, prices=p)
    assert c["usd_per_million_output_tokens"] == pytest.approx(2.0 / (500 * 3600) * 1e6)  # $1.1111


def test_prices_toml_file(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('[a100]\nusd_per_gpu_hour = 1.25\nsource = "spot"\n')
    assert load_prices(f)["a100-sxm-80gb"].usd_per_gpu_hour == 1.25


@pytest.mark.parametrize("text, message", [
    ("h100,abc\n", "line 1: the price 'abc' is not a number"),
    ("gpu,usd\nh100,2.0\nnot-a-gpu,1.0\n", "line 3: "),
    ("h100,-1\n", "line 1: the price must be above 0"),
    ("h100\n", "line 1: expected 'gpu,usd_per_gpu_hour[,source]', got 1 field(s)"),
    ("h100,1\nh100-sxm,2\n", "line 2: h100-sxm is priced twice"),
    ("# nothing\n", "no prices in it"),
])
def test_malformed_prices_say_which_line_and_why(text, message):
    with pytest.raises(RooflineError, match="^mine.csv.*" if "line" in message else None) as e:
        parse_prices(text, "mine.csv")
    assert message in str(e.value)


# --- Pareto frontier, targets, nearest miss ----------------------------------------------------

def test_pareto_front_on_a_constructed_set():
    #            A   B   C   D   E    F   G (duplicate of B)
    cost = [1, 2, 3, 2, 4, 1, 2]
    lat = [10, 5, 6, 7, 1, 12, 5]
    # C (3, 6) and D (2, 7) lose to B (2, 5); F (1, 12) to A (1, 10); G duplicates B
    assert list(pareto_front(cost, lat)) == [0, 1, 4]
    assert list(pareto_front([], [])) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20), st.integers(1, 20)), min_size=1, max_size=30))
def test_pareto_front_points_are_undominated_and_the_rest_dominated(points):
    c, t = np.array([p[0] for p in points], float), np.array([p[1] for p in points], float)
    front = set(pareto_front(c, t).tolist())
    for i in range(len(points)):
        dominated = np.any((c <= c[i]) & (t <= t[i]) & ((c < c[i]) | (t < t[i])))
        if i in front:
            assert not dominated
        elif not dominated:  # left out only as an exact duplicate of a kept point
            assert any(c[j] == c[i] and t[j] == t[i] for j in front)


def test_slo_excess_cheapest_meeting_and_nearest_miss():
    ttft = [0.2, 0.6, 0.3, 0.9]
    tpot = [0.08, 0.02, 0.04, 0.01]
    cost = [1.0, 2.0, 3.0, 0.5]
    x = slo_excess(ttft, tpot, 0.5, 0.05)
    # worst of TTFT/0.5 and TPOT/0.05: 0.2/0.5=0.4 vs 0.08/0.05=1.6 → 1.6; 1.2; max(0.6, 0.8)=0.8; 1.8
    assert x == pytest.approx([1.6, 1.2, 0.8, 1.8])
    assert cheapest_meeting(cost, [1, 1, 1, 1], x) == 2
    tighter = slo_excess(ttft, tpot, 0.25, 0.05)  # 1.6, 2.4, 1.2, 3.6: none meets
    assert cheapest_meeting(cost, [1, 1, 1, 1], tighter) is None
    assert nearest_miss(cost, tighter) == 2  # misses by 20%
    assert list(slo_excess(ttft, tpot, None, None)) == [0, 0, 0, 0]


# --- the screen's steady state, by hand ---------------------------------------------------------

def _profile(decode=0.01, prefill=0.1, max_batch=100):
    b = np.arange(1.0, max_batch + 1)
    return Profile(Shape("h100-sxm", 1, 1, 1, "auto", "auto"), b, np.full(b.shape, decode), np.array([prefill]),
                   np.array([prefill]), prefill, max_batch, 0.002, "bf16")


def test_screen_operating_point_by_hand():
    # O = 100, decode step 10 ms at any batch, prefill 100 ms per request: a step at concurrency b
    # takes T = 0.01 + (b / 100) × 0.1 = 0.01 + 0.001 b and completes μ = b / (100 T) = b / (1 + 0.1 b)
    # requests/s. At 5 requests/s on one replica: b / (1 + 0.1 b) ≥ 5 ⇔ b ≥ 10 → TPOT 20 ms.
    # With 2 replicas, 2.5 each: b ≥ 2.5 + 0.25 b ⇔ b ≥ 3.33 → b = 4, TPOT 14 ms.
    sc = screen([_profile()], [8192], rate=5.0, input_len=1000, output_len=100, max_gpus=2, disaggregate=False)
    one, two = (sc.replicas == 1), (sc.replicas == 2)
    assert sc.batch[one][0] == 10 and sc.tpot_s[one][0] == pytest.approx(0.020)
    assert sc.batch[two][0] == 4 and sc.tpot_s[two][0] == pytest.approx(0.014)
    assert sc.num_gpus[two][0] == 2 and (sc.status == OK).all()
    # TTFT = prefill alone 0.1 + 1 chunk step × decode 0.01 + half a step + M/D/1 wait ρ / (2 μ (1 − ρ))
    # with μ = 100 / 11 at b = 100 and ρ = 5 / μ = 0.55: 0.55 / (2 × 9.0909 × 0.45) = 0.067222
    assert sc.ttft_s[one][0] == pytest.approx(0.1 + 0.01 + 0.010 + 0.067222, rel=1e-4)


def test_screen_marks_a_rate_beyond_capacity_saturated():
    # most it serves: μ(100) = 100 / 11 = 9.09 requests/s per replica
    sc = screen([_profile()], [8192], rate=12.0, input_len=1000, output_len=100, max_gpus=2, disaggregate=False)
    assert sc.status[sc.replicas == 1][0] == SATURATED
    assert sc.status[sc.replicas == 2][0] == OK


def test_screen_disaggregated_pools_by_hand():
    # a prefill replica serves 1 / 0.1 = 10 requests/s; a decode replica at b serves b / (99 × 0.01)
    sc = screen([_profile()], [8192], rate=5.0, input_len=1000, output_len=100, max_gpus=2, disaggregate=True)
    d = sc.disaggregated
    assert d.sum() == 1 and sc.num_gpus[d][0] == 2  # 1P1D is the only pool pair within 2 GPUs
    # decode: b / 0.99 ≥ 5 ⇔ b ≥ 4.95 → b = 5, TPOT 10 ms (no prefill in its steps)
    assert sc.batch[d][0] == 5 and sc.tpot_s[d][0] == pytest.approx(0.01)
    # TTFT = 0.1 + wait 0.5 / (2 × 10 × 0.5) = 0.05 + KV transfer 0.002 + half a decode step 0.005
    assert sc.ttft_s[d][0] == pytest.approx(0.1 + 0.05 + 0.002 + 0.005)


# --- command line: bad input is one line and exit 2 ------------------------------------------

def _cli(*args):
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("roofline"))
    return subprocess.run([exe, *args], capture_output=True, text=True)


@pytest.mark.parametrize("args, words", [
    (["plan", "llama-3.1-8b", "--request-rate", "5", "--gpus", "h100,no-such-gpu"], "no-such-gpu"),
    (["plan", "llama-3.1-8b", "--request-rate", "-2"], "--request-rate must be a positive finite number, got -2.0"),
    (["plan", "llama-3.1-8b", "--request-rate", "5", "--tpot-slo", "0"], "--tpot-slo must be a positive"),
    (["plan", "llama-3.1-8b", "--request-rate", "5", "--engine", "tgi"], "unknown engine"),
])
def test_plan_bad_input_is_one_line_exit_2(args, words):
    p = _cli(*args)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ") and words in p.stderr


def test_malformed_prices_file_on_the_command_line(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("gpu,usd_per_gpu_hour\nh100,2.5\nl40s,cheap\n")
    for cmd in (["prices"], ["plan", "llama-3.1-8b", "--request-rate", "5"]):
        p = _cli(*cmd, "--prices", str(f))
        assert p.returncode == 2 and p.stderr == "error: p.csv line 3: the price 'cheap' is not a number\n"


def test_prices_json_lists_the_builtin_prices():
    import json

    p = _cli("prices", "--json")
    rows = {r["gpu"]: r for r in json.loads(p.stdout)}
    assert rows["l4"]["usd_per_gpu_hour"] == pytest.approx(0.65, abs=0.005) and rows["l4"]["providers"] == 4


# --- whole plans: invariants of the answer ------------------------------------------------------

@pytest.fixture(scope="module")
def small_plan():
    from roofline.planning import plan

    return plan("llama-3.1-8b", request_rate=3, input_len=512, output_len=128, ttft_slo=1.0, tpot_slo=0.05,
                gpus="l40s,h100", max_gpus=2, num_prompts=60)


def test_the_chosen_deployment_is_the_cheapest_finalist_meeting_the_targets(small_plan):
    r = small_plan
    c = r.chosen
    assert c is not None and c.simulated is not None
    assert c.metric("ttft_s") <= 1.0 and c.metric("tpot_s") <= 0.05
    meeting = [f for f in r.finalists if f.verdict.startswith(("cheapest", "meets"))]
    assert c.usd_per_million_output_tokens == min(f.usd_per_million_output_tokens for f in meeting)
    # cost per million output tokens = $/h × GPUs / (3 req/s × 128 tokens × 3600 s) × 10⁶
    price = builtin_prices()[c.gpu].usd_per_gpu_hour
    assert c.usd_per_million_output_tokens == pytest.approx(price * c.num_gpus / (3 * 128 * 3600) * 1e6)
    assert r.screened >= 100 and r.to_dict()["chosen"]["label"] == c.label


def test_the_frontier_trades_cost_for_latency(small_plan):
    f = small_plan.frontier
    costs = [c.usd_per_million_output_tokens for c in f]
    lats = [c.metric("e2e_s") for c in f]
    assert costs == sorted(costs) and all(a > b for a, b in zip(lats, lats[1:]))


def test_targets_nothing_meets_give_the_nearest_miss():
    from roofline.planning import plan

    r = plan("llama-3.1-8b", request_rate=3, input_len=512, output_len=128, ttft_slo=1e-4, tpot_slo=1e-4,
             gpus="l40s", max_gpus=1, num_prompts=40, disaggregate=False)
    assert r.chosen is None and r.nearest is not None
    assert "no deployment within 1 GPU meets them. Nearest miss: 1 × l40s" in r.summary
    assert "TTFT p90" in r.summary and "> 100 µs" in r.summary
    assert r.summary.count("(80%: ") == 2  # each missed latency with its interval (simulated, one GPU)


def test_a_model_that_fits_nowhere_is_a_result_not_an_error():
    from roofline.planning import plan

    r = plan("llama-3.1-405b", request_rate=1, input_len=512, output_len=128, gpus="l4", max_gpus=2,
             weight_dtypes="auto", kv_cache_dtypes="auto")
    assert r.chosen is None and r.nearest is None and r.unfit
    assert "no deployment within 2 GPUs can serve this load" in r.summary


@pytest.mark.parametrize("gpu, tp, pp", [("h100-sxm", 1, 2), ("a100-sxm-80gb", 2, 4)])
def test_screen_of_a_pipeline_agrees_with_its_simulation(gpu, tp, pp):
    # The screen and the simulator share the pipeline model (pp batches in flight, a token every
    # decode round, a prompt's batch holding the others up at every stage). Tolerances stated: the
    # screen's TPOT, a mean that counts each convoy in full, lies within 0.8–1.5 × the simulated p90
    # TPOT; its TTFT within 25% of the simulated mean; and a candidate it passes keeps up in simulation
    # (serves at least plan.KEEP_UP of the offered rate).
    from roofline.catalog import get_model
    from roofline.planning.plan import KEEP_UP
    from roofline.planning.shapes import Shape, profile
    from roofline.serving import simulate

    rate, m = 2.0, get_model("llama-3.1-70b")
    shape = Shape(gpu, tp, pp, 1, "fp8", "fp8")
    sc = screen([profile(m, shape, "vllm", 1024, 256)], [8192], rate, 1024, 256, tp * pp, disaggregate=False)
    r = simulate(m, gpu, num_prompts=300, request_rate=rate, input_len=1024, output_len=256,
                 max_num_batched_tokens=8192, **shape.options()).to_dict()
    assert sc.status[0] == OK
    assert 0.8 <= sc.tpot_s[0] / r["tpot_s"]["p90"] <= 1.5
    assert sc.ttft_s[0] == pytest.approx(r["ttft_s"]["mean"], rel=0.25)
    assert r["num_requests"] / (r["duration_s"] - r["e2e_s"]["mean"]) >= KEEP_UP * rate
