"""Command-line options derived from roofline.Scenario: each option is declared once there, with
its flags, help and default, and every command that takes it gets it from here.

    params = scenario_params(exclude=("gpu",))        # inspect.Parameters with typer.Option annotations
    fn = command(body, [model_argument(), *params, *own])
"""

import inspect
from typing import Annotated, Any, Callable, Optional, get_args, get_origin

import typer

from ..scenario import DEFAULT_GPU, MODEL_HELP, Scenario

JSON_OPTION = Annotated[bool, typer.Option("--json", help="One JSON object, SI units.")]


def _cli_type(name: str, annotation) -> Any:
    """The type typer parses for a field: free-form fields (model, GPU, drafter) are text."""
    if annotation is Any:
        return str if name == "gpu" else Optional[str]
    return annotation


def scenario_params(exclude: tuple[str, ...] = (), overrides: dict | None = None) -> list[inspect.Parameter]:
    """One keyword parameter per Scenario field (the model aside), as typer options."""
    overrides = overrides or {}
    out = []
    for name, f in Scenario.model_fields.items():
        if name == "model" or name in exclude:
            continue
        if name in overrides:
            out.append(overrides[name])
            continue
        flags = (f.json_schema_extra or {}).get("flags", [])
        unit = (f.json_schema_extra or {}).get("unit")
        help_text = f.description + (f" [{unit}]" if unit and unit != "fraction" else "")
        kind = _cli_type(name, f.annotation)
        default = f.default if name != "gpu" else DEFAULT_GPU
        out.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                     annotation=Annotated[kind, typer.Option(*flags, help=help_text)]))
    return out


def model_argument(help_text: str = MODEL_HELP) -> inspect.Parameter:
    return inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                             annotation=Annotated[str, typer.Argument(help=help_text)])


def param(name: str, annotation, default=inspect.Parameter.empty) -> inspect.Parameter:
    kind = inspect.Parameter.KEYWORD_ONLY if default is not inspect.Parameter.empty else inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Parameter(name, kind, default=default, annotation=annotation)


def command(body: Callable[..., None], params: list[inspect.Parameter]) -> Callable[..., None]:
    """A function typer can register whose signature is `params`; it calls body(**values)."""
    ordered = sorted(params, key=lambda p: p.kind)  # positionals first, as Python requires

    def run(*args, **kwargs):
        bound = inspect.Signature(ordered).bind(*args, **kwargs)
        bound.apply_defaults()
        return body(**bound.arguments)

    run.__signature__ = inspect.Signature(ordered)
    run.__annotations__ = {p.name: p.annotation for p in ordered}
    run.__name__ = body.__name__
    run.__doc__ = body.__doc__
    return run


def scenario_values(values: dict) -> dict:
    """The Scenario fields among a command's parsed values."""
    return {k: v for k, v in values.items() if k in Scenario.model_fields and k not in ("model", "gpu")}


def is_optional(annotation) -> bool:
    return get_origin(annotation) is not None and type(None) in get_args(annotation)


def annotated(name: str):
    """The typer annotation of one Scenario field, for commands that declare options by hand."""
    return next(p.annotation for p in scenario_params() if p.name == name)
