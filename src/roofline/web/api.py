"""The JSON API: one endpoint per CLI command (estimate, plot, report, the catalogs, formulas).

Models come only from the catalog (names and aliases) or inline as a config.json object in the
body; nothing a request names is read from disk or fetched. Unknown names answer 404, other bad
input 422, anything over a cap 413, always as {"error": "..."}.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from ..errors import RooflineError
from .guards import HEAVY
from .responses import CleanJSONResponse
from .limits import MAX_GPUS, MAX_LIST, MAX_SPLIT, TooLarge, limits
from .schemas import EstimateRequest, ParallelRequest, PlotRequest, Workload

router = APIRouter(prefix="/api")

ERRORS = {400: {"description": "Body not UTF-8 JSON with finite numbers"}, 404: {"description": "Unknown model or GPU"},
          413: {"description": "Over a size cap"}, 422: {"description": "Bad input"}}
HEAVY_ERRORS = {**ERRORS, 503: {"description": "Busy, or over the time limit; retry later or ask for less"}}


def _not_found(fn, *args):
    """Run a name lookup; a miss (with its suggestions) becomes 404."""
    try:
        return fn(*args)
    except RooflineError as e:
        raise HTTPException(404, str(e)) from None


def catalog_model(name: str):
    """A catalog model by name or alias only: never a path, never the Hub."""
    from ..catalog import catalog_model as lookup

    return _not_found(lookup, name)


def inline_model(raw: dict):
    from ..specs.hf_config import from_hf_config

    name = raw.get("_name_or_path") if isinstance(raw.get("_name_or_path"), str) else ""
    label = (name.rsplit("/", 1)[-1][:80] or "pasted-config")
    return from_hf_config(raw, label, source="config.json in the request")


def model_of(w):
    if w.config is not None and w.model:
        raise RooflineError("give either `model` (a catalog name) or `config` (an inline config.json), not both")
    if w.config is not None:
        return inline_model(w.config)
    if not w.model:
        raise RooflineError("`model` (a catalog name or alias) or `config` (an inline config.json) is required")
    return catalog_model(w.model)


def gpus_of(w: Workload) -> list[str]:
    from ..catalog import resolve_gpu

    names = w.gpu_names()
    if not names:
        raise RooflineError("`gpu` is empty")
    if len(names) > MAX_GPUS:
        raise TooLarge(f"{len(names)} GPUs in one request; the cap is {MAX_GPUS}")
    return [_not_found(resolve_gpu, g) for g in names]


def check_split(*sizes) -> None:
    """Each size alone is checked by the core; their product bounds the work of one request."""
    total = 1
    for v in sizes:
        total *= v if isinstance(v, int) and v > 0 else 1
    if total > MAX_SPLIT:
        raise TooLarge(f"a split over {total:,} GPUs; the cap is {MAX_SPLIT:,}")


def inputs_of(w: Workload):
    from ..plots.inputs import Inputs

    check_split(w.tensor_parallel_size, w.pipeline_parallel_size, w.data_parallel_size)
    return Inputs.of(model_of(w), gpus_of(w), **{**w.scenario_options(), "speculative_model": _speculative(w.speculative_model)})


@router.get("", summary="Index of the API", tags=["meta"])
def index() -> dict:
    return {
        "endpoints": {
            "GET /api/gpus": "the GPU catalog (roofline gpus)",
            "GET /api/gpus/{name}": "one GPU (roofline show GPU)",
            "GET /api/models?q=": "the model catalog, optionally searched (roofline models)",
            "GET /api/models/{name}": "one model (roofline show MODEL)",
            "GET /api/formulas": "the quick-reference formulas (roofline formulas)",
            "POST /api/estimate": "an estimate (roofline estimate --json)",
            "POST /api/parallel": "splits over N GPUs compared (roofline parallel --json)",
            "POST /api/plot/{kind}": "a chart's data and Plotly figure, or PNG/SVG (roofline plot)",
            "POST /api/report": "the self-contained HTML report (roofline report)",
            "POST /api/simulate": "a deployment serving a request stream, simulated (roofline simulate --json)",
            "POST /api/plot/serving": "the serving chart's numbers and Plotly figure (roofline plot serving)",
            "POST /api/plan": "the cheapest deployment for a request rate and latency targets (roofline plan --json)",
            "GET /api/limits": "the caps on requests",
            "GET /api/options": "the estimate's options: name, default, meaning, unit, type, choices",
        },
        "docs": "/docs", "openapi": "/openapi.json",
    }


@router.get("/options", summary="The estimate's options: name, default, meaning, unit, type and choices", tags=["meta"])
def get_options(command: Literal["estimate", "parallel", "plot", "simulate"] = "estimate") -> dict:
    """One declaration of the options for every client: the page builds its controls and defaults
    from it. `command=parallel` gives the planner's (POST /api/parallel), `plot` the charts'."""
    from .options import options

    return options(command)


@router.get("/limits", summary="Caps on request size", tags=["meta"])
def get_limits() -> dict:
    return limits()


@router.get("/gpus", summary="The GPU catalog", tags=["catalog"])
def gpus() -> list[dict]:
    from ..catalog import all_gpus

    return [{"name": g.name, "display_name": g.display_name, "aliases": g.aliases, "vendor": g.vendor,
             "memory_bytes": g.memory_bytes, "memory_bandwidth": g.memory_bandwidth, "peak_flops": g.peak_flops}
            for g in all_gpus()]


@router.get("/gpus/{name}", summary="One GPU: figures, peaks, links, factors and sources", tags=["catalog"], responses=ERRORS)
def gpu(name: str) -> dict:
    from ..catalog import get_gpu

    g = _not_found(get_gpu, name)
    doc = g.model_dump()
    doc["ridge_points"] = {dt: v / g.memory_bandwidth for dt, v in g.peak_flops.items()}
    return doc


@lru_cache(maxsize=1)
def _model_rows() -> list[dict]:
    from ..catalog import all_models
    from ..catalog import model_summary  # the same rows as `roofline models --json`

    return [model_summary(n) for n in all_models()]


@router.get("/models", summary="The model catalog, optionally searched", tags=["catalog"])
def models(q: str = "") -> list[dict]:
    rows = _model_rows()
    needle = q.strip().lower()
    if not needle:
        return rows
    return [r for r in rows if needle in " ".join([r["name"], r["display_name"], *r["aliases"]]).lower()]


@router.get("/models/{name:path}", summary="One model: shapes, parameters, KV cache", tags=["catalog"], responses=ERRORS)
def model(name: str) -> dict:
    from ..cost.params import count_params

    m = catalog_model(name)
    p = count_params(m)
    doc = m.model_dump()
    doc["params"] = {"total": p.total, "active": p.active, "active_excluding_embedding": p.active_excluding_embedding,
                     "embedding": p.embedding, "layers": p.layers, "lm_head": p.lm_head}
    return doc


@router.get("/formulas", summary="The quick-reference formulas with worked examples", tags=["catalog"])
def formulas() -> list[dict]:
    from ..estimates.formulas import formulas as compute

    return [f.to_dict() for f in compute()]


def _speculative(name: str | None):
    """A drafter: `mtp`, `ngram`, or a catalog model (never a path)."""
    if name is None or not name.strip() or name.strip().lower() in ("mtp", "ngram"):
        return name
    return catalog_model(name)


@router.post("/estimate", summary="Memory, TTFT, TPOT, throughput and bounds (one GPU: an object; several: a list)",
             tags=["estimate"], responses=ERRORS)
def estimate(req: EstimateRequest) -> Any:
    from ..scenario import Scenario

    check_split(req.tensor_parallel_size, req.pipeline_parallel_size, req.data_parallel_size)
    check_split(req.num_gpus)
    model = model_of(req)
    options = {**req.scenario_options(), "speculative_model": _speculative(req.speculative_model)}
    docs = [Scenario.of(model, g, **options).estimate().to_dict(explain=req.explain) for g in gpus_of(req)]
    return docs[0] if len(docs) == 1 else docs


@router.post("/parallel", summary="Every tensor/pipeline/data(/expert)-parallel split over N GPUs, ranked, one recommended",
             tags=["parallel"], responses=HEAVY_ERRORS)
async def parallel(req: ParallelRequest) -> dict:
    check_split(req.num_gpus)
    return await HEAVY.run(_parallel, req)


def _parallel(req: ParallelRequest) -> CleanJSONResponse:
    from ..catalog import resolve_gpu
    from ..estimates.parallel_plan import plan

    p = plan(model_of(req), _not_found(resolve_gpu, req.gpu), num_gpus=req.num_gpus, objective=req.objective,
             max_ttft=req.max_ttft, max_tpot=req.max_tpot, allow_ep=not req.no_expert_parallel,
             **{**req.scenario_options(), "speculative_model": _speculative(req.speculative_model)})
    return CleanJSONResponse(p.to_dict())  # serialized here, in the worker thread


def _chart_options(kind: str, req: PlotRequest) -> dict:
    from ..estimates.sweep import MAX_POINTS

    if req.points > MAX_POINTS:
        raise TooLarge(f"a sweep of {req.points:,} points exceeds the cap of {MAX_POINTS:,}")
    for field in ("batches", "input_lens", "output_lens", "models", "weight_dtypes", "capacity_gpus"):
        values = getattr(req, field)
        if values is not None and len(values) > MAX_LIST:
            raise TooLarge(f"{field} has {len(values)} entries; the cap is {MAX_LIST}")
    if kind in ("batch", "crossover"):
        return {"max_batch": req.max_batch, "points": req.points}
    if kind == "prefill":
        return {"max_input_len": req.max_input_len, "points": req.points}
    if kind == "memory":
        return {"batches": req.batches, "input_lens": req.input_lens, "output_lens": req.output_lens}
    if kind == "precisions":
        from ..catalog import resolve_gpu
        from ..plots.precisions_chart import DEFAULT_CAPACITY_GPUS

        models = [catalog_model(m) for m in req.models] if req.models else None
        caps = [_not_found(resolve_gpu, g) for g in req.capacity_gpus] if req.capacity_gpus else [*gpus_of(req), *DEFAULT_CAPACITY_GPUS]
        return {"models": models, "weight_dtypes": req.weight_dtypes, "capacity_gpus": caps}
    return {}


@router.post("/plot/{kind}", summary="A chart: its numbers and a Plotly figure (format=json), or a PNG/SVG image",
             tags=["plot"], responses=HEAVY_ERRORS)
async def plot(kind: str, req: PlotRequest) -> Any:
    from ..plots import check_kind

    try:
        kind = check_kind(kind)
    except RooflineError as e:
        raise HTTPException(404, str(e)) from None
    return await HEAVY.run(_plot, kind, req)


def _plot(kind: str, req: PlotRequest) -> Any:
    from ..plots import build

    chart = build(kind, inputs_of(req), **_chart_options(kind, req))
    if req.format == "json":
        # serialized here, in the worker thread, not on the event loop
        return CleanJSONResponse({"kind": kind, "title": chart.title, "data": chart.to_dict(), "figure": chart.plotly()})
    import io

    buffer = io.BytesIO()
    chart.figure().savefig(buffer, format=req.format)
    media = "image/png" if req.format == "png" else "image/svg+xml"
    return Response(buffer.getvalue(), media_type=media)


@router.post("/report", summary="The self-contained HTML report", tags=["report"], responses=HEAVY_ERRORS,
             response_class=HTMLResponse)
async def report(req: Workload) -> HTMLResponse:
    from ..report import render_report

    return await HEAVY.run(lambda: HTMLResponse(render_report(inputs_of(req))))
