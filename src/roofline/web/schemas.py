"""Request bodies of the JSON API. Field names are the CLI's long options with underscores
(`tensor_parallel_size` or `tp`, `batch_size`, `input_len`, ...), so a command line translates
one to one. Range checks are the core's (the same messages as the CLI); these models check types."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class Job(BaseModel):
    """Model, formats and workload: what every request shares."""

    model_config = ConfigDict(extra="forbid")

    model: Optional[str] = Field(default=None, max_length=200,
                                 description="Catalog model name or alias (GET /api/models). Never a path or URL.")
    config: Optional[dict[str, Any]] = Field(default=None, description="An inline HF config.json object, instead of `model`.")
    dtype: Optional[str] = Field(default=None, max_length=40, description="auto, bf16, fp16, fp32")
    weight_dtype: Optional[str] = Field(default=None, max_length=40, description="fp8, int8, int4, fp4, mxfp4; default dtype")
    weight_bits: Optional[float] = None
    activation_dtype: Optional[str] = Field(default=None, max_length=40)
    kv_cache_dtype: Optional[str] = Field(default=None, max_length=40)
    batch_size: int = 1
    input_len: int = 1024
    output_len: int = 256
    gpu_memory_utilization: float = 1.0

    def job_options(self) -> dict:
        return dict(dtype=self.dtype, weight_dtype=self.weight_dtype, weight_bits=self.weight_bits,
                    activation_dtype=self.activation_dtype, kv_cache_dtype=self.kv_cache_dtype,
                    batch_size=self.batch_size, input_len=self.input_len, output_len=self.output_len,
                    gpu_memory_utilization=self.gpu_memory_utilization)


class Workload(Job):
    gpu: Union[str, list[str]] = Field(default="a100-sxm-80gb", description="GPU name or alias, a comma list, or a list.")
    tensor_parallel_size: int = Field(default=1, validation_alias=AliasChoices("tensor_parallel_size", "tp"))
    pipeline_parallel_size: int = Field(default=1, validation_alias=AliasChoices("pipeline_parallel_size", "pp"))
    ideal: bool = False

    def options(self) -> dict:
        return dict(tp=self.tensor_parallel_size, pp=self.pipeline_parallel_size, ideal=self.ideal, **self.job_options())

    def gpu_names(self) -> list[str]:
        raw = self.gpu.split(",") if isinstance(self.gpu, str) else self.gpu
        return [g.strip() for g in raw if isinstance(g, str) and g.strip()]


class ScaleOut(BaseModel):
    """Options of `roofline estimate` and `roofline parallel` beyond the charts' workload."""

    gpus_per_node: Optional[int] = Field(default=None, description="GPUs per server (default: the GPU's scale-up domain, at least 8).")
    inter_node_link: Optional[str] = Field(default=None, max_length=40, description="links.toml key: ib-hdr, ib-ndr, roce-400, ...")


class EstimateRequest(Workload, ScaleOut):
    data_parallel_size: int = Field(default=1, validation_alias=AliasChoices("data_parallel_size", "dp"))
    enable_expert_parallel: bool = False
    num_gpus: Optional[int] = Field(default=None, description="GPUs in the deployment; those beyond tp × pp are replicas.")
    num_micro_batches: Optional[int] = None
    speculative_model: Optional[str] = Field(default=None, max_length=200, description="A catalog model, `mtp` or `ngram`.")
    num_speculative_tokens: Optional[int] = None
    acceptance_rate: Optional[float] = None
    explain: bool = Field(default=False, description="Include the explain trace and the per-operator rows.")

    def estimate_options(self) -> dict:
        return {**self.options(), "dp": self.data_parallel_size, "enable_expert_parallel": self.enable_expert_parallel,
                "num_gpus": self.num_gpus, "gpus_per_node": self.gpus_per_node, "inter_node_link": self.inter_node_link,
                "micro_batches": self.num_micro_batches, "num_speculative_tokens": self.num_speculative_tokens,
                "acceptance_rate": self.acceptance_rate}


class ParallelRequest(Job, ScaleOut):
    """`roofline parallel`: every split of the model over N GPUs, ranked, one recommended."""

    gpu: str = Field(default="a100-sxm-80gb", max_length=200)
    num_gpus: Optional[int] = None
    objective: Literal["throughput", "latency"] = "throughput"
    max_ttft: Optional[float] = Field(default=None, description="Longest acceptable TTFT, seconds.")
    max_tpot: Optional[float] = Field(default=None, description="Longest acceptable time per output token, seconds.")
    no_expert_parallel: bool = False


class PlotRequest(Workload):
    format: Literal["json", "png", "svg"] = Field(default="json", description="json: data and a Plotly figure; png/svg: the image.")
    points: int = Field(default=256, description="Points of a sweep (batch, crossover, prefill).")
    max_batch: Optional[int] = Field(default=None, description="Largest batch of the sweep (batch, crossover).")
    max_input_len: Optional[int] = Field(default=None, description="Longest prompt of the sweep (prefill).")
    batches: Optional[list[int]] = Field(default=None, description="Batch settings (memory).")
    input_lens: Optional[list[int]] = Field(default=None, description="Prompt lengths (memory).")
    output_lens: Optional[list[int]] = Field(default=None, description="Output lengths (memory).")
    models: Optional[list[str]] = Field(default=None, description="Catalog models to compare (precisions).")
    weight_dtypes: Optional[list[str]] = Field(default=None, description="Weight formats to compare (precisions).")
    capacity_gpus: Optional[list[str]] = Field(default=None, description="GPUs whose capacities are drawn (precisions).")
