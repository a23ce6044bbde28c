"""Calibration profiles: what `roofline calibrate` measured, in the catalog's own factor keys.

A profile is TOML:
  [device]        what was measured and with what (name, kind, catalog GPU, torch, CUDA, date, command)
  [measured]      the raw numbers in SI units (bandwidth, matmul FLOP/s per dtype, attention,
                  launch overhead, [[measured.all_reduce]] rows)
  [factors.memory_efficiency], [factors.matmul_efficiency], [factors.kernel_overhead_s]
                  the GPU factor tables of data/gpus/*.toml (value, by_dtype, basis, source, fitted_on)
  [eager_kernel_overhead_s]
                  global factors with the keys of data/factors.toml
Factors are written only when the device matches a catalog GPU (its datasheet is the denominator).
`read_profile` validates a file; `to_profile` makes it the estimator's calibration Profile;
`apply_to_gpu` gives a GPU spec with the profile's factors.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path

from ..errors import RooflineError
from ..specs.hardware import GPU, Factor, GpuFactors

GPU_FACTORS = ("memory_efficiency", "matmul_efficiency", "kernel_overhead_s")
GLOBAL_FACTORS = ("eager_kernel_overhead_s",)


def _factor(value: float, source: str, by_dtype: dict | None = None) -> dict:
    f = {"value": value, "basis": "measured", "source": source, "fitted_on": ""}
    if by_dtype is not None:
        f["by_dtype"] = by_dtype
    return f


def factors_from(measured: dict, gpu: GPU | None) -> tuple[dict, dict, list[str]]:
    """(GPU factor tables, global factors, notes) from the raw measurements against a catalog GPU."""
    notes: list[str] = []
    if gpu is None:
        return {}, {}, ["no catalog GPU matched: raw measurements only (give --gpu to derive factors)"]
    gf: dict = {}
    me = measured["memory"]["bytes_per_s"] / gpu.memory_bandwidth
    if 0 < me <= 1:
        gf["memory_efficiency"] = _factor(me, f"roofline calibrate: device copy of {measured['memory']['copy_bytes']:.3g} B "
                                              f"(read + write), median; {measured['memory']['bytes_per_s']:.4g} B/s of "
                                              f"the datasheet {gpu.memory_bandwidth:.4g} B/s")
    else:
        notes.append(f"measured bandwidth {me:.2f}× the {gpu.name} datasheet: no memory_efficiency written")
    by = {}
    for dt, r in measured["matmul"].items():
        if r and "flops_per_s" in r and gpu.supports(dt):
            eff = r["flops_per_s"] / gpu.peak(dt)
            if 0 < eff <= 1:
                by[dt] = eff
            else:
                notes.append(f"{dt} matmul at {eff:.2f}× the {gpu.name} dense peak: not written")
    if by:
        first = next(d for d in ("bf16", "fp16", *by) if d in by)
        gf["matmul_efficiency"] = _factor(by[first], "roofline calibrate: n×n×n matmul per dtype, median", by)
    launch = measured["launch"]
    glob = {}
    if launch.get("graph_s"):
        gf["kernel_overhead_s"] = _factor(launch["graph_s"], f"roofline calibrate: {launch['kernels']} tiny kernels replayed from a CUDA graph, per kernel")
        glob["eager_kernel_overhead_s"] = _factor(max(launch["eager_s"] - launch["graph_s"], 0.0),
                                                  "roofline calibrate: per-kernel time launched eagerly minus replayed from a CUDA graph")
    else:
        notes.append("no CUDA graphs on this device: kernel_overhead_s not written")
    return gf, glob, notes


def _toml_value(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a TOML basic string is a JSON string


def _flat(d: dict, skip=()) -> list[str]:
    return [f"{k} = {_toml_value(v)}" for k, v in d.items() if v is not None and k not in skip]


def profile_text(device: dict, measured: dict, gpu_factors: dict, global_factors: dict, notes: list[str]) -> str:
    lines = ["# roofline calibration profile: measured on this machine by `roofline calibrate`.",
             "# Feed it to the estimates with --calibration FILE; keys follow data/gpus/*.toml and data/factors.toml.", ""]
    lines += ["[device]", *_flat({**device, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "notes": notes}), ""]
    m = measured
    raw = {"memory_bandwidth": m["memory"]["bytes_per_s"], "copy_bytes": m["memory"]["copy_bytes"],
           "matmul_flops": {d: r["flops_per_s"] for d, r in m["matmul"].items() if r and "flops_per_s" in r},
           "matmul_skipped": {d: r["skipped"] for d, r in m["matmul"].items() if r and "skipped" in r},
           "attention_dtype": m["attention"]["dtype"],
           "attention_prefill_flops": m["attention"]["prefill_flops_per_s"],
           "attention_prefill_efficiency": m["attention"]["prefill_efficiency"],
           "attention_decode_bandwidth": m["attention"]["decode_bytes_per_s"],
           "attention_decode_efficiency": m["attention"]["decode_efficiency"],
           "kernel_launch_eager_s": m["launch"]["eager_s"], "kernel_launch_graph_s": m["launch"]["graph_s"]}
    lines += ["[measured]", *_flat(raw), ""]
    for row in m.get("all_reduce") or []:
        lines += ["[[measured.all_reduce]]", *_flat(row), ""]
    for k, f in gpu_factors.items():
        lines += [f"[factors.{k}]", *_flat(f), ""]
    for k, f in global_factors.items():
        lines += [f"[{k}]", *_flat(f), ""]
    return "\n".join(lines)


def read_profile(path: str) -> dict:
    """{"device", "measured", "gpu_factors": {name: Factor}, "factors": {name: Factor}}; a bad file
    is a RooflineError naming what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise RooflineError(f"no such calibration profile: {path}")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise RooflineError(f"{path}: not a calibration profile ({e})") from None
    if "device" not in data or "measured" not in data:
        raise RooflineError(f"{path}: not a calibration profile (no [device] and [measured] tables)")
    out = {"device": data["device"], "measured": data["measured"], "gpu_factors": {}, "factors": {}}
    try:
        for k, v in data.get("factors", {}).items():
            if k not in GPU_FACTORS:
                raise RooflineError(f"{path}: unknown factor [factors.{k}] (one of {', '.join(GPU_FACTORS)})")
            out["gpu_factors"][k] = Factor.model_validate(v)
        for k in GLOBAL_FACTORS:
            if k in data:
                out["factors"][k] = Factor.model_validate(data[k])
    except ValueError as e:
        if isinstance(e, RooflineError):
            raise
        raise RooflineError(f"{path}: bad factor ({str(e).splitlines()[0]})") from None
    return out


def to_profile(path: str):
    """The file as the estimator's calibration Profile: the default global factors overridden by the
    file's, and the file's GPU factors under its catalog GPU (`Profile.gpu_factors`)."""
    from ..catalog.factors import default_profile

    p = read_profile(path)
    base = default_profile().with_overrides(str(path), p["factors"])
    gpu = p["device"].get("catalog_gpu")
    per_gpu = {gpu: dict(p["gpu_factors"])} if gpu and p["gpu_factors"] else {}
    return type(base)(base.factors, base.name, base.source, {**base.gpu_factors, **per_gpu})


def apply_to_gpu(gpu: GPU, profile: dict) -> GPU:
    """The GPU spec with the profile's measured factors in place of the catalog's."""
    upd = dict(profile["gpu_factors"])
    try:
        factors = GpuFactors.model_validate({**gpu.factors.model_dump(), **{k: v.model_dump() for k, v in upd.items()}})
    except ValueError as e:
        raise RooflineError(f"calibration profile: {str(e).splitlines()[0]}") from None
    return gpu.model_copy(update={"factors": factors})
