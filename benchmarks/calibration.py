"""Map each published measurement (benchmarks/data/measured.csv) to the estimate that predicts it.

A copy of the reference calibration set lives in benchmarks/data/ (see its README for sources).
Each row becomes a `Case`: the roofline call that reproduces the measured setup and a function
reading the predicted value of the row's metric from the estimate. Rows the tool cannot model
say why (`skip`).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import roofline
from roofline.catalog import get_gpu
from roofline.catalog.factors import factor
from roofline.cost.params import count_params
from roofline.cost.ops import gemm as gemm_op
from roofline.estimates.estimate import Estimate
from roofline.estimates.timing import roofs, time_op
from roofline.specs.parallel import Parallel
from roofline.specs.precision import resolve_precision

DATA = Path(__file__).parent / "data" / "measured.csv"
# The calibration profile every prediction runs with; benchmarks/fit.py swaps in its trial values.
PROFILE = None  # None: the default profile (data/factors.toml)

MODELS = [  # substring of the published name -> catalog name (first match wins)
    ("GPT-J-6B", "gpt-j-6b"), ("Mistral-7B", "mistral-7b"), ("Mixtral-8x7B", "mixtral-8x7b"),
    ("Llama-2-7b", "llama-2-7b"), ("Llama-2-7B", "llama-2-7b"), ("Llama-2-13b", "llama-2-13b"),
    ("Llama-2-70B", "llama-2-70b"), ("Llama-3.1-8B", "llama-3.1-8b"), ("Llama-3.1-70B", "llama-3.1-70b"),
    ("Llama-3.1-405B", "llama-3.1-405b"), ("Falcon-180B", "falcon-180b"), ("phi-2", "phi-2"), ("Yi-34B", "yi-34b"),
]
GPUS = [  # longer names first: "GH200" contains "H200", "GB200" contains "B200"
    ("GH200", "gh200-144gb"), ("GB200", "gb200"), ("H200", "h200-sxm"), ("H100", "h100-sxm"), ("H800", "h800-sxm"), ("L40S", "l40s"), ("A100 PCIe", "a100-pcie-80gb"),
    ("A100", "a100-sxm-80gb"), ("RTX 4090", "rtx-4090"), ("MI250X (one GCD)", "mi250x-gcd"),
    ("B300", "b300"), ("B200", "b200"), ("MI355X", "mi355x"), ("MI325X", "mi325x"),
    ("MI300X", "mi300x"), ("Gaudi 2", "gaudi2"), ("Gaudi 3", "gaudi3"),
]

# Which family a row belongs to, for reporting the error per kind of measurement.
CATEGORY = {
    "output_tok_s_per_gpu": "static batch throughput (TensorRT-LLM)",
    "ttft": "time to first token (TensorRT-LLM)",
    "decode_tok_s_per_user": "single-stream decode",
    "achieved_weight_bw_per_gpu": "single-stream decode",
    "achieved_mem_bw": "single-stream decode",
}


@dataclass
class Case:
    row: dict
    kwargs: dict = field(default_factory=dict)  # roofline.estimate arguments
    read: Callable[[Estimate], float] | None = None
    direct: Callable[[], float] | None = None  # rows predicted without an estimate (kernels)
    skip: str = ""
    tags: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.row["id"]

    @property
    def source(self) -> str:
        return source_of(self.row)

    @property
    def metric(self) -> str:
        return self.row["metric"]

    @property
    def measured(self) -> float:
        return float(self.row["value"])

    def predict(self, ideal: bool = False) -> float:
        if self.direct is not None:
            return self.direct()
        kw = dict(self.kwargs)
        cap = power_cap_w(self.row)
        if cap:  # built now, from the GPU as the catalog holds it at this moment (the fit patches it)
            kw["gpu"] = capped_gpu(kw["gpu"], cap)
        return self.read(roofline.estimate(**kw, ideal=ideal, profile=PROFILE))


def _lookup(table: list[tuple[str, str]], text: str) -> str | None:
    for key, name in table:
        if key in text:
            return name
    return None


def _int(text: str, default: int) -> int:
    m = re.search(r"\d+", text or "")
    return int(m.group()) if m else default


def _weights_without_embedding(e: Estimate) -> float:
    """gpt-fast's 'memory bandwidth' counts parameter bytes minus the embedding table, per rank."""
    m = roofline.get_model(e.model["name"])
    model_bytes = 4 if e.precision["dtype"] == "fp32" else 2
    return e.memory.weights_bytes - m.vocab_size * m.hidden_size / e.parallel["tp"] * model_bytes


def _kernel_case(row: dict, gpu: str, cap: float | None = None) -> Case:
    """DeepGEMM, FlashMLA, MAMF and bandwidth rows: one kernel on the roofs of the GPU file."""

    def g():  # looked up at prediction time: the fit patches the catalog between predictions
        return capped_gpu(gpu, cap) if cap else get_gpu(gpu)

    metric = row["metric"]
    text = row["model"]
    if metric == "matmul_tflops_mamf":
        dt = "fp8" if "fp8" in row["weight_dtype"] else "bf16"
        return Case(row, direct=lambda: g().peak(dt) * g().factors.matmul_efficiency.for_dtype(dt) / 1e12, tags=("kernel", "anchor"))
    if metric == "achievable_mem_bw":
        return Case(row, direct=lambda: g().memory_bandwidth * g().factors.memory_efficiency.value / 1e9, tags=("kernel", "anchor"))
    if metric.startswith("attn_kernel"):
        if metric.endswith("mem_bw"):  # the H800 memory_efficiency is this measurement
            return Case(row, direct=lambda: g().memory_bandwidth * g().factors.memory_efficiency.value / 1e9, tags=("kernel", "anchor"))
        return Case(row, direct=lambda: g().peak("bf16") * g().factors.matmul_efficiency.for_dtype("bf16") / 1e12, tags=("kernel",))
    dims = dict(re.findall(r"(M/group|M|N|K|groups)=(\d+)", text))
    M = int(dims.get("M", dims.get("M/group", 0)))
    N, K, G = int(dims["N"]), int(dims["K"]), int(dims.get("groups", 1))

    def gemm() -> float:
        # one fp8 GEMM kernel (grouped: G weight matrices, M rows each) timed by the same roofs as any
        # model operator; bytes as DeepGEMM counts them
        spec = g()
        prec = resolve_precision(spec, weight_dtype="fp8")
        op = gemm_op("gemm", M * G, K, N, wb=1.0, ib=1.0, ob=2.0, count=1, group="", trace=False, weights_read=G * K * N)
        t = float(time_op(op, roofs(spec, prec, Parallel(), profile=PROFILE), Parallel()).total)
        flops, nbytes = 2.0 * M * N * K * G, (M * K + K * N + 2 * M * N) * G
        return flops / t / 1e12 if metric == "gemm_tflops" else nbytes / t / 1e9

    return Case(row, direct=gemm, tags=("kernel",))


# Serving rows (continuous batching under load) are predicted by the serving simulator, not by one
# static estimate; their sources start with these words.
SERVING_SOURCES = ("TensorRT-LLM perf-overview v0.17", "TensorRT-LLM perf-overview v0.14")
# A measurement's source, for leave-one-source-out scoring: the first match of its `source` column.
SOURCES = [("TensorRT-LLM perf docs v0.9.0", "trtllm-0.9"), ("gpt-fast", "gpt-fast"), ("calm", "calm"),
           ("DeepGEMM", "deepgemm"), ("FlashMLA", "flashmla"), ("ml-engineering MAMF", "mamf")]


def source_of(row: dict) -> str:
    return next((key for start, key in SOURCES if row["source"].startswith(start)), row["source"])


def power_cap_w(row: dict) -> float | None:
    """A power limit the measurement ran under (gpt-fast: 'power-limited to 330W'): an input of the
    measurement, not a property of the GPU."""
    m = re.search(r"power-limited to (\d+) ?W", row["gpu"])
    return float(m.group(1)) if m else None


# Bandwidth gpt-fast measured on its power-capped A100s (row mb-080: ~1700 GB/s at 330 W); the rows
# run under that cap are scored with it, and the A100's own memory efficiency stays uncapped.
CAPPED_BANDWIDTH = {("a100-sxm-80gb", 330.0): 1700e9}


def capped_gpu(name: str, cap_w: float):
    """The GPU as it ran under a power cap: tensor and vector peaks scaled by cap / TDP (under a
    binding cap the driver lowers the SM clock; linear in the cap is the conservative end, since
    dynamic power falls faster than the clock), and the bandwidth measured at that cap where known."""
    g = get_gpu(name)
    scale = min(1.0, cap_w / g.tdp_watts) if g.tdp_watts else 1.0
    peaks = {k: v * scale for k, v in g.peak_flops.items()}
    upd = {}
    if (name, cap_w) in CAPPED_BANDWIDTH:
        me = CAPPED_BANDWIDTH[(name, cap_w)] / g.memory_bandwidth
        upd["memory_efficiency"] = g.factors.memory_efficiency.model_copy(update={"value": me, "basis": "measured"})
    return g.model_copy(update={"peak_flops": peaks, "factors": g.factors.model_copy(update=upd)})


def case(row: dict) -> Case:
    if row["source"].startswith(SERVING_SOURCES):
        return Case(row, skip="serving row: predicted by the serving simulator, not a static estimate")
    gpu = _lookup(GPUS, row["gpu"])
    if gpu is None:
        return Case(row, skip=f"GPU '{row['gpu']}' not in the catalog")
    cap = power_cap_w(row)
    if row["id"].startswith("mb-"):
        return _kernel_case(row, gpu, cap)
    model = _lookup(MODELS, row["model"])
    if model is None:
        return Case(row, skip=f"model '{row['model']}' not in the catalog")
    tp = _int(row["tp"], 1)
    wd, kvd = row["weight_dtype"], row["kv_dtype"]
    kw: dict = dict(model=model, gpu=gpu, tp=tp)
    tags = ["tp>1" if tp > 1 else "tp=1"]
    if wd.startswith("fp8") and row["act_dtype"].startswith("fp8"):  # TensorRT-LLM FP8: weights, activations, KV
        kw.update(weight_dtype="fp8", activation_dtype="fp8", kv_cache_dtype="fp8")
        tags.append("fp8 W8A8")
    elif wd.startswith("fp8"):  # calm: e5m2 weights converted to fp16 in the matvec
        kw.update(dtype="fp16", weight_dtype="fp8", activation_dtype="fp16")
        tags.append("quantized weight-only")
    elif wd.startswith("int8"):
        kw.update(weight_dtype="int8")
        tags.append("quantized weight-only")
    elif wd.startswith("int4 g32"):  # 4-bit + bf16 scale and zero per 32 weights: 4 + 32/32 = 5 bits
        kw.update(weight_dtype="int4", weight_bits=5.0)
        tags.append("quantized weight-only")
    elif wd.startswith("gf4"):  # calm: 8 values per 32-bit word incl. the group scale: 4.0 bits (its GB/s confirm)
        kw.update(dtype="fp16", weight_dtype="int4", weight_bits=4.0)
        tags.append("quantized weight-only")
    else:
        kw.update(dtype="fp16" if wd == "fp16" else "bf16")
    if kvd.startswith("fp8") and "kv_cache_dtype" not in kw:
        kw["kv_cache_dtype"] = "fp8"
    metric = row["metric"]
    if row["source"].startswith("TensorRT"):
        kw.update(batch_size=_int(row["batch_or_concurrency"], 1), input_len=_int(row["input_len"], 1),
                  output_len=_int(row["output_len"], 1))
        if metric == "ttft":
            return Case(row, kw, lambda e: e.ttft_s * 1e3, tags=(*tags, "static batch"))
        return Case(row, kw, lambda e: e.output_tokens_per_s / e.parallel["num_gpus"], tags=(*tags, "static batch"))
    if row["source"].startswith("gpt-fast"):
        kw.update(batch_size=1, input_len=5, output_len=200)
        tags.append("single stream")
        if metric == "decode_tok_s_per_user":
            return Case(row, kw, lambda e: e.workload["output_len"] / e.e2e_latency_s, tags=tuple(tags))
        return Case(row, kw, lambda e: _weights_without_embedding(e) * e.workload["output_len"] / e.e2e_latency_s / 1e9,
                    tags=tuple(tags))
    if row["source"].startswith("calm"):
        offset = _int(row["input_len"], 0)
        kw.update(batch_size=1, input_len=max(offset, 1), output_len=33)  # decode steps at positions offset..offset+31
        tags.append("single stream")
        if metric == "decode_tok_s_per_user":
            return Case(row, kw, lambda e: 1.0 / e.tpot_s, tags=tuple(tags))
        return Case(row, kw, lambda e: e.decode.bytes / e.tpot_s / 1e9, tags=tuple(tags))
    return Case(row, skip=f"no model for metric {metric}")


def load_cases(path: Path = DATA) -> list[Case]:
    with open(path) as f:
        return [case(r) for r in csv.DictReader(f)]


@dataclass
class Scored:
    case: Case
    predicted: float

    @property
    def error(self) -> float:
        """Signed relative error: predicted / measured − 1."""
        return self.predicted / self.case.measured - 1.0


def score(cases: list[Case], ideal: bool = False) -> list[Scored]:
    """Predict every row; with `ideal`, the pure roofline (model rows only)."""
    out = []
    for c in cases:
        if c.skip or (ideal and c.direct is not None):
            continue
        p = c.predict(ideal)
        if not math.isfinite(p):
            raise ValueError(f"{c.id}: non-finite prediction")
        out.append(Scored(c, p))
    return out


def group_of(s: Scored) -> str:
    c = s.case
    if "kernel" in c.tags:
        return "kernels: " + c.metric
    base = CATEGORY.get(c.metric, c.metric)
    return f"{base}, {'multi-GPU' if 'tp>1' in c.tags else '1 GPU'}"


def summary(scored: list[Scored]) -> dict[str, dict]:
    groups: dict[str, list[Scored]] = {}
    for s in scored:
        groups.setdefault(group_of(s), []).append(s)
    for s in scored:
        if "quantized weight-only" in s.case.tags:
            groups.setdefault("quantized weight-only (any metric)", []).append(s)
        if "fp8 W8A8" in s.case.tags:
            groups.setdefault("fp8 W8A8, fp8 KV (any metric)", []).append(s)
        if "kernel" not in s.case.tags:
            groups.setdefault(f"metric: {s.case.metric}", []).append(s)
    out = {}
    for k, v in sorted(groups.items()):
        errs = np.array([abs(s.error) for s in v])
        signed = np.array([s.error for s in v])
        out[k] = {"rows": len(v), "median_abs_error": float(np.median(errs)), "p90_abs_error": float(np.quantile(errs, 0.9)),
                  "median_signed_error": float(np.median(signed))}
    return out
