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

from ..options import SERVING_BY_NAME, SERVING_OPTIONS, SIMULATE_OWN
from .schemas import _fields

from ..estimates.result import clean
from .limits import MAX_GPUS, TooLarge

router = APIRouter(prefix="/api")

MAX_PROMPTS = 5000  # requests in one simulation
MAX_CHART_PROMPTS = 500  # per run of the serving chart (it simulates about twenty runs)
MAX_PLAN_GPUS = 16
MAX_PLAN_PROMPTS = 500
MAX_POOL = 256  # GPUs (or instances) in one pool of a disaggregated simulation


def _serving_field(name: str):
    """The field of one serving option, from the one declaration (options.SERVING_OPTIONS)."""
    o = SERVING_BY_NAME[name]
    cap = {"max_length": 40} if o.type in (str, Optional[str]) else {}
    extra = {"flags": list(o.flags), **({"unit": o.unit} if o.unit else {})}
    return o.type, Field(default=o.default, description=o.help + (f" Unit: {o.unit}." if o.unit else ""),
                         json_schema_extra=extra, **cap)


class ServingJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Optional[str] = Field(default=None, max_length=200, description="Catalog model name or alias.")
    config: Optional[dict[str, Any]] = Field(default=None, description="An inline HF config.json object, instead of `model`.")
    input_len: int = 1024
    output_len: int = 256
    engine: str = _serving_field("engine")[1]
    seed: int = _serving_field("seed")[1]


# The estimate's options a simulation takes, from the one declaration (roofline/options.py); the
# workload and memory fraction are the simulator's own (options.SIMULATE_OWN says why).
_ESTIMATE_FIELDS = _fields(SIMULATE_OWN + ("input_len", "output_len", "gpu_memory_utilization"))
_DeploymentBase = create_model("DeploymentBase", __base__=ServingJob, **_ESTIMATE_FIELDS)


class Deployment(_DeploymentBase):
    gpu: str = Field(default="h100-sxm", max_length=60, description="GPU name or alias.")
    max_num_batched_tokens: Optional[int] = _serving_field("max_num_batched_tokens")[1]
    max_num_seqs: Optional[int] = _serving_field("max_num_seqs")[1]

    def options(self) -> dict:
        estimate = {k: getattr(self, k) for k in _ESTIMATE_FIELDS}
        return dict(input_len=self.input_len, output_len=self.output_len, engine=self.engine, seed=self.seed,
                    max_num_batched_tokens=self.max_num_batched_tokens, max_num_seqs=self.max_num_seqs, **estimate)


# A simulation's own fields, from the one declaration (options.SERVING_OPTIONS); a dataset is a file
# path, which the server never reads, and the Deployment above already has the engine's and seed.
NOT_SIMULATED_ON_THE_WEB = ("dataset",)
_SERVING_FIELDS = {o.name: _serving_field(o.name) for o in SERVING_OPTIONS
                   if o.name not in (*NOT_SIMULATED_ON_THE_WEB, *Deployment.model_fields)}
SimulateRequest = create_model("SimulateRequest", __base__=Deployment, **_SERVING_FIELDS)


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
    serving = {name: getattr(req, name) for name in _SERVING_FIELDS}
    if serving["request_rate"] is None:
        serving["request_rate"] = math.inf  # null: all at once (offline)
    r = run(_model(req), req.gpu, **serving, **req.options())
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
