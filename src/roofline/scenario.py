"""The scenario: every option of an estimate, declared once.

Each field carries its help text, its unit and its command-line flags. The CLI options of every
command (cli/options.py), the web API's request schema and its /docs page, chart and report
inputs, `grid()` and the planners are derived from this declaration, so an option added here
reaches every surface. Field names are vLLM's long option names with underscores
(`tensor_parallel_size`); the short forms (`tp`, `pp`, `dp`, `micro_batches`) are accepted too.

    s = Scenario(model="llama-3-70b", gpu="h100", tp=4, weight_dtype="fp8", batch_size=16)
    s.estimate().tpot_s
"""

from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import RooflineError

DEFAULT_GPU = "a100-sxm-80gb"
MODEL_HELP = "Catalog name or alias (`roofline models`), HF repo id, or a path to a config.json."


def option(default, help: str, *flags: str, unit: str = "", short: str | None = None, **kw) -> Any:
    """A scenario field: its default, help, unit and CLI flags (the first flag is the long one)."""
    alias = {"validation_alias": AliasChoices(kw.pop("name"), short)} if short else {}
    return Field(default=default, description=help, json_schema_extra={"unit": unit, "flags": list(flags)}, **alias, **kw)


class Scenario(BaseModel):
    """A model served on a GPU type: split, formats, workload, speculation and calibration."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True)

    model: Any = Field(default=None, description=MODEL_HELP, json_schema_extra={"unit": "", "flags": []})
    gpu: Any = option(DEFAULT_GPU, "GPU name or alias (`roofline gpus`); a comma list compares GPUs.", "--gpu", "-g")
    tensor_parallel_size: int = option(1, "Tensor-parallel GPUs: split heads, MLP and vocabulary; two all-reduces per layer.",
                                       "--tensor-parallel-size", "-tp", unit="GPUs", short="tp", name="tensor_parallel_size")
    pipeline_parallel_size: int = option(1, "Pipeline-parallel stages: split the layers (uneven splits allowed).",
                                         "--pipeline-parallel-size", "-pp", unit="GPUs", short="pp", name="pipeline_parallel_size")
    data_parallel_size: int = option(1, "Data-parallel replicas: each serves ⌈batch / dp⌉ sequences.",
                                     "--data-parallel-size", "-dp", unit="replicas", short="dp", name="data_parallel_size")
    enable_expert_parallel: bool = option(False, "MoE: spread whole experts over the tp × dp GPUs (EP = tp × dp), with "
                                          "an all-to-all dispatch and combine when dp > 1.", "--enable-expert-parallel")
    num_gpus: Optional[int] = option(None, "GPUs in the deployment; those beyond tp × pp become data-parallel replicas.",
                                     "--num-gpus", unit="GPUs")
    gpus_per_node: Optional[int] = option(None, "GPUs per server; larger groups cross the network. Default: the GPU's "
                                          "NVLink domain, at least 8.", "--gpus-per-node", unit="GPUs")
    inter_node_link: Optional[str] = option(None, "Network between nodes (data/links.toml key: ib-hdr, ib-ndr, ib-xdr, "
                                            "roce-100, roce-200, roce-400); default: the GPU's usual one.", "--inter-node-link")
    num_micro_batches: Optional[int] = option(None, "Pipeline micro-batches per step; default min(batch per replica, pp).",
                                              "--num-micro-batches", short="micro_batches", name="num_micro_batches")
    speculative_model: Any = option(None, "Speculative decoding drafter: a model sharing the target's vocabulary, `mtp` "
                                    "(one extra target layer) or `ngram` (prompt lookup).", "--speculative-model")
    num_speculative_tokens: Optional[int] = option(None, "Tokens the drafter proposes per step (k).",
                                                   "--num-speculative-tokens", unit="tokens")
    acceptance_rate: Optional[float] = option(None, "Probability that the target accepts a drafted token, in [0, 1]; "
                                              "required with a drafter.", "--acceptance-rate")
    dtype: Optional[str] = option(None, "Model dtype: auto (bf16, else fp16), bfloat16/bf16, float16/half/fp16, float32.",
                                  "--dtype")
    weight_dtype: Optional[str] = option(None, "Linear-weight format: fp8, int8, int4 (g128), fp4 (nvfp4), mxfp4; "
                                         "default: --dtype.", "--weight-dtype")
    weight_bits: Optional[float] = option(None, "Effective bits per weight, scales included (EXL2 4.65, GGUF Q4_0 4.5).",
                                          "--weight-bits", unit="bits")
    activation_dtype: Optional[str] = option(None, "Quantize GEMM inputs: fp8, int8 (W8A8), fp4; default: native fp8/fp4 "
                                             "where the GPU has it, else --dtype.", "--activation-dtype")
    kv_cache_dtype: Optional[str] = option(None, "KV cache format: auto (= --dtype), fp8, fp8_e4m3, fp8_e5m2, int8, int4.",
                                           "--kv-cache-dtype")
    batch_size: int = option(1, "Sequences processed together (static batch), shared by data-parallel replicas.",
                             "--batch-size", "-b", unit="sequences")
    input_len: int = option(1024, "Prompt tokens per sequence.", "--input-len", unit="tokens")
    output_len: int = option(256, "Generated tokens per sequence.", "--output-len", unit="tokens")
    gpu_memory_utilization: float = option(1.0, "Fraction of GPU memory usable, in (0, 1] (vLLM's default is 0.9).",
                                           "--gpu-memory-utilization", unit="fraction")
    ideal: bool = option(False, "The pure roofline: datasheet peaks, no efficiencies or overheads.", "--ideal")

    @field_validator("model", "speculative_model")
    @classmethod
    def _model(cls, v, info):
        from .specs.model import ModelSpec

        if v is None and info.field_name == "speculative_model":
            return v
        if isinstance(v, ModelSpec) or (isinstance(v, str) and v.strip()):
            return v
        raise ValueError("must be a model name, alias, repo id or config.json path")

    @field_validator("gpu")
    @classmethod
    def _gpu(cls, v):
        from .specs.hardware import GPU

        if isinstance(v, GPU) or (isinstance(v, str) and v.strip()):
            return v
        if isinstance(v, (list, tuple)) and v and all(isinstance(g, (str, GPU)) for g in v):
            return tuple(v)
        raise ValueError("must be a GPU name or alias, a comma list or a list of names")

    @classmethod
    def of(cls, model=None, gpu=DEFAULT_GPU, **options) -> "Scenario":
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
                    micro_batches=self.num_micro_batches, speculative_model=self.speculative_model,
                    num_speculative_tokens=self.num_speculative_tokens, acceptance_rate=self.acceptance_rate,
                    dtype=self.dtype, weight_dtype=self.weight_dtype, weight_bits=self.weight_bits,
                    activation_dtype=self.activation_dtype, kv_cache_dtype=self.kv_cache_dtype,
                    batch_size=self.batch_size, input_len=self.input_len, output_len=self.output_len,
                    gpu_memory_utilization=self.gpu_memory_utilization, ideal=self.ideal)

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


FIELDS = {name: f for name, f in Scenario.model_fields.items()}


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
