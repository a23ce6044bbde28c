"""The JSON API through an in-process client: the same numbers as the core, JSON errors with 4xx
codes, caps on body and sweep sizes, and no path or URL from a request ever read."""

import json
import warnings
from importlib import resources

import pytest

import roofline

with warnings.catch_warnings():  # newer Starlette nudges towards httpx2; httpx is what the test extras install
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from roofline.web.app import create_app
from roofline.web.limits import MAX_BODY_BYTES

LLAMA_CONFIG = json.loads((resources.files("roofline") / "data" / "models" / "llama-2-7b.json").read_text())


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def no_nan(response) -> dict:
    assert "NaN" not in response.text and "Infinity" not in response.text
    return response.json()


def error(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return body["error"]


def test_estimate_matches_the_core(client):
    r = client.post("/api/estimate", json={"model": "llama-2-7b", "gpu": "a100", "batch_size": 8, "input_len": 512})
    assert r.status_code == 200
    got = no_nan(r)
    want = roofline.estimate("llama-2-7b", "a100", batch_size=8, input_len=512).to_dict()
    assert got["tpot_s"] == pytest.approx(want["tpot_s"], rel=1e-12)
    assert got["ttft_s"] == pytest.approx(want["ttft_s"], rel=1e-12)
    assert got["memory"].pop("kv_capacity") == want["memory"].pop("kv_capacity")
    assert got["memory"] == pytest.approx(want["memory"])
    assert got["gpu"]["name"] == "a100-sxm-80gb"


def test_estimate_compares_gpus_and_takes_cli_aliases(client):
    r = client.post("/api/estimate", json={"model": "meta-llama/Llama-2-7b-hf", "gpu": "a100, h100", "tp": 2})
    docs = no_nan(r)
    assert [d["gpu"]["name"] for d in docs] == ["a100-sxm-80gb", "h100-sxm"]
    assert all(d["parallel"]["tp"] == 2 for d in docs)


def test_estimate_explain_has_no_infinite_intensity(client):
    # collectives move no HBM bytes: their intensity is undefined and must be null, never Infinity
    r = client.post("/api/estimate", json={"model": "llama-3-70b", "gpu": ["h100"], "tensor_parallel_size": 4, "explain": True})
    doc = no_nan(r)
    reduces = [o for o in doc["ops"] if o["name"] == "tp_all_reduce"]
    assert reduces and all(o["arithmetic_intensity"] is None for o in reduces)
    assert any(step["section"] == "roofs" for step in doc["explain"])


def test_inline_config_gives_the_catalog_numbers(client):
    inline = no_nan(client.post("/api/estimate", json={"config": LLAMA_CONFIG, "gpu": "a100", "batch_size": 4}))
    catalog = no_nan(client.post("/api/estimate", json={"model": "llama-2-7b", "gpu": "a100", "batch_size": 4}))
    assert inline["tpot_s"] == pytest.approx(catalog["tpot_s"], rel=1e-12)
    assert inline["model"]["total_params"] == catalog["model"]["total_params"]


def test_parallel_plan(client):
    doc = no_nan(client.post("/api/parallel", json={"model": "llama-3-70b", "gpu": "h100", "num_gpus": 4}))
    assert doc["num_gpus"] == 4 and doc["splits"]
    assert doc["recommended"]


def test_catalogs(client):
    gpus = no_nan(client.get("/api/gpus"))
    assert {"a100-sxm-80gb", "h100-sxm", "mi300x"} <= {g["name"] for g in gpus}
    h100 = no_nan(client.get("/api/gpus/h100"))
    assert h100["name"] == "h100-sxm" and h100["ridge_points"]["bf16"] == pytest.approx(989.5e12 / 3.35e12, rel=0.01)
    models = no_nan(client.get("/api/models"))
    assert len(models) == len(roofline.catalog.all_models())
    found = no_nan(client.get("/api/models", params={"q": "Mixtral"}))
    assert {m["name"] for m in found} == {"mixtral-8x7b", "mixtral-8x22b"}
    m = no_nan(client.get("/api/models/meta-llama/Llama-2-7b-hf"))
    assert m["name"] == "llama-2-7b" and m["params"]["total"] == 6738415616
    f = no_nan(client.get("/api/formulas"))
    assert {"ridge", "critical_batch", "prefill_crossing"} <= {x["key"] for x in f}


def test_openapi_and_docs_are_served_offline(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/estimate", "/api/parallel", "/api/plot/{kind}", "/api/report", "/api/gpus", "/api/models"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/estimate" in docs.text and "batch_size" in docs.text
    assert "cdn" not in docs.text.lower() and "<script" not in docs.text


def test_plot_json_png_and_svg(client):
    body = {"model": "llama-2-7b", "gpu": "a100", "batch_size": 8}
    doc = no_nan(client.post("/api/plot/batch", json={**body, "points": 64}))
    assert doc["kind"] == "batch" and doc["figure"]["data"]
    series = doc["data"]["series"][0]
    assert len(series["batch"]) <= 64 and series["batch_size"] == 8
    png = client.post("/api/plot/roofline", json={**body, "format": "png"})
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.post("/api/plot/memory", json={**body, "format": "svg"})
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content[:500]


def test_report_endpoint(client):
    r = client.post("/api/report", json={"model": "llama-2-7b", "gpu": "a100"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "plotly.js v" in r.text and "Explain trace" in r.text


def test_page_and_its_files(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text and "/static/plotly.min.js" in page.text
    assert "https://" not in page.text.split("</head>")[0]
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript") and len(js.content) > 1_000_000
    assert client.get("/static/app.js").status_code == 200
    error(client.get("/static/..%2F..%2Fpyproject.toml"), 404)
    error(client.get("/static/index.html.bak"), 404)


@pytest.mark.parametrize("body, status, message", [
    ({"model": "no-such-model", "gpu": "a100"}, 404, "unknown model 'no-such-model'"),
    ({"model": "llama-2-7b", "gpu": "h10"}, 404, "unknown gpu 'h10'"),
    ({"model": "llama-2-7b", "gpu": "a100", "batch_size": 0}, 422, "batch size must be at least 1"),
    ({"model": "llama-2-7b", "gpu": "a100", "batch_size": "lots"}, 422, "batch_size"),
    ({"model": "llama-2-7b", "gpu": "a100", "tp": 3}, 422, "does not divide"),
    ({"model": "llama-2-7b", "gpu": "a100", "colour": "red"}, 422, "colour"),
    ({"gpu": "a100"}, 422, "`model`"),
    ({"model": "llama-2-7b", "config": LLAMA_CONFIG}, 422, "not both"),
    ({"config": {"model_type": "llama"}}, 422, "config.json has no hidden_size"),
    ({"config": {**LLAMA_CONFIG, "num_hidden_layers": 10**9}}, 422, "layers"),
    ({"config": {**LLAMA_CONFIG, "sliding_window": "wide", "model_type": "mistral"}}, 422, "config.json"),
    ({"model": "llama-2-7b", "speculative_model": "/etc/passwd", "num_speculative_tokens": 4, "acceptance_rate": 0.7}, 404, "unknown model"),
    ({"model": "llama-2-7b", "gpu": "v100", "dtype": "bf16"}, 422, "cannot compute in bf16"),
])
def test_bad_input_is_a_json_4xx(client, body, status, message):
    assert message in error(client.post("/api/estimate", json=body), status)


def test_paths_and_urls_in_requests_are_never_read(client, tmp_path, monkeypatch):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(LLAMA_CONFIG))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "llama-2-7b").mkdir()  # a folder named like a catalog model must not shadow it
    for name in (str(cfg), "config.json", str(tmp_path), "https://example.com/config.json", "someone/some-model"):
        assert "unknown model" in error(client.post("/api/estimate", json={"model": name}), 404)
    ok = no_nan(client.post("/api/estimate", json={"model": "llama-2-7b"}))
    assert ok["model"]["name"] == "llama-2-7b"


def test_malformed_json_body(client):
    r = client.post("/api/estimate", content=b'{"model": "llama-2-7b",', headers={"content-type": "application/json"})
    assert "malformed JSON at line 1" in error(r, 400)


def test_body_over_the_cap_is_413(client):
    padding = {f"unused_{i}": "x" * 100 for i in range(MAX_BODY_BYTES // 100)}
    r = client.post("/api/estimate", json={"config": {**LLAMA_CONFIG, **padding}})
    assert "exceeds the cap" in error(r, 413)


def test_streamed_body_over_the_cap_is_413(client):
    def chunks():  # no Content-Length: the middleware has to count
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b" " * 1000

    r = client.post("/api/estimate", content=chunks(), headers={"content-type": "application/json"})
    assert "exceeds the cap" in error(r, 413)


@pytest.mark.parametrize("path, body, message", [
    ("/api/plot/batch", {"points": 20_000}, "20,000 points exceeds the cap of 10,000"),
    ("/api/plot/memory", {"batches": list(range(1, 100))}, "batches has 99 entries"),
    ("/api/estimate", {"gpu": ["a100"] * 9}, "9 GPUs"),
    ("/api/estimate", {"tp": 64, "pp": 128}, "8,192 GPUs"),
])
def test_sweeps_and_lists_are_capped(client, path, body, message):
    assert message in error(client.post(path, json={"model": "llama-2-7b", **body}), 413)


def test_unknown_kind_route_and_method(client):
    assert "unknown plot kind 'pie'" in error(client.post("/api/plot/pie", json={"model": "llama-2-7b"}), 404)
    assert "no such endpoint" in error(client.get("/api/nothing"), 404)
    error(client.get("/api/estimate"), 405)


def run_cli(capsys, *args):
    from roofline.cli.main import run

    with pytest.raises(SystemExit) as exc:
        run(list(args))
    return exc.value.code, capsys.readouterr().err


def test_web_command_refuses_bad_ports(capsys):
    import socket

    code, err = run_cli(capsys, "web", "--port", "70000")
    assert code == 2 and "--port must be in 1..65535" in err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, err = run_cli(capsys, "web", "--port", str(busy.getsockname()[1]))
    assert code == 2 and "cannot listen on 127.0.0.1" in err
