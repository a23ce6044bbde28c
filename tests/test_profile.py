"""Factors are an object passed in: a calibration profile changes exactly the figures it names."""

import pytest

import roofline
from roofline.catalog import get_gpu
from roofline.catalog.factors import default_profile
from roofline.specs.hardware import Factor
from roofline.specs.parallel import Parallel
from roofline.specs.precision import resolve_precision
from roofline.estimates.timing import roofs


def _with(name: str, value: float):
    return default_profile().with_overrides("test", {name: Factor(value=value, basis="assumed", source="test")})


def test_gemm_roof_follows_the_profile():
    # compute roof = dense peak × matmul_efficiency (per GPU) × gemm_shape_efficiency (profile)
    h100 = get_gpu("h100")
    prec = resolve_precision(h100)
    r = roofs(h100, prec, Parallel(), False, _with("gemm_shape_efficiency", 0.5))
    assert r.gemm == pytest.approx(989.4e12 * h100.factors.matmul_efficiency.for_dtype("bf16") * 0.5, rel=1e-3)


def test_collective_efficiency_reaches_the_links():
    # L40S has no NVLink: tp=2 all-reduces over PCIe, whose ring efficiency comes from the profile
    base = roofline.estimate("llama-3.1-8b", "l40s", tp=2, batch_size=8)
    slow = roofline.estimate("llama-3.1-8b", "l40s", tp=2, batch_size=8, profile=_with("collective_efficiency", 0.4))
    assert slow.comm["tp_link"]["bandwidth"] < base.comm["tp_link"]["bandwidth"]
    assert slow.decode.comm_s > base.decode.comm_s


def test_runtime_overhead_is_the_profiles():
    e = roofline.estimate("llama-2-7b", "a100", profile=_with("runtime_overhead_bytes", 2e9))
    assert e.memory.overhead_bytes == 2e9


def test_calibration_file_replaces_the_gpus_factors(tmp_path):
    f = tmp_path / "h100.toml"
    f.write_text('[device]\nname = "NVIDIA H100 80GB HBM3"\ncatalog_gpu = "h100-sxm"\n\n[measured]\n\n'
                 '[factors.memory_efficiency]\nvalue = 0.5\nbasis = "measured"\nsource = "test"\n')
    e = roofline.estimate("llama-3.1-8b", "h100", calibration=str(f))
    # memory roof = datasheet bandwidth 3.35 TB/s × the measured 0.5; batch-1 decode, which streams
    # the weights, slows by about the ratio of efficiencies
    assert e.setup.roofs.bandwidth == pytest.approx(3.35e12 * 0.5)
    base = roofline.estimate("llama-3.1-8b", "h100")
    assert e.decode.memory_s / base.decode.memory_s == pytest.approx(get_gpu("h100").factors.memory_efficiency.value / 0.5,
                                                                      rel=0.01)
    other = roofline.estimate("llama-3.1-8b", "a100", calibration=str(f))  # measured on another GPU: unchanged
    assert other.tpot_s == roofline.estimate("llama-3.1-8b", "a100").tpot_s
    with pytest.raises(roofline.RooflineError, match="no such calibration profile"):
        roofline.estimate("llama-3.1-8b", "h100", calibration=str(tmp_path / "missing.toml"))
