"""The format a checkpoint ships its weights in, read from config.json's `quantization_config`.

A quantized checkpoint stores some linear layers in a narrow format (scales included) and leaves
others in the model dtype (`modules_to_not_convert`, compressed-tensors' `ignore`). The module
classes the estimator tells apart are attention projections, dense MLPs, routed experts and shared
experts; embeddings, lm_head, norms and routers always stay in the model dtype.

  fp8                 e4m3 weights; `weight_block_size` [128, 128] adds one fp32 scale per block
  mxfp4               OCP MX: 4-bit float + one 8-bit scale per 32 (4.25 bits)
  awq / gptq          `bits`-bit integers + one fp16 scale (and a `bits`-bit zero) per `group_size`
  compressed-tensors  config_groups' weights: num_bits, type int/float, group size or strategy
  bitsandbytes        load_in_8bit (LLM.int8) or load_in_4bit (nf4/fp4 + fp32 absmax per 64)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import RooflineError
from .dtypes import DTYPES, DType

MODULE_CLASSES = ("attention", "mlp", "experts", "shared_experts")


class Quantization(BaseModel):
    """A checkpoint's weight format per module class (None: left in the model dtype)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: str  # quant_method as config.json names it
    weight: DType  # the format of the converted linear layers
    unconverted: tuple[str, ...] = ()  # module classes left in the model dtype
    description: str  # e.g. "fp8 (e4m3) with 128×128 block scales"
    notes: tuple[str, ...] = ()

    def format_for(self, module: str) -> DType | None:
        return None if module in self.unconverted else self.weight


def _number(q: dict, key: str, default: Any = None) -> Any:
    v = q.get(key, default)
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
        raise RooflineError(f"quantization_config.{key} must be a number, got {v!r}")
    return v


def _int_format(method: str, bits: int, group: int | None, zero_point: bool) -> DType:
    """b-bit integers with an fp16 scale (and a b-bit zero) per group: b + (16 + b)/g bits."""
    if bits not in (2, 3, 4, 8):
        raise RooflineError(f"quantization_config: {method} with {bits} bits is not a format the tool knows (2, 3, 4 or 8)")
    compute = "int8" if bits == 8 else "int4"
    if not group or group <= 0:  # per output channel: a scale per row, negligible
        return DType(f"int{bits}", float(bits), compute, f"{method}: {bits}-bit integers, one scale per channel")
    extra = 16 + (bits if zero_point else 0)
    return DType(f"int{bits}-g{group}", bits + extra / group, compute,
                 f"{method}: {bits}-bit integers + fp16 scale{' and ' + str(bits) + '-bit zero' if zero_point else ''}"
                 f" per {group}: {bits} + {extra}/{group}")


def _fp8(q: dict) -> tuple[DType, str]:
    block = q.get("weight_block_size")
    fmt = q.get("fmt", "e4m3")
    if isinstance(block, list) and len(block) == 2 and all(isinstance(b, int) and b > 0 for b in block):
        n = block[0] * block[1]
        return (DType(f"fp8-b{block[0]}x{block[1]}", 8 + 32 / n, "fp8",
                      f"fp8 ({fmt}) + fp32 scale per {block[0]}×{block[1]} block: 8 + 32/{n}"),
                f"fp8 ({fmt}) with {block[0]}×{block[1]} block scales")
    return DTYPES["fp8"], f"fp8 ({fmt}), per-tensor or per-channel scales"


def _compressed_tensors(q: dict) -> tuple[DType, str]:
    groups = q.get("config_groups") or {}
    if not isinstance(groups, dict) or not groups:
        raise RooflineError("quantization_config (compressed-tensors) has no config_groups")
    w = next(iter(groups.values())).get("weights") or {}
    bits, kind = w.get("num_bits"), w.get("type", "int")
    group = w.get("group_size") if w.get("strategy") in ("group", "tensor_group", None) else None
    if not isinstance(bits, int):
        raise RooflineError("quantization_config (compressed-tensors): weights.num_bits must be a whole number")
    if kind == "float" and bits == 8:
        return DTYPES["fp8"], f"compressed-tensors fp8 ({w.get('strategy', 'tensor')} scales)"
    if kind == "float" and bits == 4:
        return DTYPES["fp4"], "compressed-tensors nvfp4 (4-bit float + fp8 scale per 16)"
    return _int_format("compressed-tensors", bits, group, not w.get("symmetric", True)), f"compressed-tensors int{bits}"


def _bitsandbytes(q: dict) -> tuple[DType, str]:
    if q.get("load_in_8bit"):
        return DType("int8-llm.int8", 8.0, "int8", "bitsandbytes LLM.int8: 8-bit rows, outliers in fp16 (not counted)"), "bitsandbytes int8"
    kind = q.get("bnb_4bit_quant_type", "fp4")
    if q.get("bnb_4bit_use_double_quant"):  # absmax quantized to 8 bits, one fp32 per 256 of those
        bits, how = 4 + 8 / 64 + 32 / (64 * 256), "4 + 8/64 + 32/(64·256) (double quantization)"
    else:
        bits, how = 4 + 32 / 64, "4 + 32/64"
    return DType(f"{kind}-bnb", bits, "int4", f"bitsandbytes {kind}: 4 bits + absmax per 64: {how}"), f"bitsandbytes {kind}"


def _unconverted(patterns: list[str], is_moe: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Module classes a not-convert list covers whole, and the patterns it names only in part."""
    out, partial = set(), []
    for raw in patterns:
        p = str(raw).removeprefix("re:").rstrip("$").rstrip(".*").rstrip("*").rstrip(".")
        if p.endswith(("self_attn", ".attn", "attention")):
            out.add("attention")
        elif p.endswith("shared_experts") or p.endswith("shared_expert"):
            out.add("shared_experts")
        elif p.endswith("experts"):
            out.add("experts")
        elif p.endswith(".mlp") or p == "mlp":
            out.update(("mlp", "experts", "shared_experts") if is_moe else ("mlp",))
        elif any(x in p for x in ("lm_head", "embed", "router", "gate", "norm", "wte")) and not p.endswith("gate_proj"):
            continue  # kept in the model dtype anyway
        else:
            partial.append(str(raw))
    return tuple(c for c in MODULE_CLASSES if c in out), tuple(partial)


def read_quantization(raw: dict[str, Any], is_moe: bool = False) -> Quantization | None:
    """The checkpoint's format from a parsed config.json, or None when it ships unquantized."""
    q = raw.get("quantization_config")
    if q is None and isinstance(raw.get("text_config"), dict):
        q = raw["text_config"].get("quantization_config")
    if q is None:
        return None
    if not isinstance(q, dict):
        raise RooflineError("config.json quantization_config must be an object")
    method = str(q.get("quant_method", "")).lower()
    if method == "fp8":
        weight, what = _fp8(q)
    elif method == "mxfp4":
        weight, what = DTYPES["mxfp4"], "mxfp4 (4-bit float + 8-bit scale per 32)"
    elif method in ("awq", "gptq"):
        bits = _number(q, "bits", 4)
        group = _number(q, "group_size", 128)
        zero = bool(q.get("zero_point", True)) if method == "awq" else True  # GPTQ packs qzeros either way
        weight, what = _int_format(method, int(bits), int(group) if group else None, zero), f"{method} int{bits}"
    elif method == "compressed-tensors":
        weight, what = _compressed_tensors(q)
    elif method == "bitsandbytes":
        weight, what = _bitsandbytes(q)
    else:
        raise RooflineError(f"quantization_config.quant_method '{method}' is not one the tool reads "
                            "(fp8, mxfp4, awq, gptq, compressed-tensors, bitsandbytes); give --weight-dtype")
    skip = q.get("modules_to_not_convert") or q.get("ignore") or []
    if not isinstance(skip, list):
        raise RooflineError("quantization_config.modules_to_not_convert must be a list")
    unconverted, partial = _unconverted(skip, is_moe)
    notes = (f"checkpoint leaves {', '.join(partial[:3])}{' …' if len(partial) > 3 else ''} unquantized; "
             "counted as quantized (per-layer exceptions are not modelled)",) if partial else ()
    return Quantization(method=method, weight=weight, unconverted=unconverted, description=what, notes=notes)
