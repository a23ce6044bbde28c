"""Request bodies of the JSON API, derived from the one declaration of options (roofline.Scenario).

Field names are the CLI's long options with underscores (`tensor_parallel_size` or `tp`,
`batch_size`, ...), each with the Scenario's help text and unit, so a command line translates one
to one and /docs explains every field. Range checks are the core's (the CLI's messages); these
models check types.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..options import BY_NAME, DEFAULT_GPU, PARALLEL_OWN
from ..scenario import Scenario

NOT_ON_THE_WEB = ("calibration",)  # a file path: the server never reads a file named in a request


def _fields(exclude: tuple[str, ...] = ()) -> dict:
    out = {}
    for name, f in Scenario.model_fields.items():
        if name in ("model", "gpu", *NOT_ON_THE_WEB, *exclude):
            continue
        extra = dict(f.json_schema_extra or {})
        unit = extra.get("unit")
        desc = f.description + (f" Unit: {unit}." if unit else "")
        kind = BY_NAME[name].type  # the declared type (Python also takes specs where this is free-form)
        str_cap = {"max_length": 200} if kind in (Optional[str], str) else {}
        out[name] = (kind, Field(default=f.default, description=desc, validation_alias=f.validation_alias,
                                 json_schema_extra=extra, **str_cap))
    return out


class Job(BaseModel):
    """The model: a catalog name, or an inline config.json."""

    model_config = ConfigDict(extra="forbid")

    model: Optional[str] = Field(default=None, max_length=200,
                                 description="Catalog model name or alias (GET /api/models). Never a path or URL.")
    config: Optional[dict[str, Any]] = Field(default=None, description="An inline HF config.json object, instead of `model`.")

    def scenario_options(self) -> dict:
        """The Scenario fields this request sets (model and GPU aside)."""
        names = set(Scenario.model_fields) - {"model", "gpu", *NOT_ON_THE_WEB}
        return {k: v for k, v in self.__dict__.items() if k in names}


class GpuList(BaseModel):
    gpu: Union[str, list[str]] = Field(default=DEFAULT_GPU, description="GPU name or alias, a comma list, or a list.")

    def gpu_names(self) -> list[str]:
        raw = self.gpu.split(",") if isinstance(self.gpu, str) else self.gpu
        return [g.strip() for g in raw if isinstance(g, str) and g.strip()]


Workload = create_model("Workload", __base__=(Job, GpuList), __doc__="Every estimate option: charts, report.", **_fields())


class EstimateRequest(Workload):
    explain: bool = Field(default=False, description="Include the explain trace and the per-operator rows.")


_ParallelBase = create_model("ParallelBase", __base__=Job, **_fields(PARALLEL_OWN))


class ParallelRequest(_ParallelBase):
    """`roofline parallel`: every split of the model over N GPUs, ranked, one recommended."""

    gpu: str = Field(default=DEFAULT_GPU, max_length=200, description="GPU name or alias.")
    num_gpus: Optional[int] = Field(default=None, description="GPUs to split over; default: the fewest on which a split fits. Unit: GPUs.")
    objective: Literal["throughput", "latency"] = Field(default="throughput", description="Rank fitting splits by throughput or latency.")
    max_ttft: Optional[float] = Field(default=None, description="Longest acceptable TTFT. Unit: seconds.")
    max_tpot: Optional[float] = Field(default=None, description="Longest acceptable time per output token. Unit: seconds.")
    no_expert_parallel: bool = Field(default=False, description="MoE models: do not try expert-parallel splits.")

    def scenario_options(self) -> dict:
        return {k: v for k, v in super().scenario_options().items() if k not in PARALLEL_OWN}


class PlotRequest(Workload):
    format: Literal["json", "png", "svg"] = Field(default="json", description="json: data and a Plotly figure; png/svg: the image.")
    points: int = Field(default=256, description="Points of a sweep (batch, crossover, prefill).")
    max_batch: Optional[int] = Field(default=None, description="Largest batch of the sweep (batch, crossover). Unit: sequences.")
    max_input_len: Optional[int] = Field(default=None, description="Longest prompt of the sweep (prefill). Unit: tokens.")
    batches: Optional[list[int]] = Field(default=None, description="Batch settings (memory). Unit: sequences.")
    input_lens: Optional[list[int]] = Field(default=None, description="Prompt lengths (memory). Unit: tokens.")
    output_lens: Optional[list[int]] = Field(default=None, description="Output lengths (memory). Unit: tokens.")
    models: Optional[list[str]] = Field(default=None, description="Catalog models to compare (precisions).")
    weight_dtypes: Optional[list[str]] = Field(default=None, description="Weight formats to compare (precisions).")
    capacity_gpus: Optional[list[str]] = Field(default=None, description="GPUs whose capacities are drawn (precisions).")
