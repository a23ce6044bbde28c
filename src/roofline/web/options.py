"""GET /api/options: the options of a command with their default, meaning, unit, type and choices.

The page builds its controls and defaults from this answer, so the CLI, the API and the page share
one declaration (roofline.Scenario, from which the web request models are derived). Names, types,
defaults, meanings, units and flags come from the request model's JSON schema; the choices of the
format and link options from the catalogs (below).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Page-irrelevant fields: an inline config has its own control; the trace is the CLI's --explain.
SKIP = ("config", "explain")



def _choices() -> dict[str, list[str]]:
    from ..catalog.links import all_links
    from ..estimates.comm import INTRA_NODE_LINKS
    from ..serving.engines import LABELS, overhead_table
    from ..specs.precision import MODEL_DTYPES

    return {
        "dtype": ["auto", *MODEL_DTYPES],
        "weight_dtype": ["fp8", "int8", "int4", "fp4", "mxfp4"],  # specs/dtypes.py: the linear-weight formats
        "activation_dtype": ["fp8", "int8", "fp4"],
        "kv_cache_dtype": ["auto", "fp8", "fp8_e4m3", "fp8_e5m2", "int8", "int4"],
        "inter_node_link": sorted(link.name for link in all_links() if link.kind == "scale-out"),
        "intra_node_link": list(INTRA_NODE_LINKS),
        "split_mode": ["tensor", "layer"],
        "engine": list(LABELS),
        "frontend": [name for row in overhead_table().values() for name in (row["frontend"], *row.get("frontends", {}))],
    }


def _type(prop: dict) -> str:
    kinds = [p.get("type") for p in prop.get("anyOf", [prop])]
    kinds = [k for k in kinds if k and k != "null"]
    if "array" in kinds and "string" in kinds:
        return "string"  # `gpu`: a name, a comma list or a list
    return {"integer": "int", "number": "float", "boolean": "bool", "string": "string"}.get(kinds[0] if kinds else "", "string")


@lru_cache(maxsize=3)
def options(command: str = "estimate") -> dict:
    """`command`: "estimate" (POST /api/estimate), "parallel" (POST /api/parallel), "plot" (POST
    /api/plot/KIND) or "simulate" (POST /api/simulate)."""
    from .schemas import EstimateRequest, ParallelRequest, PlotRequest
    from .serving_api import SimulateRequest

    models = {"estimate": EstimateRequest, "parallel": ParallelRequest, "plot": PlotRequest, "simulate": SimulateRequest}
    schema = models[command].model_json_schema()
    choices = _choices()
    fields = []
    for name, prop in schema["properties"].items():
        if name in SKIP:
            continue
        fields.append({
            "name": name,
            "default": prop.get("default"),
            "help": _help(prop),
            "unit": prop.get("unit") or _unit_in(prop.get("description", "")),
            "type": _type(prop),
            "choices": prop.get("enum") or choices.get(name),
            "flags": prop.get("flags", []),
        })
    return {"fields": fields}


UNIT_NOTE = re.compile(r"\s*Unit: ([^.]+)\.\s*$")


def _help(prop: dict) -> str:
    """The description without its trailing "Unit: …." (the unit has its own key)."""
    return UNIT_NOTE.sub("", prop.get("description", "") or "")


def _unit_in(description: str) -> str:
    m = UNIT_NOTE.search(description or "")
    return m.group(1) if m else ""
