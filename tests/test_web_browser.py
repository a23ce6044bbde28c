"""The calculator page in a real browser: Debian's chromium driven by Playwright (never a downloaded
browser). Changing the batch size must change the displayed throughput and the charts.

Outside CI a missing chromium (or Playwright) skips with the reason; under ROOFLINE_CI=1 it fails.
Set ROOFLINE_WEB_SCREENSHOT=path to keep a copy of the screenshot (docs/img/web.png was made so).
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
                " return t.x[t.text.indexOf('decode')]; }")
THROUGHPUT = "() => document.querySelector('[data-metric=decode_tokens_per_s]').innerText"


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

            shot = tmp_path / "web.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 20_000
            keep = os.environ.get("ROOFLINE_WEB_SCREENSHOT")
            if keep:
                shutil.copyfile(shot, keep)
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
            page.fill("#tp", "3")  # 32 heads do not split three ways: the server's message appears
            page.wait_for_selector("#error:not([hidden])", timeout=TIMEOUT_MS)
            assert "does not divide" in page.inner_text("#error")
        finally:
            browser.close()
