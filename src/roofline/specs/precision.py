"""Which format each tensor is stored in and which tensor-core format multiplies it, on a given GPU.

Four choices, named as vLLM names them where it can:
  --dtype            the model's unquantized tensors and activations (auto: bf16, else fp16)
  --weight-dtype     linear-layer weights (fp8, int8, int4, fp4, ...; default: --dtype)
  --activation-dtype what GEMM inputs are quantized to (W8A8 int8 asks for int8 here); by default
                     fp8/fp4 weights run natively (W8A8, W4A4) where the GPU can, else weight-only
  --kv-cache-dtype   the KV cache (auto: --dtype)
A checkpoint that ships quantized (config.json quantization_config, specs/quantization.py) sets the
default weight format, per module class where it leaves some in the model dtype (gpt-oss: mxfp4
experts, bf16 attention); --weight-dtype or --weight-bits override it for every linear layer.
A weight format the GPU cannot multiply runs weight-only: unpacked to the activation format
inside the GEMM (dequantization work is then charged) and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import RooflineError
from .dtypes import COMPUTE_LADDER, DTYPES, DType, custom_bits, parse_dtype
from .hardware import GPU
from .quantization import MODULE_CLASSES, Quantization

MODEL_DTYPES = ("bf16", "fp16", "fp32")


@dataclass(frozen=True)
class Precision:
    model: DType  # unquantized weights (embeddings, norms, lm_head, router) and activations
    weight: DType  # linear-layer weights as stored
    activation: DType  # GEMM inputs
    kv_cache: DType
    gemm_compute: str  # peak_flops key the linear layers run at
    weight_only: bool  # weights unpacked to the activation format inside the GEMM
    notes: tuple[str, ...] = field(default=())
    # module classes stored differently from `weight` (gpt-oss: attention in bf16 beside mxfp4 experts)
    module_weights: tuple[tuple[str, DType], ...] = field(default=())
    weight_source: str = ""  # where `weight` came from: "checkpoint (mxfp4)", "--weight-dtype", "" (--dtype)

    def weight_for(self, module: str) -> DType:
        """The stored format of one module class: attention, mlp, experts, shared_experts."""
        return dict(self.module_weights).get(module, self.weight)

    def weight_only_for(self, module: str) -> bool:
        return _weight_only(self.weight_for(module), self.model, self.gemm_compute)

    @property
    def label(self) -> str:
        w = self.weight.name
        a = self.activation.name
        scheme = f"W{_short(w)}A{_short(a)}" if w != a or w not in MODEL_DTYPES else w
        weights = w + "".join(f" except {m} {d.name}" for m, d in self.module_weights)
        source = " from the checkpoint" if self.weight_source.startswith("checkpoint") else ""
        return f"{scheme} (weights {weights}{source}, activations {a}, KV {self.kv_cache.name})"


def _weight_only(weight: DType, model: DType, gemm: str) -> bool:
    # a width below the model dtype in the model dtype's own compute format (--weight-bits alone, e.g.
    # GGUF Q4_0 at 4.5) is a packed format too: it is unpacked inside the GEMM like int4
    narrower = weight.compute == model.compute and weight.bits < model.bits
    return (weight.compute != gemm or narrower) and weight.name != model.name


def _short(name: str) -> str:
    if "@" in name:  # a given effective width, e.g. bf16@4.5b
        return name.split("@", 1)[1].rstrip("b")
    widths = {"bf16": "16", "fp16": "16", "fp32": "32", "fp8": "8", "int8": "8", "int4": "4", "fp4": "4", "mxfp4": "4"}
    base = name.split("-", 1)[0]  # checkpoint formats: fp8-b128x128, int4-g128, nf4-bnb
    return widths.get(name) or widths.get(base) or {"int3": "3", "int2": "2", "nf4": "4"}.get(base, name)


def _model_dtype(gpu: GPU, dtype: str | None) -> DType:
    if dtype in (None, "", "auto"):
        for d in ("bf16", "fp16", "fp32"):
            if gpu.supports(d):
                return DTYPES[d]
        raise RooflineError(f"{gpu.name} lists no bf16, fp16 or fp32 rate")
    d = parse_dtype(dtype, what="--dtype")
    if d.name not in MODEL_DTYPES:
        raise RooflineError(
            f"--dtype {dtype}: the model dtype is one of bf16, fp16, fp32; quantize with --weight-dtype "
            f"{d.name} (and --activation-dtype {d.compute} for W8A8)"
        )
    if not gpu.supports(d.compute):
        alt = next((x for x in MODEL_DTYPES if gpu.supports(x)), None)
        raise RooflineError(f"{gpu.name} cannot compute in {d.name}; use --dtype {alt}" if alt else f"{gpu.name} cannot compute in {d.name}")
    return d


def resolve_precision(
    gpu: GPU,
    dtype: str | None = None,
    weight_dtype: str | None = None,
    kv_cache_dtype: str | None = None,
    activation_dtype: str | None = None,
    weight_bits: float | None = None,
    checkpoint: Quantization | None = None,
) -> Precision:
    """`checkpoint`: the model's shipped format (ModelSpec.quantization), the default weight format."""
    notes: list[str] = []
    model = _model_dtype(gpu, dtype)
    given = weight_dtype not in (None, "", "auto") or weight_bits is not None
    weight = model if weight_dtype in (None, "", "auto") else parse_dtype(weight_dtype, what="--weight-dtype")
    modules: tuple[tuple[str, DType], ...] = ()
    source = "--weight-dtype" if given else ""
    if checkpoint is not None and given:
        notes.append(f"--weight-{'dtype' if weight_dtype not in (None, '', 'auto') else 'bits'} overrides the "
                     f"checkpoint's {checkpoint.description}")
    elif checkpoint is not None:
        weight, source = checkpoint.weight, f"checkpoint ({checkpoint.method})"
        modules = tuple((m, model) for m in MODULE_CLASSES if m in checkpoint.unconverted)
        kept = f"; {', '.join(m for m, _ in modules)} left in {model.name} (modules_to_not_convert)" if modules else ""
        notes.append(f"weights {weight.name}: the checkpoint's {checkpoint.description}, from config.json "
                     f"quantization_config{kept}; --weight-dtype overrides")
        notes.extend(checkpoint.notes)
    if weight.name == "tf32":
        raise RooflineError("--weight-dtype tf32 is not a storage format; use fp32")
    if weight_bits is not None:
        weight = custom_bits(weight, weight_bits)
    kv = model if kv_cache_dtype in (None, "", "auto") else parse_dtype(kv_cache_dtype, what="--kv-cache-dtype")
    if kv.name in ("tf32",) or kv.compute == "fp4" and kv.name != "fp4":
        raise RooflineError(f"--kv-cache-dtype {kv_cache_dtype} is not a KV cache format")

    if activation_dtype in (None, "", "auto"):
        # mixed formats (some modules in the model dtype) keep activations in the model dtype
        native = weight.compute in ("fp8", "fp4") and gpu.supports(weight.compute) and not modules
        act = DTYPES[weight.compute] if native else model
    else:
        act = parse_dtype(activation_dtype, what="--activation-dtype")
        if act.compute not in ("fp8", "int8", "fp4") and act.name not in MODEL_DTYPES:
            raise RooflineError(f"--activation-dtype {activation_dtype}: choose fp8, int8, fp4 or the model dtype")
        if not gpu.supports(act.compute):
            raise RooflineError(
                f"{gpu.name} cannot multiply {act.compute} activations (no {act.compute} tensor cores); "
                f"drop --activation-dtype to run {weight.name} weights weight-only at {model.name}"
            )
        if COMPUTE_LADDER.index(act.compute) < COMPUTE_LADDER.index(weight.compute):
            raise RooflineError(
                f"--activation-dtype {act.name} is narrower than --weight-dtype {weight.name}; "
                "activations are never quantized below the weights"
            )
    gemm = act.compute if act.name not in MODEL_DTYPES else model.compute
    weight_only = _weight_only(weight, model, gemm)
    if weight.compute in ("fp8", "fp4") and not gpu.supports(weight.compute) and activation_dtype in (None, "", "auto"):
        notes.append(
            f"{gpu.name} has no {weight.compute} tensor cores: {weight.name} weights are dequantized to "
            f"{gemm} inside each GEMM (weight-only); memory and decode bandwidth still shrink"
        )
    elif weight_only:
        notes.append(f"weight-only {weight.name}: weights are unpacked to {gemm} inside each GEMM")
    if kv.compute == "fp8" and not gpu.supports("fp8"):
        notes.append(f"fp8 KV cache on {gpu.name}: stored in fp8, converted to {model.name} inside attention")
    if weight.bits > model.bits:
        notes.append(f"weights stored wider ({weight.name}) than the model dtype ({model.name})")
    return Precision(model, weight, act, kv, gemm, weight_only, tuple(notes), modules, source)
