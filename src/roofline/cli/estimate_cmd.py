"""`roofline estimate`: one model on one GPU (or a comparison across several)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

MODEL_HELP = "Catalog name or alias (`roofline models`), HF repo id, or a path to a config.json."

GpuOpt = Annotated[str, typer.Option("--gpu", "-g", help="GPU name or alias (`roofline gpus`); a comma list compares GPUs.")]
TpOpt = Annotated[int, typer.Option("--tensor-parallel-size", "-tp", help="Tensor-parallel GPUs: split heads, MLP and vocab.")]
PpOpt = Annotated[int, typer.Option("--pipeline-parallel-size", "-pp", help="Pipeline-parallel stages: split layers (uneven splits allowed).")]
DpOpt = Annotated[int, typer.Option("--data-parallel-size", "-dp", help="Data-parallel replicas: each serves batch / dp sequences.")]
EpFlag = Annotated[bool, typer.Option("--enable-expert-parallel", help="MoE: spread whole experts over the tp × dp GPUs (EP = tp × dp), with all-to-all dispatch/combine when dp > 1.")]
NumGpusOpt = Annotated[Optional[int], typer.Option("--num-gpus", help="GPUs in the deployment; the GPUs beyond tp × pp become data-parallel replicas.")]
GpusPerNodeOpt = Annotated[Optional[int], typer.Option("--gpus-per-node", help="GPUs per server; groups larger than this cross the network. Default: the GPU's NVLink domain, at least 8.")]
InterNodeOpt = Annotated[Optional[str], typer.Option("--inter-node-link", help="Network between nodes (links.toml key: ib-hdr, ib-ndr, ib-xdr, roce-100, roce-200, roce-400); default: the GPU's usual one.")]
MicroOpt = Annotated[Optional[int], typer.Option("--num-micro-batches", help="Pipeline micro-batches per step; default min(batch per replica, pp).")]
SpecModelOpt = Annotated[Optional[str], typer.Option("--speculative-model", help="Speculative decoding drafter: a model sharing the target's vocabulary, `mtp` (one extra target layer) or `ngram`.")]
SpecTokensOpt = Annotated[Optional[int], typer.Option("--num-speculative-tokens", help="Tokens the drafter proposes per step (k).")]
AcceptOpt = Annotated[Optional[float], typer.Option("--acceptance-rate", help="Probability the target accepts a drafted token, in [0, 1].")]
DtypeOpt = Annotated[Optional[str], typer.Option("--dtype", help="Model dtype: auto (bf16, else fp16), bfloat16/bf16, float16/half/fp16, float32.")]
WeightOpt = Annotated[Optional[str], typer.Option("--weight-dtype", help="Linear-weight format: fp8, int8, int4 (g128), fp4 (nvfp4), mxfp4; default: --dtype.")]
WBitsOpt = Annotated[Optional[float], typer.Option("--weight-bits", help="Effective bits per weight, scales included (EXL2 4.65, GGUF Q4_0 4.5).")]
ActOpt = Annotated[Optional[str], typer.Option("--activation-dtype", help="Quantize GEMM inputs: fp8, int8 (W8A8), fp4; default: native fp8/fp4 where the GPU has it, else --dtype.")]
KvOpt = Annotated[Optional[str], typer.Option("--kv-cache-dtype", help="KV cache format: auto (= --dtype), fp8, fp8_e4m3, fp8_e5m2, int8, int4.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", help="Sequences processed together (static batch).")]
InOpt = Annotated[int, typer.Option("--input-len", help="Prompt tokens per sequence.")]
OutOpt = Annotated[int, typer.Option("--output-len", help="Generated tokens per sequence.")]
UtilOpt = Annotated[float, typer.Option("--gpu-memory-utilization", help="Fraction of GPU memory usable (vLLM's default is 0.9).")]
IdealOpt = Annotated[bool, typer.Option("--ideal", help="Pure roofline: datasheet peaks, no efficiencies or overheads.")]
ExplainOpt = Annotated[bool, typer.Option("--explain", help="Print every figure's formula with the numbers substituted.")]
OpsOpt = Annotated[bool, typer.Option("--ops", help="Print the per-operator table (FLOPs, bytes, intensity, time, bound).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object (a list for several GPUs), SI units.")]


def register(app: typer.Typer) -> None:
    @app.command(help="Estimate memory, TTFT, time per output token and throughput for MODEL on a GPU.")
    def estimate(
        model: Annotated[str, typer.Argument(help=MODEL_HELP)],
        gpu: GpuOpt = "a100-sxm-80gb",
        tensor_parallel_size: TpOpt = 1,
        pipeline_parallel_size: PpOpt = 1,
        data_parallel_size: DpOpt = 1,
        enable_expert_parallel: EpFlag = False,
        num_gpus: NumGpusOpt = None,
        gpus_per_node: GpusPerNodeOpt = None,
        inter_node_link: InterNodeOpt = None,
        num_micro_batches: MicroOpt = None,
        speculative_model: SpecModelOpt = None,
        num_speculative_tokens: SpecTokensOpt = None,
        acceptance_rate: AcceptOpt = None,
        dtype: DtypeOpt = None,
        weight_dtype: WeightOpt = None,
        weight_bits: WBitsOpt = None,
        activation_dtype: ActOpt = None,
        kv_cache_dtype: KvOpt = None,
        batch_size: BatchOpt = 1,
        input_len: InOpt = 1024,
        output_len: OutOpt = 256,
        gpu_memory_utilization: UtilOpt = 1.0,
        ideal: IdealOpt = False,
        explain: ExplainOpt = False,
        ops: OpsOpt = False,
        json_out: JsonOpt = False,
    ) -> None:
        import json

        from ..estimates.estimate import estimate as run_estimate
        from . import render

        names = [g.strip() for g in gpu.split(",") if g.strip()]
        if not names:
            from ..errors import RooflineError

            raise RooflineError("--gpu is empty")
        kwargs = dict(tp=tensor_parallel_size, pp=pipeline_parallel_size, dtype=dtype, weight_dtype=weight_dtype,
                      weight_bits=weight_bits, activation_dtype=activation_dtype, kv_cache_dtype=kv_cache_dtype,
                      batch_size=batch_size, input_len=input_len, output_len=output_len, ideal=ideal,
                      gpu_memory_utilization=gpu_memory_utilization, dp=data_parallel_size,
                      enable_expert_parallel=enable_expert_parallel, num_gpus=num_gpus, gpus_per_node=gpus_per_node,
                      inter_node_link=inter_node_link, micro_batches=num_micro_batches, speculative_model=speculative_model,
                      num_speculative_tokens=num_speculative_tokens, acceptance_rate=acceptance_rate)
        results = [run_estimate(model, name, **kwargs) for name in names]
        if json_out:
            docs = [r.to_dict(explain=explain or ops) for r in results]
            typer.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
            return
        if len(results) == 1:
            render.estimate(results[0])
        else:
            render.comparison(results)
        if ops:
            for r in results:
                render.ops_table(r)
        if explain:
            for r in results:
                render.explain(r)
