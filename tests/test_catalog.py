"""The hardware catalog: every file loads, figures are dense and sourced, names resolve."""

import tomllib
from importlib import resources

import pytest

from roofline.catalog import all_gpus, all_links, get_gpu, get_link
from roofline.errors import RooflineError

REQUIRED = ["v100", "t4", "a10", "a10g", "l4", "l40s", "rtx-a6000", "rtx-3090", "rtx-3090-ti", "rtx-4090",
            "a100-sxm-40gb", "a100-sxm-80gb", "a100-pcie-40gb", "a100-pcie-80gb", "h100-sxm", "h100-pcie", "h100-nvl",
            "h800", "h20", "h200", "gh200", "b200", "b300", "gb200", "rtx-pro-6000-blackwell", "mi250x", "mi300x",
            "mi325x", "mi355x", "gaudi2", "gaudi3", "tpu-v5e", "tpu-v5p", "tpu-v6e"]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_gpus_present(name):
    assert get_gpu(name).memory_bytes > 0


def test_aliases_unique_and_resolve():
    seen = {}
    for g in all_gpus():
        for a in [g.name, *g.aliases]:
            assert a not in seen, f"{a} used by {seen.get(a)} and {g.name}"
            seen[a] = g.name
    assert get_gpu("h100").name == "h100-sxm"
    assert get_gpu("a100").name == "a100-sxm-80gb"
    assert get_gpu("A100_PCIe").name == "a100-pcie-80gb"


def test_unknown_gpu_suggests():
    with pytest.raises(RooflineError, match="closest: .*h100"):
        get_gpu("h10")


@pytest.mark.parametrize("g", all_gpus(), ids=lambda g: g.name)
def test_gpu_facts(g):
    assert g.sources.get("datasheet"), "every GPU cites its datasheet"
    for f in (g.factors.memory_efficiency, g.factors.matmul_efficiency, g.factors.kernel_overhead_s):
        assert f.source and f.basis in ("measured", "fitted", "assumed", "datasheet")
    for link in (g.scale_up_link, g.scale_out_link, g.host_link):
        if link:
            get_link(link)
    # dense tensor peaks: fp8 is twice bf16 where both exist (a sparse figure would break this)
    pk = g.peak_flops
    if "fp8" in pk and "bf16" in pk and g.vendor != "Intel" and g.name not in ("tpu-v5p",):
        assert pk["fp8"] == pytest.approx(2 * pk["bf16"], rel=0.02)


def test_datasheet_values():
    a100 = get_gpu("a100")
    assert a100.memory_bandwidth == 2.039e12
    assert a100.peak("bf16") == 312e12
    assert not a100.supports("fp8")
    h100 = get_gpu("h100")
    assert h100.peak("bf16") == 989.5e12 and h100.peak("fp8") == 1979e12  # dense: half the sparse headline
    assert get_gpu("b200").peak("fp4") == 9000e12
    assert not get_gpu("v100").supports("bf16")


def test_links_valid():
    for link in all_links():
        assert link.bandwidth_per_direction > 0 and link.source


def test_catalog_files_parse():
    d = resources.files("roofline") / "data" / "gpus"
    names = [f.name for f in d.iterdir() if f.name.endswith(".toml")]
    assert len(names) >= 34
    for n in names:
        tomllib.loads((d / n).read_text())
