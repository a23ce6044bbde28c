"""The serving view of the web page and the serving endpoints of the API.

The browser part runs the page in Debian's chromium (fixtures of test_web_browser: skipped with the
reason where chromium or Playwright is missing, failed under ROOFLINE_CI=1)."""

import pytest
from fastapi.testclient import TestClient

from roofline.web.app import create_app
from test_web_browser import ARGS, CHROMIUM, TIMEOUT_MS, server, sync_playwright  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def test_simulate_endpoint_has_the_contract_keys_and_a_cost(client):
    r = client.post("/api/simulate", json={"model": "llama-3.1-8b", "gpu": "h100", "num_prompts": 100, "request_rate": 4})
    assert r.status_code == 200
    d = r.json()
    for block in ("ttft_s", "tpot_s", "itl_s", "e2e_s"):
        assert set(d[block]) >= {"mean", "p50", "p90", "p99"}
    out = d["throughput"]["output_tokens_per_s"]
    # $4.2051/GPU-h on one GPU: cost per million output tokens = 4.2051 / (tokens/s × 3600) × 10⁶
    assert d["cost"]["usd_per_million_output_tokens"] == pytest.approx(4.2051 / (out * 3600) * 1e6)


@pytest.mark.parametrize("path, body, status, words", [
    ("/api/plan", {"model": "llama-3.1-8b", "request_rate": -1}, 422, "--request-rate must be a positive"),
    ("/api/plan", {"model": "llama-3.1-8b", "request_rate": 1, "gpus": ["nope"]}, 422, "nope"),
    ("/api/plan", {"model": "llama-3.1-8b", "request_rate": 1, "prices": {"h100": -3}}, 422, "price must be above 0"),
    ("/api/plan", {"model": "llama-3.1-8b", "request_rate": 1, "max_gpus": 64}, 413, "cap"),
    ("/api/simulate", {"model": "llama-3.1-8b", "num_prompts": 10**6}, 413, "cap"),
])
def test_serving_endpoints_refuse_bad_input_with_one_line(client, path, body, status, words):
    r = client.post(path, json=body)
    assert r.status_code == status and words in r.json()["error"]


def test_the_serving_view_plans_and_draws(sync_playwright, server):  # noqa: F811
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(server + "/")
            page.fill("#sv-gpus", "l40s,h100-sxm")
            page.fill("#sv-max-gpus", "2")
            page.fill("#sv-rate", "2")
            page.click("#sv-plan")
            page.wait_for_selector("#sv-plan-out table", timeout=TIMEOUT_MS)
            assert "requests/s of 1024 → 256 tokens" in page.inner_text("#sv-plan-out")
            assert page.locator("#sv-plan-out tbody tr").count() >= 2
            page.fill("#sv-rate", "-1")
            page.click("#sv-plan")
            page.wait_for_selector("#sv-error:not([hidden])", timeout=TIMEOUT_MS)
            assert "request-rate" in page.inner_text("#sv-error")
            assert problems == []
        finally:
            browser.close()


def test_simulate_endpoint_takes_pools_of_their_own_split(client):
    body = {"model": "llama-3.1-8b", "gpu": "h100", "num_prompts": 40, "request_rate": 2, "input_len": 512,
            "output_len": 32, "prefill_gpus": 2, "decode_gpus": 2, "decode_tp": 2}
    d = client.post("/api/simulate", json=body).json()
    assert d["disaggregated"]["layout"] == "2P1D" and d["deployment"]["num_gpus"] == 4
    assert (d["disaggregated"]["decode"]["tp"], d["disaggregated"]["decode"]["instances"]) == (2, 1)
    bad = client.post("/api/simulate", json={**body, "prefill_gpus": 3, "prefill_tp": 2})
    assert bad.status_code == 422 and bad.json()["error"] == ("--prefill-gpus 3 is not a whole number of instances "
                                                              "of tp=2 (2 GPUs each)")
    big = client.post("/api/simulate", json={**body, "disaggregate": "300P1D", "prefill_gpus": None, "decode_gpus": None})
    assert big.status_code == 413 and "cap" in big.json()["error"]


def test_simulate_options_are_declared_once_for_the_command_line_and_the_web(client):
    """Every serving option reaches both surfaces from options.SERVING_OPTIONS (a dataset is a file
    path, which the server never reads)."""
    import inspect

    from roofline.cli.main import app
    from roofline.options import SERVING_OPTIONS
    from roofline.web.serving_api import SimulateRequest

    web = set(SimulateRequest.model_fields)
    assert {o.name for o in SERVING_OPTIONS} - web == {"dataset"}
    sim = next(c for c in app.registered_commands if c.name == "simulate")
    cli = set(inspect.signature(sim.callback).parameters)
    assert {o.name for o in SERVING_OPTIONS} <= cli
    # options the web did not take before the declaration: each reaches the engine's scheduler
    r = client.post("/api/simulate", json={"model": "llama-3.1-8b", "gpu": "h100", "input_len": 512, "output_len": 32,
                                           "num_prompts": 40, "request_rate": 10, "burstiness": 0.5,
                                           "block_size": 32, "enable_chunked_prefill": False,
                                           "frontend": "vllm-serve"})
    assert r.status_code == 200, r.text
    engine = r.json()["engine"]
    assert engine["block_size"] == 32 and engine["chunked_prefill"] is False
    assert client.post("/api/simulate", json={"model": "llama-3.1-8b", "dataset": "/etc/passwd"}).status_code == 422
