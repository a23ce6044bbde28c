"""The calculator page in a real browser: Debian's chromium driven by Playwright (never a downloaded
browser). Changing the batch size must change the displayed throughput and the charts; an invalid
input marks the old results stale; the planner has its own view; the defaults are the CLI's.

Outside CI a missing chromium (or Playwright) skips with the reason; under ROOFLINE_CI=1 it fails.
Set ROOFLINE_WEB_SCREENSHOTS=folder to keep the screenshots (docs/img/web*.png were made so:
`ROOFLINE_WEB_SCREENSHOTS=docs/img pytest tests/test_web_browser.py`).
"""

import json
import os
import shutil
import socket
import threading
import time
import warnings

import pytest

import roofline

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000


def _missing(reason: str):
    if os.environ.get("ROOFLINE_CI"):
        pytest.fail(f"ROOFLINE_CI is set but {reason}")
    print(f"skipping the browser test: {reason}")
    warnings.warn(f"browser test skipped: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_playwright():
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} is not installed (apt-get install chromium; ./test.sh does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    return sync_playwright


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from roofline.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web app did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


CHOSEN_BATCH = ("() => { const c = document.getElementById('chart-batch');"
                " return c && c.data ? c.data.find(t => t.mode === 'markers' && t.yaxis === 'y').x[0] : null; }")
DECODE_POINT = ("() => { const t = document.getElementById('chart-roofline').data.find(t => t.name.startsWith('phase totals'));"
                " return t.x[t.marker.symbol.indexOf('triangle-up')]; }")
THROUGHPUT = "() => document.querySelector('[data-metric=decode_tokens_per_s]').innerText"


def screenshot(page, folder, name: str) -> None:
    """A screenshot of the page as it is; kept in $ROOFLINE_WEB_SCREENSHOTS as well when that is set."""
    shot = folder / name
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    keep = os.environ.get("ROOFLINE_WEB_SCREENSHOTS")
    if keep:
        shutil.copyfile(shot, os.path.join(keep, name))


def tokens_per_s(text: str) -> float:
    return float(text.split()[0].replace(",", ""))


def test_changing_the_batch_updates_numbers_and_charts(sync_playwright, server, tmp_path):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems, outside = [], []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:")) else None)
            page.goto(f"{server}/?model=llama-2-7b&gpu=a100-sxm-80gb,h100-sxm&batch_size=1&input_len=1024&output_len=256")
            page.wait_for_function("() => +document.getElementById('out').dataset.renders >= 1", timeout=TIMEOUT_MS)

            before = page.evaluate(THROUGHPUT)
            assert page.evaluate(CHOSEN_BATCH) == 1
            decode_before = page.evaluate(DECODE_POINT)
            one = roofline.estimate("llama-2-7b", "a100", batch_size=1)
            assert tokens_per_s(before) == pytest.approx(one.decode_tokens_per_s, rel=1e-3)

            page.fill("#batch_size", "64")
            page.wait_for_function(f"() => ({THROUGHPUT})() !== {json.dumps(before)} && ({CHOSEN_BATCH})() === 64",
                                   timeout=TIMEOUT_MS)
            after = page.evaluate(THROUGHPUT)
            wide = roofline.estimate("llama-2-7b", "a100", batch_size=64)
            assert tokens_per_s(after) == pytest.approx(wide.decode_tokens_per_s, rel=1e-3)
            assert tokens_per_s(after) > 10 * tokens_per_s(before)  # memory-bound: batching is nearly free
            assert page.evaluate(DECODE_POINT) > 10 * decode_before  # the decode point moved right on the roofline
            assert "batch_size=64" in page.url  # the view is in the address, shareable
            assert page.locator("#error").is_hidden()

            page.set_viewport_size({"width": 1400, "height": 900})
            page.evaluate("window.scrollTo(0, 0)")
            screenshot(page, tmp_path, "web.png")
            assert problems == [] and outside == []
        finally:
            browser.close()


def test_a_shared_link_reproduces_the_view_and_errors_show(sync_playwright, server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/?model=mistral-7b&gpu=l40s&batch_size=12&input_len=300&output_len=40&tp=1&pp=1&weight_dtype=fp8")
            page.wait_for_function("() => +document.getElementById('out').dataset.renders >= 1", timeout=TIMEOUT_MS)
            assert page.input_value("#batch_size") == "12" and page.input_value("#weight_dtype") == "fp8"
            assert page.locator("#gpu-list input[value=l40s]").is_checked()
            want = roofline.estimate("mistral-7b", "l40s", batch_size=12, input_len=300, output_len=40, weight_dtype="fp8")
            assert tokens_per_s(page.evaluate(THROUGHPUT)) == pytest.approx(want.decode_tokens_per_s, rel=1e-3)
            page.fill("#tensor_parallel_size", "3")  # 32 heads do not split three ways: the server's message appears
            page.wait_for_selector("#error:not([hidden])", timeout=TIMEOUT_MS)
            assert "does not divide" in page.inner_text("#error")
        finally:
            browser.close()


def wait_rendered(page, count: int) -> None:
    page.wait_for_function(f"() => +document.getElementById('out').dataset.renders >= {count}", timeout=TIMEOUT_MS)


def test_defaults_are_the_clis(sync_playwright, server):
    from roofline.web.options import options

    defaults = {f["name"]: f["default"] for f in options()["fields"]}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/")
            wait_rendered(page, 1)
            # `roofline estimate` defaults: a100-sxm-80gb, batch 1, 1024 in / 256 out, all memory usable
            assert defaults["gpu"] == "a100-sxm-80gb" and page.locator("#gpu-list input[value=a100-sxm-80gb]").is_checked()
            assert page.input_value("#batch_size") == "1" and page.input_value("#input_len") == "1024"
            assert page.input_value("#output_len") == "256" and float(page.input_value("#gpu_memory_utilization")) == 1.0
            for name in ("speculative_model", "num_speculative_tokens", "acceptance_rate", "data_parallel_size",
                         "enable_expert_parallel", "num_gpus", "gpus_per_node", "inter_node_link", "num_micro_batches"):
                assert page.locator(f"#{name}").count() == 1, name  # every estimate option has a control
            assert page.input_value("#data_parallel_size") == "1" and not page.locator("#enable_expert_parallel").is_checked()
        finally:
            browser.close()


def test_invalid_input_marks_results_stale(sync_playwright, server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server}/?model=llama-2-7b&gpu=a100-sxm-80gb&batch_size=8")
            wait_rendered(page, 1)
            assert page.locator("#stale-note").is_hidden()
            before = page.evaluate(THROUGHPUT)
            page.fill("#batch_size", "0")  # no batch of zero sequences: the server says so
            page.wait_for_selector("#error:not([hidden])", timeout=TIMEOUT_MS)
            assert "batch" in page.inner_text("#error")
            assert page.locator("#stale-note").is_visible() and "stale" in page.inner_text("#stale-note")
            assert "stale" in page.get_attribute("#view-estimate", "class")
            assert float(page.evaluate("getComputedStyle(document.getElementById('view-estimate')).opacity")) < 0.5
            assert page.evaluate(THROUGHPUT) == before  # the old numbers stay, marked
            # the message sits above the dimmed results, the stale note right under it
            error_box = page.locator("#error").bounding_box()
            note_box = page.locator("#stale-note").bounding_box()
            results_box = page.locator("#results").bounding_box()
            assert error_box["y"] < note_box["y"] < results_box["y"]
            page.fill("#batch_size", "16")
            wait_rendered(page, 2)
            assert page.locator("#stale-note").is_hidden() and page.locator("#error").is_hidden()
            assert "stale" not in (page.get_attribute("#view-estimate", "class") or "")
        finally:
            browser.close()


def test_planner_view(sync_playwright, server, tmp_path):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server}/?model=llama-2-70b&gpu=a100-sxm-80gb&dtype=fp16")
            wait_rendered(page, 1)
            page.evaluate("window.scrollTo(0, 0)")
            page.click("#tab-parallel")
            page.wait_for_selector("#plan-table", timeout=TIMEOUT_MS)
            # Llama-2-70B in fp16 (138 GB of weights) needs two A100-80GB; tensor parallelism wins
            assert "Recommended: TP=2" in page.inner_text("#plan-recommended")
            assert "2 × a100-sxm-80gb" in page.inner_text("#plan h2")
            assert page.locator("#plan-table tr.recommended").count() == 1
            assert "view=parallel" in page.url
            assert page.locator("#view-estimate").is_hidden()
            assert page.locator("[data-field=objective]").is_visible()  # the planner's own options
            assert page.locator("[data-field=tensor_parallel_size]").is_hidden()  # the planner tries every split itself
            screenshot(page, tmp_path, "web-planner.png")
            page.click("#tab-estimate")
            wait_rendered(page, 3)
            assert page.locator("#view-parallel").is_hidden() and "view=" not in page.url
        finally:
            browser.close()


def test_narrow_window(sync_playwright, server, tmp_path):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 1000})
            page.goto(f"{server}/?model=llama-2-7b&gpu=a100-sxm-80gb,h100-sxm&batch_size=32")
            wait_rendered(page, 1)
            # one column: the controls above the results, nothing wider than the window
            assert page.evaluate("document.documentElement.scrollWidth") <= 800
            aside, out = page.locator("aside").bounding_box(), page.locator("#out").bounding_box()
            assert aside["y"] + aside["height"] <= out["y"] + 1
            page.evaluate("document.getElementById('out').scrollIntoView()")  # the results, under the controls
            screenshot(page, tmp_path, "web-800.png")
        finally:
            browser.close()
