"""Every option of a scenario, declared once: name, type, default, help, unit and CLI flags.

Plain data, no pydantic or NumPy, so the command line builds its options from it without loading
the core (`roofline --help` stays fast). roofline.Scenario (the typed, validated model), the web
API's request schema and /docs, chart and report inputs, `grid()` and the planners derive from it.
Names are vLLM's long option names with underscores; `short` names are accepted in Python and JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

DEFAULT_GPU = "a100-sxm-80gb"
MODEL_HELP = "Catalog name or alias (`roofline models`), HF repo id, or a path to a config.json."


@dataclass(frozen=True)
class Option:
    name: str
    type: Any  # what the CLI parses and the web schema shows
    default: Any
    help: str
    flags: tuple[str, ...]
    unit: str = ""
    short: str | None = None  # accepted alias in Python and JSON (tp, pp, dp, micro_batches)


OPTIONS: tuple[Option, ...] = (
    Option("gpu", str, DEFAULT_GPU, "GPU name or alias (`roofline gpus`), or `local`: this machine's GPU, found through NVML; a comma list compares GPUs.", ("--gpu", "-g")),
    Option("tensor_parallel_size", int, 1, "Tensor-parallel GPUs: split heads, MLP and vocabulary; two all-reduces "
           "per layer.", ("--tensor-parallel-size", "-tp"), "GPUs", "tp"),
    Option("pipeline_parallel_size", int, 1, "Pipeline-parallel stages: split the layers (uneven splits allowed).",
           ("--pipeline-parallel-size", "-pp"), "GPUs", "pp"),
    Option("data_parallel_size", int, 1, "Data-parallel replicas: each serves ⌈batch / dp⌉ sequences.",
           ("--data-parallel-size", "-dp"), "replicas", "dp"),
    Option("enable_expert_parallel", bool, False, "MoE: spread whole experts over the tp × dp GPUs (EP = tp × dp), "
           "with an all-to-all dispatch and combine when dp > 1.", ("--enable-expert-parallel",)),
    Option("num_gpus", Optional[int], None, "GPUs in the deployment; those beyond tp × pp become data-parallel "
           "replicas.", ("--num-gpus",), "GPUs"),
    Option("gpus_per_node", Optional[int], None, "GPUs per server; larger groups cross the network. Default: the "
           "GPU's NVLink domain, at least 8.", ("--gpus-per-node",), "GPUs"),
    Option("inter_node_link", Optional[str], None, "Network between nodes (data/links.toml key: ib-hdr, ib-ndr, "
           "ib-xdr, roce-100, roce-200, roce-400); default: the GPU's usual one.", ("--inter-node-link",)),
    Option("intra_node_link", Optional[str], None, "What the GPUs of one server talk over: nvswitch (default where "
           "the GPU has one), nvlink-bridge (2-GPU pairs of PCIe cards), pcie-gen4, pcie-gen5, pcie-gen4-no-p2p, "
           "pcie-gen5-no-p2p (PCIe cards default to plain PCIe).", ("--intra-node-link",)),
    Option("split_mode", str, "tensor", "How GPUs share the model: `tensor` (the -tp/-pp splits above) or `layer` "
           "(llama.cpp's and ExLlamaV2's default: whole layers per GPU, run one after another; memory divides, a "
           "single stream gets no speed-up).", ("--split-mode",)),
    Option("num_micro_batches", Optional[int], None, "Pipeline micro-batches per step; default min(batch per "
           "replica, pp).", ("--num-micro-batches",), "micro-batches", "micro_batches"),
    Option("speculative_model", Optional[str], None, "Speculative decoding drafter: a model sharing the target's "
           "vocabulary, `mtp` (one extra target layer) or `ngram` (prompt lookup).", ("--speculative-model",)),
    Option("num_speculative_tokens", Optional[int], None, "Tokens the drafter proposes per step (k).",
           ("--num-speculative-tokens",), "tokens"),
    Option("acceptance_rate", Optional[float], None, "Probability that the target accepts a drafted token, in "
           "[0, 1]; required with a drafter.", ("--acceptance-rate",), "probability, 0 to 1"),
    Option("dtype", Optional[str], None, "Model dtype: auto (bf16, else fp16), bfloat16/bf16, float16/half/fp16, "
           "float32.", ("--dtype",)),
    Option("weight_dtype", Optional[str], None, "Linear-weight format: fp8, int8, int4 (g128), fp4 (nvfp4), mxfp4; "
           "default: the checkpoint's format, else --dtype.", ("--weight-dtype",)),
    Option("weight_bits", Optional[float], None, "Effective bits per weight, scales included (EXL2 4.65, GGUF Q4_0 "
           "4.5).", ("--weight-bits",), "bits"),
    Option("activation_dtype", Optional[str], None, "Quantize GEMM inputs: fp8, int8 (W8A8), fp4; default: native "
           "fp8/fp4 where the GPU has it, else --dtype.", ("--activation-dtype",)),
    Option("kv_cache_dtype", Optional[str], None, "KV cache format: auto (= --dtype), fp8, fp8_e4m3, fp8_e5m2, "
           "int8, int4.", ("--kv-cache-dtype",)),
    Option("batch_size", int, 1, "Sequences processed together (static batch), shared by data-parallel replicas.",
           ("--batch-size", "-b"), "sequences"),
    Option("input_len", int, 1024, "Prompt tokens per sequence.", ("--input-len",), "tokens"),
    Option("output_len", int, 256, "Generated tokens per sequence.", ("--output-len",), "tokens"),
    Option("gpu_memory_utilization", float, 1.0, "Fraction of GPU memory usable, in (0, 1] (vLLM's default is 0.9).",
           ("--gpu-memory-utilization",), "fraction"),
    Option("calibration", Optional[str], None, "A calibration profile (TOML, from `roofline calibrate`): its measured "
           "factors replace the defaults, for its own GPU. On the command line the default is `auto`: the profile "
           "`roofline calibrate` saved for the GPU, if any; `none`: the catalog's factors. Not read by the web API.", ("--calibration",)),
    Option("ideal", bool, False, "The pure roofline: datasheet peaks, no efficiencies or overheads — the physical "
           "limit.", ("--ideal",)),
)
BY_NAME = {o.name: o for o in OPTIONS}
# What `roofline parallel` chooses itself rather than takes as options.
PARALLEL_OWN = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "enable_expert_parallel",
                "num_gpus", "num_micro_batches", "split_mode")
# What `roofline simulate` (and the web's /api/simulate) does not take from the estimate's options, and
# why: requests arrive as a workload, not a static batch; the engine schedules its own steps (no
# pipeline micro-batches); speculative decoding is not simulated; the input and output lengths and
# the memory fraction are the simulator's own (a request's longest lengths; the engine's rule).
SIMULATE_OWN = ("batch_size", "num_micro_batches", "speculative_model", "num_speculative_tokens", "acceptance_rate")

# `roofline simulate`'s own options (the workload, the engine's scheduler, disaggregation), declared
# once like the estimate's: the command line and the web's /api/simulate derive from them. Names
# and meanings are vLLM's (`vllm serve`, `vllm bench serve`) where vLLM has the option.
SERVING_OPTIONS: tuple[Option, ...] = (
    Option("engine", str, "vllm", "Serving engine whose scheduling defaults apply: vllm, sglang, trtllm.", ("--engine",)),
    Option("num_prompts", Optional[int], None, "Requests to send (default 1000, or every dataset line).",
           ("--num-prompts",), "requests"),
    Option("request_rate", Optional[float], None, "Requests per second (Poisson, or gamma with --burstiness); "
           "inf (default): all at once.", ("--request-rate",), "requests/s"),
    Option("max_concurrency", Optional[int], None, "Closed loop: at most this many requests in flight.",
           ("--max-concurrency",), "requests"),
    Option("dataset", Optional[str], None, 'JSONL file: {"input_len": N, "output_len": N[, "arrival_time": s]} '
           "per line.", ("--dataset",)),
    Option("seed", int, 0, "Random seed of lengths and arrivals: the same seed, the same result.", ("--seed",)),
    Option("random_range_ratio", float, 1.0, "Draw lengths uniformly from [ratio × L, L] (vLLM's benchmark "
           "client); 1: fixed.", ("--random-range-ratio",), "fraction"),
    Option("burstiness", float, 1.0, "Gamma shape of arrival gaps: 1 Poisson, < 1 burstier, > 1 more regular.",
           ("--burstiness",)),
    Option("max_num_batched_tokens", Optional[int], None, "Token budget of one step (default: the engine's).",
           ("--max-num-batched-tokens",), "tokens"),
    Option("max_num_seqs", Optional[int], None, "Most requests running at once (default: the engine's).",
           ("--max-num-seqs",), "requests"),
    Option("block_size", Optional[int], None, "Tokens per KV-cache block (default: the engine's).", ("--block-size",),
           "tokens"),
    Option("enable_chunked_prefill", Optional[bool], None, "Split long prompts over steps (default: the engine's).",
           ("--enable-chunked-prefill/--no-enable-chunked-prefill",)),
    Option("cuda_graph_max_bs", Optional[int], None, "Largest step replayed from a CUDA graph: tokens for vLLM, "
           "decode batch for SGLang/TensorRT-LLM (default: the engine's).", ("--cuda-graph-max-bs",)),
    Option("prefix_cache_hit_rate", float, 0.0, "Share of each prompt found in the prefix cache, in [0, 1].",
           ("--prefix-cache-hit-rate",), "fraction"),
    Option("random_prefix_len", int, 0, "Tokens every prompt starts with, shared through the prefix cache (as "
           "vllm bench serve).", ("--random-prefix-len",), "tokens"),
    Option("ttft_slo", Optional[float], None, "Time-to-first-token target (for goodput).", ("--ttft-slo",), "s"),
    Option("tpot_slo", Optional[float], None, "Time-per-output-token target (for goodput).", ("--tpot-slo",), "s"),
    Option("disaggregate", Optional[str], None, "xPyD: x prefill and y decode instances, KV moved over the "
           "network; compared with aggregated.", ("--disaggregate",)),
    Option("prefill_gpus", Optional[int], None, "Disaggregated, instead of --disaggregate: GPUs of the prefill "
           "pool (a multiple of --prefill-tp × pp); needs --decode-gpus.", ("--prefill-gpus",), "GPUs"),
    Option("decode_gpus", Optional[int], None, "Disaggregated: GPUs of the decode pool (a multiple of --decode-tp "
           "× pp); needs --prefill-gpus.", ("--decode-gpus",), "GPUs"),
    Option("prefill_tp", Optional[int], None, "Tensor-parallel size of each prefill instance (default: "
           "--tensor-parallel-size).", ("--prefill-tp",), "GPUs"),
    Option("decode_tp", Optional[int], None, "Tensor-parallel size of each decode instance (default: "
           "--tensor-parallel-size).", ("--decode-tp",), "GPUs"),
    Option("frontend", Optional[str], None, "The server requests go through, for its fitted request time: the "
           "engine's own HTTP server (default) or triton (TensorRT-LLM).", ("--frontend",)),
)
SERVING_BY_NAME = {o.name: o for o in SERVING_OPTIONS}

