"""One check of every config.json key the parser reads, before any of it is used.

Each key has a kind (a positive size, a count that may be 0, a flag, a name, a list) and sizes have
a cap beyond any real model; then the relations between keys (heads and KV heads, experts and
experts per token, window patterns) are checked. Every failure is one line naming the key and its
value. `describe_validation_error` turns a pydantic error on the parsed spec into the same kind of
line, so no multi-line pydantic text (or its URL) reaches a user.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from ..errors import RooflineError

# Beyond these a config is a typo or an attack, not a model: reject before allocating per-layer lists.
LIMITS = {"layers": 10_000, "hidden_size": 1_000_000, "heads": 100_000, "vocab_size": 100_000_000,
          "intermediate_size": 10_000_000, "experts": 100_000}
MAX_TOKENS = 1_000_000_000  # context windows, sliding windows, attention chunks (Llama 4 Scout: 10M)

# key -> (kind, cap). size: whole number ≥ 1; count: whole number ≥ 0 (0 means none).
_SIZES = {
    **dict.fromkeys(("hidden_size", "n_embd", "d_model", "dim"), LIMITS["hidden_size"]),
    **dict.fromkeys(("num_hidden_layers", "n_layer", "num_layers", "n_layers"), LIMITS["layers"]),
    **dict.fromkeys(("num_attention_heads", "n_head", "n_heads", "num_heads"), LIMITS["heads"]),
    **dict.fromkeys(("num_key_value_heads", "num_kv_heads", "n_head_kv", "n_kv_heads"), LIMITS["heads"]),
    **dict.fromkeys(("vocab_size", "padded_vocab_size", "n_vocab"), LIMITS["vocab_size"]),
    **dict.fromkeys(("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"), MAX_TOKENS),
    **dict.fromkeys(("head_dim", "v_head_dim", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim",
                     "qk_nope_head_dim"), LIMITS["hidden_size"]),
    **dict.fromkeys(("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size", "inter_dim",
                     "moe_intermediate_size", "intermediate_size_mlp"), LIMITS["intermediate_size"]),
    **dict.fromkeys(("sliding_window", "attention_chunk_size"), MAX_TOKENS),
    **dict.fromkeys(("sliding_window_pattern", "moe_layer_freq", "interleave_moe_layer_step",
                     "decoder_sparse_step"), LIMITS["layers"]),
}
_COUNTS = {
    **dict.fromkeys(("num_local_experts", "n_routed_experts", "num_experts"), LIMITS["experts"]),
    **dict.fromkeys(("num_experts_per_tok", "experts_per_token", "moe_top_k", "num_selected_experts"), LIMITS["experts"]),
    "n_shared_experts": LIMITS["experts"],
    "shared_expert_intermediate_size": LIMITS["intermediate_size"],
    "first_k_dense_replace": LIMITS["layers"],
    "max_window_layers": LIMITS["layers"],
}
_FLAGS = ("tie_word_embeddings", "multi_query", "attention_bias", "enable_bias", "bias", "parallel_attn",
          "new_decoder_architecture", "use_sliding_window")
_NAMES = ("model_type", "topk_method", "_name_or_path")
# Keys read from the top level even when the text model sits in `text_config`.
_TOP_LEVEL = ("architectures", "tie_word_embeddings", "model_type", "text_config")

# ModelSpec field -> the config key a user wrote, for pydantic errors on the built spec.
_CONFIG_KEY = {"num_heads": "num_attention_heads", "num_kv_heads": "num_key_value_heads",
               "num_layers": "num_hidden_layers", "num_experts": "num_experts",
               "experts_per_token": "num_experts_per_tok", "expert_intermediate_size": "moe_intermediate_size",
               "shared_intermediate_size": "shared_expert_intermediate_size", "window": "sliding_window"}


def _first(cfg: dict[str, Any], *keys: str) -> Any:
    return next((cfg[k] for k in keys if cfg.get(k) is not None), None)


def whole_number(key: str, value: Any, minimum: int, cap: int) -> int:
    """`value` as an int in [minimum, cap]; bools, strings, fractions and non-finite numbers are errors."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RooflineError(f"config.json {key} must be a whole number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RooflineError(f"config.json {key} must be a finite whole number, got {value!r}")
    if value != int(value):
        raise RooflineError(f"config.json {key} must be a whole number, got {value!r}")
    if value < minimum:
        what = "a positive whole number" if minimum == 1 else "0 or more"
        raise RooflineError(f"config.json {key} must be {what}, got {value!r}")
    if value > cap:
        raise RooflineError(f"config.json {key} = {int(value):,} is beyond any real model (max {cap:,})")
    return int(value)


def _check_keys(cfg: dict[str, Any]) -> None:
    for key, value in cfg.items():
        if value is None:
            continue  # an explicit none: the parser's default applies
        if key in _SIZES:
            whole_number(key, value, 1, _SIZES[key])
        elif key in _COUNTS:
            whole_number(key, value, 0, _COUNTS[key])
        elif key in _FLAGS and not isinstance(value, bool):
            raise RooflineError(f"config.json {key} must be true or false, got {value!r}")
        elif key in _NAMES and not isinstance(value, str):
            raise RooflineError(f"config.json {key} must be a string, got {value!r}")
        elif key in ("architectures", "layer_types"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise RooflineError(f"config.json {key} must be a list of strings, got {_short(value)}")
        elif key == "mlp_only_layers":
            if not isinstance(value, list):
                raise RooflineError(f"config.json {key} must be a list of layer numbers, got {_short(value)}")
            for v in value:
                whole_number(f"{key} entry", v, 0, LIMITS["layers"])
        elif key == "no_rope_layers":
            if not isinstance(value, list) or not all(not isinstance(v, bool) and v in (0, 1) for v in value):
                raise RooflineError(f"config.json {key} must be a list of 0s and 1s, got {_short(value)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_relations(cfg: dict[str, Any]) -> None:
    layers = _first(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers")
    heads = _first(cfg, "num_attention_heads", "n_head", "n_heads", "num_heads")
    kv_heads = _first(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv", "n_kv_heads")
    mla = cfg.get("kv_lora_rank") is not None
    if heads and kv_heads and not mla and cfg.get("multi_query") is not True and heads % kv_heads:
        raise RooflineError(f"config.json num_attention_heads ({int(heads)}) is not a multiple of "
                            f"num_key_value_heads ({int(kv_heads)})")
    experts = _first(cfg, "num_local_experts", "n_routed_experts", "num_experts")
    per_token = _first(cfg, "num_experts_per_tok", "experts_per_token", "moe_top_k", "num_selected_experts")
    if experts:
        if per_token is None or per_token < 1:
            raise RooflineError(f"config.json has {int(experts)} experts but num_experts_per_tok = {per_token!r}; "
                                "a token is routed to at least one")
        if per_token > experts:
            raise RooflineError(f"config.json num_experts_per_tok ({int(per_token)}) exceeds the {int(experts)} experts")
    rope = cfg.get("no_rope_layers")
    if isinstance(rope, list) and layers and rope and len(rope) < layers:
        raise RooflineError(f"config.json no_rope_layers has {len(rope)} entries for {int(layers)} layers")


def check_config(raw: dict[str, Any]) -> None:
    """Raise RooflineError (one line, naming the key and value) for any key the parser cannot use."""
    text = raw.get("text_config")
    if text is not None and not isinstance(text, dict):
        raise RooflineError(f"config.json text_config must be an object, got {_short(text)}")
    if isinstance(text, dict):
        _check_keys({k: raw[k] for k in _TOP_LEVEL if k in raw and k != "text_config"})
        _check_keys(text)
        _check_relations(text)
    else:
        _check_keys(raw)
        _check_relations(raw)


def describe_validation_error(e: ValidationError) -> str:
    """The first pydantic error as one line in the tool's words: the key, what is wrong, the value."""
    err = e.errors(include_url=False)[0]
    field = next((str(x) for x in reversed(err.get("loc", ())) if isinstance(x, str)), "")
    key = _CONFIG_KEY.get(field, field)
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ").replace("Input should be", "must be")
    value = err.get("input")
    if err.get("type") == "value_error" or isinstance(value, (dict, list)) or not key:
        return message
    return f"{key} {message}, got {value!r}"
