"""Speculative decoding: a cheap drafter proposes k tokens, the target checks them in one step.

If each drafted token is accepted with probability α, independently (Leviathan, Kalman & Matias
2023, "Fast Inference from Transformers via Speculative Decoding", eq. 1), one verification step
yields E = (1 − α^(k+1)) / (1 − α) tokens per sequence: k + 1 at α = 1, and 1 at α = 0 (the
target's own next token). A step costs k draft decode steps, one target step over k + 1 tokens per
sequence, and the bookkeeping kernels (`speculative_step_kernels`), so

    time per output token = (k · t_draft + t_verify + t_extra) / E,   speed-up = t_decode / that.

The speed-up falls below 1 when α is low, when the draft is not much cheaper than the target, or
at batches large enough that checking k + 1 tokens per sequence turns the step compute-bound.
The draft also prefills the prompt (added to TTFT) and holds its own weights and KV cache.

Drafters (`--speculative-model`):
  * a model (catalog name, alias or config.json) with the target's vocabulary, run with the
    target's tensor-parallel split and precision;
  * `mtp`: one more decoder layer of the target, run k times with the target's embedding and
    lm_head (DeepSeek-V3 multi-token prediction; EAGLE-style heads cost about the same);
  * `ngram`: prompt lookup, no model; only the bookkeeping kernels are charged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog import get_model
from ..cost.graph import step_ops
from ..errors import RooflineError
from ..specs.model import ModelSpec
from ..specs.parallel import Parallel
from ..specs.precision import Precision
from ..units import fmt_bytes, fmt_time
from .memory import kv_cache_bytes, weight_split
from ..cost.ops import Num
from .phases import PhaseParts
from .timing import Roofs, StepTime, time_step

MAX_SPECULATIVE_TOKENS = 64
NGRAM = ("ngram", "[ngram]")
MTP = ("mtp", "deepseek_mtp", "[mtp]")


@dataclass(frozen=True)
class SpecConfig:
    method: str  # draft | mtp | ngram
    draft: ModelSpec | None
    k: int
    alpha: float

    @property
    def label(self) -> str:
        return {"ngram": "n-gram prompt lookup", "mtp": "multi-token prediction layer"}.get(
            self.method, self.draft.name if self.draft else "")


def expected_tokens(alpha: float, k: int) -> float:
    """Tokens per verification step, E = (1 − α^(k+1)) / (1 − α) (Leviathan et al. 2023, eq. 1)."""
    if alpha >= 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def _mtp_layer(target: ModelSpec) -> ModelSpec:
    """The target with one layer (its last kind): DeepSeek-V3's MTP module is one such block."""
    doc = target.model_dump()
    doc.update(name=f"{target.name} MTP layer", num_layers=1, layers=[target.layers[-1].model_dump()])
    return ModelSpec.model_validate(doc)


def resolve(target: ModelSpec, speculative_model: str | ModelSpec | None, num_speculative_tokens, acceptance_rate,
            pp: int = 1) -> SpecConfig | None:
    if speculative_model is not None and not isinstance(speculative_model, (str, ModelSpec)):
        raise RooflineError(f"--speculative-model takes a model name, `mtp` or `ngram`, got {speculative_model!r}")
    if speculative_model in (None, ""):
        if num_speculative_tokens is not None or acceptance_rate is not None:
            raise RooflineError("--num-speculative-tokens and --acceptance-rate need --speculative-model "
                                "(a draft model, `mtp` or `ngram`)")
        return None
    if num_speculative_tokens is None:
        raise RooflineError("--speculative-model needs --num-speculative-tokens (tokens drafted per step, e.g. 4)")
    k = num_speculative_tokens
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_SPECULATIVE_TOKENS:
        raise RooflineError(f"--num-speculative-tokens must be a whole number from 1 to {MAX_SPECULATIVE_TOKENS}, got {k!r}")
    if acceptance_rate is None:
        raise RooflineError("--speculative-model needs --acceptance-rate: the probability that the target accepts a "
                            "drafted token, in [0, 1] (measure it on your traffic; it has no universal default)")
    a = acceptance_rate
    if isinstance(a, bool) or not isinstance(a, (int, float, np.floating)) or not (0.0 <= float(a) <= 1.0):
        raise RooflineError(f"--acceptance-rate must be in [0, 1], got {a!r}")
    if pp > 1:
        raise RooflineError("speculative decoding with pipeline parallelism is not modeled; use tensor parallelism")
    if isinstance(speculative_model, ModelSpec):
        method, draft = "draft", speculative_model
    elif speculative_model.strip().lower() in NGRAM:
        method, draft = "ngram", None
    elif speculative_model.strip().lower() in MTP:
        method, draft = "mtp", _mtp_layer(target)
    else:
        method, draft = "draft", get_model(speculative_model)
    if method == "draft" and draft.vocab_size != target.vocab_size:
        raise RooflineError(f"draft {draft.name} has a vocabulary of {draft.vocab_size} tokens, {target.name} {target.vocab_size}: "
                            "a draft model must share the target's tokenizer")
    return SpecConfig(method, draft, int(k), float(a))


@dataclass(frozen=True)
class SpecResult:
    """One speculative step and what it yields; times are arrays over an evaluation's axes."""

    config: SpecConfig
    expected_tokens: float
    draft_step_s: Num  # one draft decode step of the batch
    verify_s: Num  # one target step over k + 1 tokens per sequence
    extra_s: Num  # bookkeeping kernels per step
    plain_tpot_s: Num  # decode step without speculation
    draft_prefill_s: Num
    draft_weights_bytes: float
    draft_kv_bytes: Num
    decode: PhaseParts  # per output token, averaged over a verification step

    @property
    def step_s(self) -> Num:
        return self.config.k * self.draft_step_s + self.verify_s + self.extra_s

    @property
    def tpot_s(self) -> Num:
        return self.step_s / self.expected_tokens

    @property
    def speedup(self) -> Num:
        return self.plain_tpot_s / self.tpot_s

    def to_dict(self) -> dict:
        c = self.config
        return {
            "method": c.method, "draft": c.label, "num_speculative_tokens": c.k, "acceptance_rate": c.alpha,
            "expected_tokens_per_step": self.expected_tokens, "draft_step_s": float(self.draft_step_s),
            "verify_step_s": float(self.verify_s), "extra_s": float(self.extra_s), "step_s": float(self.step_s),
            "time_per_token_s": float(self.tpot_s), "time_per_token_without_s": float(self.plain_tpot_s),
            "speedup": float(self.speedup), "draft_prefill_s": float(self.draft_prefill_s),
            "draft_weights_bytes": float(self.draft_weights_bytes), "draft_kv_cache_bytes": float(self.draft_kv_bytes),
        }


def _parts(st: StepTime) -> np.ndarray:
    return np.stack(np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                          (st.compute_bound_time, st.memory_bound_time, st.overhead_time, st.comm_time))))


def draft_weights_bytes(cfg: SpecConfig, prec: Precision, par: Parallel) -> float:
    if cfg.draft is None:
        return 0.0
    ws = weight_split(cfg.draft, par)
    if cfg.method != "mtp":
        return ws.bytes(prec)
    d = cfg.draft  # the MTP layer shares the target's embedding and lm_head: count the layer only
    ends = (d.vocab_size + d.learned_positions) * d.hidden_size / par.tp + (0 if d.tie_word_embeddings else d.vocab_size * d.hidden_size / par.tp)
    return ws.quantized * prec.weight.bytes + (ws.unquantized - ends) * prec.model.bytes


def draft_kv_bytes(cfg: SpecConfig, prec: Precision, par: Parallel, batch, input_len, output_len):
    """The draft's KV cache: every sequence's context plus the k drafted tokens."""
    if cfg.draft is None:
        return 0.0 * np.asarray(batch, dtype=float)
    return kv_cache_bytes(cfg.draft, prec, par, batch, np.asarray(input_len, dtype=float) + output_len + cfg.k)


def evaluate(cfg: SpecConfig, target: ModelSpec, prec: Precision, par: Parallel, r: Roofs, batch, input_len,
             output_len, plain: StepTime, step_kernels: float) -> SpecResult:
    """`step_kernels`: the profile's speculative_step_kernels. Batch and lengths may be arrays."""
    k = cfg.k
    verify = time_step(step_ops(target, prec, par, "decode", batch, input_len, output_len, query_len=k + 1), r, par)
    v_parts = _parts(verify)
    zero = np.zeros_like(v_parts)
    if cfg.draft is not None:
        d_dec = time_step(step_ops(cfg.draft, prec, par, "decode", batch, input_len, output_len), r, par)
        d_pre = time_step(step_ops(cfg.draft, prec, par, "prefill", batch, input_len, output_len), r, par)
        d_parts, d_flops, d_bytes, d_pre_s = _parts(d_dec), np.asarray(d_dec.flops), np.asarray(d_dec.bytes), np.asarray(d_pre.time)
        d_kv = draft_kv_bytes(cfg, prec, par, batch, input_len, output_len)
    else:
        d_parts, d_flops, d_bytes, d_pre_s, d_kv = zero, 0.0, 0.0, 0.0 * v_parts[0], 0.0 * v_parts[0]
    extra = step_kernels * np.asarray(r.kernel_overhead, dtype=float)
    E = expected_tokens(cfg.alpha, k)
    parts = np.broadcast_arrays(k * d_parts, v_parts)
    parts = (parts[0] + parts[1]) / E
    parts[2] = parts[2] + extra / E
    decode = PhaseParts(parts.sum(axis=0), (k * d_flops + np.asarray(verify.flops)) / E,
                        (k * d_bytes + np.asarray(verify.bytes)) / E, *parts)
    return SpecResult(cfg, E, d_parts.sum(axis=0), np.asarray(verify.time, dtype=float), extra,
                      np.asarray(plain.time, dtype=float), d_pre_s, draft_weights_bytes(cfg, prec, par), d_kv, decode)


def describe(res: SpecResult) -> list[tuple[str, str, str, str]]:
    c, k, a = res.config, res.config.k, res.config.alpha
    lines = [
        ("drafter", c.method, "", c.label),
        ("expected tokens per step", "E = (1 − α^(k+1)) / (1 − α)  (Leviathan et al. 2023)",
         f"(1 − {a:g}^{k + 1}) / (1 − {a:g})" if a < 1 else f"α = 1: k + 1 = {k + 1}", f"{res.expected_tokens:.4g}"),
        ("draft step", "one draft decode step of the batch" if c.draft else "n-gram lookup: no model", "",
         fmt_time(res.draft_step_s)),
        ("verify step", "target decode step over k + 1 tokens per sequence", f"k + 1 = {k + 1}", fmt_time(res.verify_s)),
        ("bookkeeping", "speculative_step_kernels × kernel overhead", "", fmt_time(res.extra_s)),
        ("speculative step", "k × t_draft + t_verify + t_extra",
         f"{k} × {fmt_time(res.draft_step_s)} + {fmt_time(res.verify_s)} + {fmt_time(res.extra_s)}", fmt_time(res.step_s)),
        ("time per output token", "step / E", f"{fmt_time(res.step_s)} / {res.expected_tokens:.4g}", fmt_time(res.tpot_s)),
        ("speed-up", "plain decode step / time per output token", f"{fmt_time(res.plain_tpot_s)} / {fmt_time(res.tpot_s)}",
         f"{res.speedup:.3g}×" + (" (slower than plain decoding)" if res.speedup < 1 else "")),
    ]
    if res.draft_weights_bytes or res.draft_kv_bytes:
        lines.append(("draft memory", "draft weights + draft KV cache",
                      f"{fmt_bytes(res.draft_weights_bytes)} + {fmt_bytes(res.draft_kv_bytes)}",
                      fmt_bytes(res.draft_weights_bytes + res.draft_kv_bytes)))
    if res.draft_prefill_s:
        lines.append(("draft prefill", "added to TTFT", "", fmt_time(res.draft_prefill_s)))
    return lines
