"""Hostile requests to the web API: strict JSON bodies (400), configs refused by key (422), the
split cap (413), a JSON 500 that keeps the keep-alive connection usable, the Host check against
DNS rebinding, the heavy-work gate, and a schema-driven fuzz over /openapi.json with no 5xx and
no error that is not JSON."""

import http.client
import json
import socket
import threading
import time
import warnings

import anyio
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():  # newer Starlette nudges towards httpx2; httpx is what the test extras install
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from roofline.web.app import create_app
from roofline.web.guards import LOCAL_HOSTS, Busy, HeavyGate, host_of
from test_hostile_config import DEEPSEEK, LLAMA, MIXTRAL

APP = create_app()


@pytest.fixture(scope="module")
def client():
    return TestClient(APP)


def error(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and "\n" not in body["error"]
    return body["error"]


def post_raw(client, path: str, body: bytes):
    return client.post(path, content=body, headers={"content-type": "application/json"})


# --- bodies that are not strict JSON: 400 with the reason ---

@pytest.mark.parametrize("number, words", [
    ("Infinity", "Infinity is not a number JSON allows"), ("-Infinity", "-Infinity is not a number JSON allows"),
    ("NaN", "NaN is not a number JSON allows"), ("1e400", "1e400 is too large for a number"),
])
def test_non_finite_numbers_in_an_inline_config_are_400(client, number, words):
    body = json.dumps({"config": LLAMA}).replace('"num_hidden_layers": 32', f'"num_hidden_layers": {number}')
    assert number in body
    assert words in error(post_raw(client, "/api/estimate", body.encode()), 400)


def test_non_finite_batch_size_is_400(client):
    assert "NaN" in error(post_raw(client, "/api/estimate", b'{"model": "llama-2-7b", "batch_size": NaN}'), 400)


def test_non_utf8_body_is_400(client):
    assert "not UTF-8 text" in error(post_raw(client, "/api/estimate", b'{"model": "llama-2-7b\xff"}'), 400)


@pytest.mark.parametrize("depth", [40, 1_000, 20_000])
def test_deep_json_is_400(client, depth):
    body = ('{"model": "llama-2-7b", "config": ' + '{"a": ' * depth + "1" + "}" * depth + "}").encode()
    if len(body) > 64 * 1024:
        assert "exceeds the cap" in error(post_raw(client, "/api/estimate", body), 413)
    else:
        assert "nested more than 32 levels deep" in error(post_raw(client, "/api/estimate", body), 400)


# --- configs refused by key: 422, one line naming the key and the value ---

@pytest.mark.parametrize("config, words", [
    ({**LLAMA, "num_key_value_heads": 3}, "num_attention_heads (32) is not a multiple of num_key_value_heads (3)"),
    ({**LLAMA, "num_attention_heads": 0, "head_dim": 128}, "num_attention_heads must be a positive whole number, got 0"),
    ({**LLAMA, "head_dim": -4}, "head_dim must be a positive whole number, got -4"),
    ({**LLAMA, "intermediate_size": -5}, "intermediate_size must be a positive whole number, got -5"),
    ({**MIXTRAL, "num_experts_per_tok": 0}, "num_experts_per_tok = 0"),
    ({**MIXTRAL, "num_experts_per_tok": 9}, "num_experts_per_tok (9) exceeds the 8 experts"),
    ({**DEEPSEEK, "kv_lora_rank": 0}, "kv_lora_rank must be a positive whole number, got 0"),
    ({**LLAMA, "max_position_embeddings": -5}, "max_position_embeddings must be a positive whole number, got -5"),
    ({**LLAMA, "num_hidden_layers": "32"}, "num_hidden_layers must be a whole number, got '32'"),
])
def test_invalid_inline_configs_are_one_line_422(client, config, words):
    message = error(client.post("/api/estimate", json={"config": config}), 422)
    assert words in message and "pydantic" not in message


def test_num_gpus_over_the_split_cap_is_413_as_the_readme_says(client):
    assert "the cap is 4,096" in error(client.post("/api/estimate", json={"model": "llama-2-7b", "num_gpus": 8192}), 413)
    assert "the cap is 4,096" in error(client.post("/api/parallel", json={"model": "llama-2-7b", "num_gpus": 8192}), 413)


@pytest.mark.parametrize("kind, field", [("batch", "max_batch"), ("crossover", "max_batch"), ("prefill", "max_input_len")])
def test_zero_sweep_limits_are_422(client, kind, field):
    r = client.post(f"/api/plot/{kind}", json={"model": "llama-2-7b", field: 0})
    assert "must be in 1.." in error(r, 422)


# --- a bug answers JSON 500 and the keep-alive connection stays usable (a real server) ---

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def live_server(monkeypatch):
    import uvicorn

    def broken():
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("roofline.estimates.formulas.formulas", broken)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(allowed_hosts=LOCAL_HOSTS), host="127.0.0.1", port=port,
                                           log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def test_a_500_is_json_and_the_connection_survives_it(live_server):
    conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=20)
    conn.request("GET", "/api/formulas")
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 500 and r.getheader("content-type").startswith("application/json")
    assert body == {"error": "internal error (ZeroDivisionError); please report it with the request that caused it"}
    sock = conn.sock
    conn.request("GET", "/api/limits")  # the same connection: keep-alive survived the bug
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["max_split"] == 4096
    assert conn.sock is sock
    conn.request("GET", "/api/limits", headers={"Host": "rebound.attacker.example"})
    r = conn.getresponse()
    assert r.status == 421 and "rebound.attacker.example" in json.loads(r.read())["error"]
    conn.close()


# --- the Host check (DNS rebinding) ---

@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("LOCALHOST", True), ("[::1]:8000", True), ("localhost.", True),
    ("evil.example", False), ("evil.example:8000", False), ("127.0.0.1.nip.io", False), ("localhost.evil.example", False),
])
def test_bound_to_localhost_only_local_hosts_are_answered(host, ok):
    local = TestClient(create_app(allowed_hosts=LOCAL_HOSTS), base_url="http://127.0.0.1:8000")
    r = local.get("/api/limits", headers={"host": host})
    if ok:
        assert r.status_code == 200
    else:
        assert "answers only requests addressed to" in error(r, 421)


def test_host_of_strips_ports_and_brackets():
    assert host_of("[::1]:8000") == "::1" and host_of("Example.COM:80") == "example.com" and host_of("a.b.") == "a.b"


# --- the heavy-work gate ---

def test_the_gate_refuses_with_503_when_its_slots_stay_busy():
    gate = HeavyGate(slots=1, wait_s=0.1, run_s=10)
    release = threading.Event()

    async def main():
        async with anyio.create_task_group() as tg:
            tg.start_soon(gate.run, release.wait)
            await anyio.sleep(0.05)
            with pytest.raises(Busy, match="busy with other charts"):
                await gate.run(lambda: 1)
            release.set()
        assert await gate.run(lambda: 42) == 42  # the slot came back

    anyio.run(main)


def test_the_gate_stops_waiting_after_its_time_limit():
    gate = HeavyGate(slots=1, wait_s=5, run_s=0.1)

    async def main():
        with pytest.raises(Busy, match="took longer than 0.1 s") as e:
            await gate.run(time.sleep, 0.5)
        assert e.value.status_code == 503
        assert await gate.run(lambda: 7) == 7  # the overrun finished and gave its slot back

    anyio.run(main)


# --- the schema-driven fuzz over /openapi.json (schemathesis: schema-valid and schema-violating
# requests for every operation) and a fuzz of bodies that name real models, so the work runs ---

SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


def content_type(response) -> str:
    value = response.headers.get("content-type", "")
    return value[0] if isinstance(value, list) else value  # schemathesis keeps every header as a list


def check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert content_type(response).startswith("application/json"), response.text[:200]
        assert set(response.json()) == {"error"}
    elif content_type(response).startswith("application/json"):
        assert "NaN" not in response.text and "Infinity" not in response.text


@SCHEMA.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_schema_driven_fuzz_finds_no_5xx_and_no_non_json_error(case):
    if case.path == "/api/plot/{kind}" and isinstance(case.body, dict):
        case.body["format"] = "json"  # rasterizing is matplotlib's work; the JSON path runs the same numbers
    check(case.call())


SMALL = st.integers(min_value=-2, max_value=64)
REAL_BODIES = st.fixed_dictionaries(
    {"model": st.sampled_from(["llama-2-7b", "mixtral-8x7b", "deepseek-v2-lite", "gemma-2-9b"]),
     "gpu": st.sampled_from(["a100", "h100", "l4", "a100,h100"])},
    optional={"batch_size": SMALL, "input_len": st.integers(-1, 40_000), "output_len": st.integers(-1, 4_000),
              "tp": SMALL, "pp": SMALL, "dp": SMALL, "num_gpus": SMALL, "gpus_per_node": SMALL,
              "weight_dtype": st.sampled_from(["fp8", "int4", "fp4", "x"]), "weight_bits": st.floats(-1, 40),
              "kv_cache_dtype": st.sampled_from(["fp8", "int8", "auto"]), "ideal": st.booleans(),
              "gpu_memory_utilization": st.floats(-0.5, 1.5), "enable_expert_parallel": st.booleans(),
              "speculative_model": st.sampled_from(["mtp", "ngram", "llama-2-7b"]),
              "num_speculative_tokens": SMALL, "acceptance_rate": st.floats(-0.5, 1.5)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=REAL_BODIES)
def test_estimates_of_real_models_with_fuzzed_options(client, body):
    check(client.post("/api/estimate", json=body))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["roofline", "memory", "crossover", "batch", "prefill", "precisions"]), body=REAL_BODIES,
       points=st.integers(-1, 300), limit=st.one_of(st.none(), st.integers(-1, 5000)))
def test_charts_of_real_models_with_fuzzed_options(client, kind, body, points, limit):
    for key in ("dp", "num_gpus", "gpus_per_node", "enable_expert_parallel", "speculative_model",
                "num_speculative_tokens", "acceptance_rate"):
        body.pop(key, None)  # estimate-only options: the chart request refuses them (its own 422)
    extra = {"max_batch": limit} if kind in ("batch", "crossover") else {"max_input_len": limit} if kind == "prefill" else {}
    check(client.post(f"/api/plot/{kind}", json={**body, "points": points, **extra}))


def test_serving_endpoints_are_gated_by_path(monkeypatch):
    import roofline.web.guards as guards

    gate = HeavyGate(slots=1, wait_s=0.05)
    monkeypatch.setattr(guards, "HEAVY", gate)
    busy = TestClient(create_app())
    assert gate._free.acquire(blocking=False)  # a heavy request holds the only slot
    try:
        for path in ("/api/simulate", "/api/plan", "/api/plot/serving"):
            r = busy.post(path, json={"model": "llama-2-7b"})
            assert "busy with other charts, reports, plans or simulations" in error(r, 503)
            assert r.headers["retry-after"] == "5"
        assert busy.post("/api/estimate", json={"model": "llama-2-7b"}).status_code == 200  # cheap ones are not gated
    finally:
        gate._free.release()
    assert busy.post("/api/simulate", json={"model": "nope"}).status_code == 404  # the slot is free again
