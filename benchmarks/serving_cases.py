"""The published serving measurements as simulator runs: each client and server reproduced.

* InferenceMAX sweeps (data/serving_sweeps.csv): vLLM's benchmark_serving client, lengths drawn
  uniformly from [0.8·L, L], --max-concurrency C, --num-prompts 10·C, all sent at once; servers
  as the benchmark's scripts start them (calibration README).
* TensorRT-LLM v0.17 max-throughput (data/serving_measured.csv, trt017-*): trtllm-bench, every
  request at t = 0, the engine's max batch and token budget from trtllm-bench's own heuristic.
* TensorRT-LLM v0.14 online (trt014-*): 500 requests, Poisson arrivals at 2-32 req/s or all at once.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data"
SWEEP_MODELS = {"openai/gpt-oss-120b": ("gpt-oss-120b", "mxfp4"), "deepseek-ai/DeepSeek-R1-0528": ("deepseek-r1", "fp8")}
ENGINE = {"vllm": "vllm", "sglang": "sglang", "trtllm": "tensorrt-llm"}
MODELS = [("Llama-3.1-405B", "llama-3.1-405b"), ("Llama-3.1-70B", "llama-3.1-70b"), ("Llama-3.1-8B", "llama-3.1-8b"),
          ("Mistral-7B", "mistral-7b"), ("Mixtral-8x22B", "mixtral-8x22b"), ("Mixtral-8x7B", "mixtral-8x7b")]
GPUS = [("GH200", "gh200-144gb"), ("H200", "h200-sxm"), ("H100", "h100-sxm"), ("A100", "a100-sxm-80gb"), ("L40S", "l40s")]
# trtllm-bench's documented example run is 3,000 requests; the per-row count is not published
TRT017_REQUESTS = 3000
TRT014_REQUESTS = 500  # the v0.14 online table's caption
# The front end each table's requests went through (what request_s measures): InferenceMAX serves
# with each engine's own HTTP server (calibration README: `vllm serve`, SGLang's server,
# `trtllm-serve`); the v0.17 table ran `trtllm-bench` in-process and the v0.14 table Triton's
# tensorrtllm_backend (serving_measured.csv, `framework` column).
SWEEP_FRONTEND = {"vllm": "vllm-serve", "sglang": "sglang-server", "tensorrt-llm": "trtllm-serve"}


@dataclass
class Run:
    table: str
    key: str
    model: str
    gpu: str
    engine: str
    options: dict  # estimate options (split and formats)
    engine_options: dict
    workload: dict  # num_prompts, input_len, output_len, random_range_ratio, request_rate, max_concurrency
    measured: dict = field(default_factory=dict)  # metric -> value in SI units (per GPU where so named)

    @property
    def num_gpus(self) -> int:
        return int(self.options.get("tp", 1)) * int(self.options.get("dp", 1))

    @property
    def frontend(self) -> str:
        if self.key.startswith("trt017"):
            return "trtllm-bench"
        if self.key.startswith("trt014"):
            return "triton"
        return SWEEP_FRONTEND[self.engine]

    @property
    def source(self) -> str:
        """The measurement's source for leave-one-source-out: one engine (and version) measured by
        one harness, so that leaving it out leaves an engine or version the fit never saw."""
        if self.key.startswith("trt017"):
            return "trtllm-0.17"
        if self.key.startswith("trt014"):
            return "trtllm-0.14"
        return f"inferencemax-{self.engine}"

    @property
    def regime(self) -> str:
        """Every request at once with no client limit: max-throughput serving; requests arriving over
        time (Poisson) or from a fixed number of clients (closed loop): online serving."""
        w = self.workload
        return "max-throughput serving" if w["request_rate"] == math.inf and not w["max_concurrency"] else "online serving"


def _lookup(table, text: str) -> str:
    for sub, name in table:
        if sub in text:
            return name
    raise KeyError(text)


def _sweep_split(row: dict) -> dict:
    tp, ep, dp = int(row["tp"]), int(row["ep"]), int(row["dp"])
    if dp == tp and dp > 1:  # attention data-parallel on every GPU, experts over all of them
        return {"tp": 1, "dp": dp, "enable_expert_parallel": True}
    if ep == tp and ep > 1:
        return {"tp": tp, "enable_expert_parallel": True}
    return {"tp": tp}


def _sweep_engine(framework: str, conc: int) -> dict:
    if framework == "vllm":  # vllm serve --gpu-memory-utilization 0.9 --max-num-seqs C --max-num-batched-tokens 8192
        return {"gpu_memory_utilization": 0.9, "max_num_seqs": conc, "max_num_batched_tokens": 8192}
    if framework == "sglang":  # --chunked-prefill-size 32768 --mem-fraction-static 0.82 --max-running-requests 512 --cuda-graph-max-bs 512
        return {"max_num_batched_tokens": 32768, "gpu_memory_utilization": 0.82, "max_num_seqs": 512, "cuda_graph_max_bs": 512}
    return {}  # trtllm-serve: the engine's defaults (per-run choices are not recorded)


def sweep_runs(path: Path = DATA / "serving_sweeps.csv") -> list[Run]:
    runs: dict[str, Run] = {}
    for row in csv.DictReader(path.open()):
        key = row["id"].split(":")[0]
        if key not in runs:
            model, wdt = SWEEP_MODELS[row["model"]]
            opts = {"weight_dtype": wdt, **_sweep_split(row)}
            if row["kv_dtype"] == "fp8":
                opts["kv_cache_dtype"] = "fp8"
            conc = int(row["concurrency"])
            runs[key] = Run("InferenceMAX H200 sweeps", key, model, "h200-sxm", ENGINE[row["framework"]], opts,
                            _sweep_engine(row["framework"], conc),
                            {"num_prompts": 10 * conc, "input_len": int(row["input_len"]), "output_len": int(row["output_len"]),
                             "random_range_ratio": 0.8, "request_rate": math.inf, "max_concurrency": conc})
        runs[key].measured[row["metric"]] = float(row["value"])
    return list(runs.values())


def trtllm_bench_settings(model, prec, par, gpu, isl: int, osl: int, fraction: float) -> tuple[int, int]:
    """trtllm-bench's max_batch_size and max_num_tokens from the dataset's lengths
    (NVIDIA/TensorRT-LLM@04cba88:tensorrt_llm/bench/build/tuning.py, calc_engine_setting / finetune_setting)."""
    from roofline.cost.params import count_params

    a = model.attention
    kv_heads = 1 if a.mla else a.num_kv_heads
    kv_per_token = 2 * model.num_layers * max(par.tp, kv_heads) * a.head_dim * prec.kv_cache.bytes
    engine = count_params(model).total * prec.weight.bytes
    cache = (gpu.memory_bytes * par.tp * par.pp - engine) * fraction
    max_reqs = max(cache / (kv_per_token * (isl + osl)), 1)
    bs = min(max_reqs, 4096) / par.pp
    tokens = min(bs * (1 + isl / osl), 32768)
    step = 32 if bs < 256 else 128 if bs < 1024 else 256
    bs = max(64, math.ceil(bs / step) * step) if bs < 256 else math.ceil(bs / step) * step
    tstep = 256 if tokens < 4096 else 512 if tokens < 8192 else 1024
    tokens = max(2048, math.ceil(tokens / tstep) * tstep) if tokens < 4096 else math.ceil(tokens / tstep) * tstep
    return int(bs), int(tokens)


def trt_runs(path: Path = DATA / "serving_measured.csv") -> list[Run]:
    from roofline.estimates.estimate import setup

    out, online = [], defaultdict(dict)
    for row in csv.DictReader(path.open()):
        model, gpu = _lookup(MODELS, row["model"]), _lookup(GPUS, row["gpu"])
        tp = int(row["tp"])
        isl, osl = int(row["input_len"]), int(row["output_len"])
        if row["id"].startswith("trt017"):
            opts = {"tp": tp} | ({"weight_dtype": "fp8", "kv_cache_dtype": "fp8"} if row["weight_dtype"] == "fp8" else {"dtype": "float16"})
            s = setup(model, gpu, **opts)
            bs, tokens = trtllm_bench_settings(s.model, s.prec, s.par, s.gpu, isl, osl, 0.95)
            eng = {"max_num_seqs": bs, "max_num_batched_tokens": tokens, "gpu_memory_utilization": 0.95,
                   "enable_chunked_prefill": True}
            run = Run("TensorRT-LLM v0.17 max throughput", row["id"], model, gpu, "tensorrt-llm", opts, eng,
                      {"num_prompts": TRT017_REQUESTS, "input_len": isl, "output_len": osl, "random_range_ratio": 1.0,
                       "request_rate": math.inf, "max_concurrency": None})
            run.measured["output_tok_s_per_gpu"] = float(row["value"]) / tp
            out.append(run)
            continue
        qps = row["batch_or_concurrency"].split("=")[1]
        key = (model, tp, qps, isl, osl)
        if key not in online:
            rate = math.inf if qps == "INF" else float(qps)
            online[key] = Run("TensorRT-LLM v0.14 online (H100)", f"trt014:{model}:tp{tp}:{qps}:{isl}/{osl}", model, gpu,
                              "tensorrt-llm", {"tp": tp}, {},
                              {"num_prompts": TRT014_REQUESTS, "input_len": isl, "output_len": osl, "random_range_ratio": 1.0,
                               "request_rate": rate, "max_concurrency": None})
        scale = {"ttft_mean": 1e-3, "itl_mean": 1e-3}.get(row["metric"], 1.0 / tp)
        name = {"ttft_mean": "ttft_mean_s", "itl_mean": "itl_mean_s", "output_tok_s_total": "output_tok_s_per_gpu"}[row["metric"]]
        online[key].measured[name] = float(row["value"]) * scale
    return out + list(online.values())


def all_runs() -> list[Run]:
    return sweep_runs() + trt_runs()
