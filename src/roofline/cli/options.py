"""Command-line options derived from the one declaration of options (roofline/options.py): each
option is declared once there, with its type, flags, help and default, and every command that
takes it gets it from here. Plain data only, so `--help` loads neither pydantic nor NumPy.

    params = scenario_params(exclude=("gpu",))        # inspect.Parameters with typer.Option annotations
    fn = command(body, [model_argument(), *params, *own])
"""

import inspect
from typing import Annotated, Callable

import typer

from ..options import MODEL_HELP, OPTIONS


def scenario_params(exclude: tuple[str, ...] = (), overrides: dict | None = None) -> list[inspect.Parameter]:
    """One keyword parameter per option (the model aside), as typer options."""
    overrides = overrides or {}
    out = []
    for o in OPTIONS:
        if o.name in exclude:
            continue
        if o.name in overrides:
            out.append(overrides[o.name])
            continue
        help_text = o.help + (f" [{o.unit}]" if o.unit and o.unit != "fraction" else "")
        out.append(inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default,
                                     annotation=Annotated[o.type, typer.Option(*o.flags, help=help_text)]))
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
    signature = inspect.Signature(ordered)

    def run(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return body(**bound.arguments)

    run.__signature__ = signature
    run.__annotations__ = {p.name: p.annotation for p in ordered}
    run.__name__ = body.__name__
    run.__doc__ = body.__doc__
    return run


NAMES = {o.name for o in OPTIONS} - {"gpu"}


def scenario_values(values: dict) -> dict:
    """The scenario options among a command's parsed values (the GPU aside). On the command line
    no --calibration means `auto`: the profile `roofline calibrate` saved for the GPU, if any."""
    out = {k: v for k, v in values.items() if k in NAMES}
    if "calibration" in out and out["calibration"] is None:
        out["calibration"] = "auto"
    return out


def annotated(name: str):
    """The typer annotation of one option, for commands that declare options by hand."""
    return next(p.annotation for p in scenario_params() if p.name == name)
