"""The HTML report: one self-contained file with plotly.js inlined, every chart, the tables and the working."""

import json
import re

import pytest

import roofline
from roofline.cli.main import run as cli
from roofline.plots import KINDS
from roofline.report.assets import plotly_js


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    cli(["report", "llama-2-7b", "--gpu", "a100,h100", "-b", "8", "--input-len", "512", "--output-len", "128", "-o", str(out)])
    return out.read_text(encoding="utf-8")


def embedded(html: str, element_id: str):
    m = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert m, element_id
    return json.loads(m.group(1))


def test_no_external_resources(report):
    assert not re.search(r"<script[^>]+src=", report)
    assert not re.search(r"<link[^>]+href=\"https?:", report)
    outside_bundle = report.replace(plotly_js(), "")
    assert not re.search(r"(src|href)=\"?(https?:)?//", outside_bundle)
    assert "cdn" not in outside_bundle.lower()


def test_plotly_bundle_is_inlined(report):
    bundle = plotly_js()
    assert len(bundle) > 1_000_000
    assert bundle[:2000] in report
    assert "plotly.js v" in report


def test_every_chart_is_drawn(report):
    figures = embedded(report, "figures")
    assert set(figures) == set(KINDS)
    for kind in KINDS:
        assert f'id="chart-{kind}"' in report
        assert figures[kind]["data"] and figures[kind]["layout"]["title"]["text"]
    assert 'Plotly.newPlot("chart-" + kind' in report


def test_tables_and_numbers_are_the_estimates(report):
    results = embedded(report, "results")
    want = roofline.estimate("llama-2-7b", "h100", batch_size=8, input_len=512, output_len=128).to_dict()
    got = results["estimates"][1]
    assert got["tpot_s"] == pytest.approx(want["tpot_s"])
    assert got["memory"]["total_bytes"] == pytest.approx(want["memory"]["total_bytes"])
    assert report.count("<table>") >= 4  # inputs, results, two operator tables
    assert "<th>a100-sxm-80gb</th><th>h100-sxm</th>" in report
    assert "TTFT (prefill)" in report and "critical batch" in report and "qkv_proj" in report


def test_explain_trace_is_included(report):
    est = roofline.estimate("llama-2-7b", "a100", batch_size=8, input_len=512, output_len=128)
    lines = [s.line() for s in est.explain().steps if s.name != "note"]
    from html import escape

    assert all(escape(line) in report for line in lines[:40])
    assert "Working on NVIDIA A100 80GB SXM" in report


def test_no_nan_reaches_the_page(report):
    for element in ("figures", "results"):
        text = re.search(rf'id="{element}">(.*?)</script>', report, re.S).group(1)
        assert "NaN" not in text and "Infinity" not in text
