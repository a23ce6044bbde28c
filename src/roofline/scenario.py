"""The scenario: the typed, validated model of every option declared in roofline/options.py.

Each field carries its help text, its unit and its command-line flags. The CLI options of every
command (cli/options.py, from the same table), the web API's request schema and its /docs page,
chart and report inputs, `grid()` and the planners derive from that one declaration, so an option
added there reaches every surface. Field names are vLLM's long option names with underscores
(`tensor_parallel_size`); the short forms (`tp`, `pp`, `dp`, `micro_batches`) are accepted too.

    s = Scenario(model="llama-3-70b", gpu="h100", tp=4, weight_dtype="fp8", batch_size=16)
    s.estimate().tpot_s
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Annotated, Any, Optional

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, field_validator

from .errors import RooflineError
from .options import BY_NAME, DEFAULT_GPU, MODEL_HELP, OPTIONS

FREE_FORM = {"gpu": Any, "speculative_model": Any}  # names, lists or already-parsed specs in Python


def _whole(v):
    """A size is a whole number: no bool, no text, no fraction (NumPy integers are welcome)."""
    if v is None or (isinstance(v, Integral) and not isinstance(v, bool)):
        return None if v is None else int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise ValueError("must be a whole number")


def _number(v):
    """A rate or fraction is a number: no bool, no text."""
    if v is None or (isinstance(v, Real) and not isinstance(v, bool)):
        return None if v is None else float(v)
    raise ValueError("must be a number")


STRICT = {int: Annotated[int, BeforeValidator(_whole)], Optional[int]: Annotated[Optional[int], BeforeValidator(_whole)],
          float: Annotated[float, BeforeValidator(_number)],
          Optional[float]: Annotated[Optional[float], BeforeValidator(_number)]}


def _field(o):
    alias = {"validation_alias": AliasChoices(o.name, o.short)} if o.short else {}
    return (FREE_FORM.get(o.name, STRICT.get(o.type, o.type)),
            Field(default=o.default, description=o.help, json_schema_extra={"unit": o.unit, "flags": list(o.flags)}, **alias))


class _Scenario(BaseModel):
    """A model served on a GPU type: split, formats, workload and speculation (roofline/options.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True)

    model: Any = Field(default=None, description=MODEL_HELP, json_schema_extra={"unit": "", "flags": []})

    @field_validator("model", "speculative_model", check_fields=False)
    @classmethod
    def _model(cls, v, info):
        from .specs.model import ModelSpec

        if v is None and info.field_name == "speculative_model":
            return v
        if isinstance(v, ModelSpec) or (isinstance(v, str) and v.strip()):
            return v
        raise ValueError("must be a model name, alias, repo id or config.json path")

    @field_validator("gpu", check_fields=False)
    @classmethod
    def _gpu(cls, v):
        from .specs.hardware import GPU

        if isinstance(v, GPU) or (isinstance(v, str) and v.strip()):
            return v
        if isinstance(v, (list, tuple)) and v and all(isinstance(g, (str, GPU)) for g in v):
            return tuple(v)
        raise ValueError("must be a GPU name or alias, a comma list or a list of names")

    @classmethod
    def of(cls, model=None, gpu=DEFAULT_GPU, **options) -> "_Scenario":
        """Validated scenario; a bad option is one RooflineError line, as on the command line."""
        try:
            return cls(model=model, gpu=gpu, **options)
        except ValidationError as e:
            raise RooflineError(one_line(e)) from None
        except TypeError as e:
            raise RooflineError(str(e)) from None

    def setup_options(self) -> dict:
        """Keyword arguments of estimates.estimate.setup()."""
        return dict(tp=self.tensor_parallel_size, pp=self.pipeline_parallel_size, dp=self.data_parallel_size,
                    enable_expert_parallel=self.enable_expert_parallel, num_gpus=self.num_gpus,
                    gpus_per_node=self.gpus_per_node, inter_node_link=self.inter_node_link,
                    intra_node_link=self.intra_node_link, split_mode=self.split_mode,
                    micro_batches=self.num_micro_batches, speculative_model=self.speculative_model,
                    num_speculative_tokens=self.num_speculative_tokens, acceptance_rate=self.acceptance_rate,
                    dtype=self.dtype, weight_dtype=self.weight_dtype, weight_bits=self.weight_bits,
                    activation_dtype=self.activation_dtype, kv_cache_dtype=self.kv_cache_dtype,
                    batch_size=self.batch_size, input_len=self.input_len, output_len=self.output_len,
                    gpu_memory_utilization=self.gpu_memory_utilization, ideal=self.ideal,
                    calibration=self.calibration)

    def setup(self, gpu=None, profile=None):
        from .estimates.estimate import setup

        return setup(self.model, self.gpu if gpu is None else gpu, profile=profile, **self.setup_options())

    def estimate(self, gpu=None, profile=None):
        from .estimates.estimate import run

        return run(self.setup(gpu, profile))

    def gpu_names(self) -> list[str]:
        raw = self.gpu.split(",") if isinstance(self.gpu, str) else self.gpu if isinstance(self.gpu, (list, tuple)) else [self.gpu]
        names = [g.strip() if isinstance(g, str) else g for g in raw if not isinstance(g, str) or g.strip()]
        if not names:
            raise RooflineError("--gpu is empty")
        return names


Scenario = create_model("Scenario", __base__=_Scenario, __module__=__name__,
                        **{o.name: _field(o) for o in OPTIONS})
FIELDS = dict(Scenario.model_fields)


def estimate(model, gpu=DEFAULT_GPU, *, profile=None, **options):
    """Memory, TTFT, TPOT, throughput and what bounds them, for `model` served on `gpu`.

    `model`: catalog name, alias, HF repo id, path to a config.json, or a ModelSpec.
    `gpu`: catalog name or alias (`h100`, `a100`), or a GPU spec. Memory figures are per GPU.
    `options` are the fields of `roofline.Scenario` (the CLI's long option names with
    underscores, or the short `tp`, `pp`, `dp`, `micro_batches`); `profile` a calibration profile
    (roofline.Profile) replacing the default empirical factors.
    """
    return Scenario.of(model, gpu, **options).estimate(profile=profile)



def describe_fields() -> list[dict]:
    """Every option with its default, help, unit and flags (the web's /api/options and the docs)."""
    out = []
    for name, f in FIELDS.items():
        extra = f.json_schema_extra or {}
        out.append({"name": name, "default": f.default, "help": f.description, "unit": extra.get("unit", ""),
                    "flags": extra.get("flags", []),
                    "aliases": [a for a in (f.validation_alias.choices if f.validation_alias else []) if a != name]})
    return out


def one_line(e: ValidationError) -> str:
    """pydantic's report in one line, in the tool's words: which option, what is wrong."""
    err = e.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()) if not isinstance(p, int)) or "input"
    flag = ((FIELDS[where].json_schema_extra or {}).get("flags") or [None])[0] if where in FIELDS else None
    value = err.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) or len(repr(value)) < 60 else type(value).__name__
    msg = err.get("msg", "invalid").replace("Input should be", "must be").replace("Extra inputs are not permitted", "is not an option")
    msg = msg.replace("Value error, ", "")
    return f"{flag or where}: {msg}, got {shown}"
