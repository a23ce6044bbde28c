"""The serving endpoints of the JSON API: a simulation, the serving chart and the planner.

    POST /api/simulate       roofline simulate --json (one deployment under a request stream)
    POST /api/plot/serving   roofline plot serving: the chart's numbers and Plotly figure
    POST /api/plan           roofline plan --json

Request fields are the CLI's long options with underscores. Each simulation is held to a few
thousand requests and the planner to a few GPUs' worth of candidates, so a request stays fast.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Union

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, create_model

from ..options import SIMULATE_OWN
from .schemas import _fields

from ..estimates.result import clean
from .limits import MAX_GPUS, TooLarge

router = APIRouter(prefix="/api")

MAX_PROMPTS = 5000  # requests in one simulation
MAX_CHART_PROMPTS = 500  # per run of the serving chart (it simulates about twenty runs)
MAX_PLAN_GPUS = 16
MAX_PLAN_PROMPTS = 500
MAX_POOL = 256  # GPUs (or instances) in one pool of a disaggregated simulation


class ServingJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Optional[str] = Field(default=None, max_length=200, description="Catalog model name or alias.")
    config: Optional[dict[str, Any]] = Field(default=None, description="An inline HF config.json object, instead of `model`.")
    input_len: int = 1024
    output_len: int = 256
    engine: str = Field(default="vllm", max_length=20, description="vllm, sglang or tensorrt-llm (trtllm)")
    seed: int = 0


# The estimate's options a simulation takes, from the one declaration (roofline/options.py); the
# workload and memory fraction are the simulator's own (options.SIMULATE_OWN says why).
_ESTIMATE_FIELDS = _fields(SIMULATE_OWN + ("input_len", "output_len", "gpu_memory_utilization"))
_DeploymentBase = create_model("DeploymentBase", __base__=ServingJob, **_ESTIMATE_FIELDS)


class Deployment(_DeploymentBase):
    gpu: str = Field(default="h100-sxm", max_length=60, description="GPU name or alias.")
    max_num_batched_tokens: Optional[int] = Field(default=None, description="Token budget of one step (default: the "
                                                  "engine's). Unit: tokens.")
    max_num_seqs: Optional[int] = Field(default=None, description="Most requests running at once (default: the engine's).")

    def options(self) -> dict:
        estimate = {k: getattr(self, k) for k in _ESTIMATE_FIELDS}
        return dict(input_len=self.input_len, output_len=self.output_len, engine=self.engine, seed=self.seed,
                    max_num_batched_tokens=self.max_num_batched_tokens, max_num_seqs=self.max_num_seqs, **estimate)


class SimulateRequest(Deployment):
    num_prompts: int = 500
    request_rate: Optional[float] = Field(default=None, description="requests/s; null: all at once (offline)")
    max_concurrency: Optional[int] = None
    random_range_ratio: float = 1.0
    prefix_cache_hit_rate: float = 0.0
    random_prefix_len: int = Field(default=0, description="Tokens every prompt starts with, shared through the prefix cache.")
    ttft_slo: Optional[float] = None
    tpot_slo: Optional[float] = None
    disaggregate: Optional[str] = Field(default=None, max_length=20, description="xPyD, e.g. 1P3D")
    prefill_gpus: Optional[int] = Field(default=None, description="GPUs of the prefill pool, instead of `disaggregate` "
                                        "(with decode_gpus); a multiple of prefill_tp × pp")
    decode_gpus: Optional[int] = Field(default=None, description="GPUs of the decode pool (with prefill_gpus)")
    prefill_tp: Optional[int] = Field(default=None, description="tp of each prefill instance (default: tensor_parallel_size)")
    decode_tp: Optional[int] = Field(default=None, description="tp of each decode instance (default: tensor_parallel_size)")


class ServingChartRequest(Deployment):
    num_prompts: int = 300
    request_rate: Optional[float] = Field(default=None, description="the run drawn over time; default 80% of saturation")


class PlanRequest(ServingJob):
    request_rate: float
    ttft_slo: Optional[float] = None
    tpot_slo: Optional[float] = None
    gpus: Optional[Union[str, list[str]]] = None
    max_gpus: int = 8
    weight_dtypes: Optional[list[str]] = None
    kv_cache_dtypes: Optional[list[str]] = None
    disaggregate: bool = True
    num_prompts: int = 150
    prices: Optional[dict[str, float]] = Field(default=None, description="{gpu: US dollars per GPU-hour} over the built-in prices")


def _model(req):
    from .api import model_of

    return model_of(req)


def _cap(name: str, value, cap: int) -> None:
    if isinstance(value, int) and value > cap:
        raise TooLarge(f"{name} = {value:,} exceeds the cap of {cap:,}")


@router.post("/simulate", summary="One deployment serving a stream of requests, simulated (roofline simulate --json)",
             tags=["serving"])
def simulate(req: SimulateRequest) -> dict:
    from ..serving import simulate as run
    from .api import check_split

    _cap("num_prompts", req.num_prompts, MAX_PROMPTS)
    check_split(req.tensor_parallel_size, req.pipeline_parallel_size, req.data_parallel_size)
    _cap_pools(req)
    r = run(_model(req), req.gpu, num_prompts=req.num_prompts,
            request_rate=math.inf if req.request_rate is None else req.request_rate, max_concurrency=req.max_concurrency,
            random_range_ratio=req.random_range_ratio, prefix_cache_hit_rate=req.prefix_cache_hit_rate,
            random_prefix_len=req.random_prefix_len, ttft_slo=req.ttft_slo, tpot_slo=req.tpot_slo,
            disaggregate=req.disaggregate, prefill_gpus=req.prefill_gpus, decode_gpus=req.decode_gpus,
            prefill_tp=req.prefill_tp, decode_tp=req.decode_tp, **req.options())
    return clean(r.to_dict())


def _cap_pools(req: SimulateRequest) -> None:
    from ..serving.pools import parse_layout

    for name in ("prefill_gpus", "decode_gpus", "prefill_tp", "decode_tp"):
        _cap(name, getattr(req, name), MAX_POOL)
    if req.disaggregate is not None:
        x, y = parse_layout(req.disaggregate)
        _cap("prefill instances", x, MAX_POOL)
        _cap("decode instances", y, MAX_POOL)


@router.post("/plot/serving", summary="The serving chart: throughput vs interactivity, latency vs rate, one run over time",
             tags=["serving"])
def serving_chart(req: ServingChartRequest) -> dict:
    from ..plots.serving_chart import build

    _cap("num_prompts", req.num_prompts, MAX_CHART_PROMPTS)
    chart = build(_model(req), req.gpu, request_rate=req.request_rate, num_prompts=req.num_prompts, **req.options())
    return {"kind": "serving", "title": chart.title, "data": clean(chart.to_dict()), "figure": clean(chart.plotly())}


@router.post("/plan", summary="The cheapest deployment for a request rate and latency targets (roofline plan --json)",
             tags=["serving"])
def plan(req: PlanRequest) -> dict:
    from ..catalog.prices import with_overrides
    from ..planning import plan as make_plan

    _cap("max_gpus", req.max_gpus, MAX_PLAN_GPUS)
    _cap("num_prompts", req.num_prompts, MAX_PLAN_PROMPTS)
    gpus = req.gpus.split(",") if isinstance(req.gpus, str) else req.gpus
    if gpus is not None and len(gpus) > MAX_GPUS:
        raise TooLarge(f"{len(gpus)} GPU types in one plan; the cap is {MAX_GPUS}")
    r = make_plan(_model(req), request_rate=req.request_rate, input_len=req.input_len, output_len=req.output_len,
                  ttft_slo=req.ttft_slo, tpot_slo=req.tpot_slo, gpus=gpus, max_gpus=req.max_gpus, engine=req.engine,
                  prices=with_overrides(req.prices), weight_dtypes=req.weight_dtypes, kv_cache_dtypes=req.kv_cache_dtypes,
                  disaggregate=req.disaggregate, num_prompts=req.num_prompts, seed=req.seed)
    return r.to_dict()
