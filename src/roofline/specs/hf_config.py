"""Read a Hugging Face `config.json` into a ModelSpec.

Configs name the same thing many ways (`n_embd`, `d_model`, `hidden_size`) and leave much to the
model class's defaults; the family tables below write those defaults down, each with its class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import RooflineError
from . import strict_json
from .config_checks import LIMITS, check_config, describe_validation_error
from .model import MLA, MLP, Attention, Layer, ModelSpec, MoE
from .quantization import read_quantization

# MLP without a gate (two matrices) and LayerNorm instead of RMSNorm: the GPT-2 lineage.
UNGATED = {"gpt2", "gptj", "opt", "falcon", "phi", "gpt_neox", "bloom", "gpt_bigcode", "mpt", "starcoder2"}
LAYERNORM = {"gpt2", "gptj", "opt", "falcon", "phi", "gpt_neox", "bloom", "gpt_bigcode", "mpt", "starcoder2"}
# Default of `tie_word_embeddings` when the key is absent, from each config class.
TIED_BY_DEFAULT = {"gpt2", "opt", "gemma", "gemma2", "gemma3", "gemma3_text", "falcon", "gpt_bigcode", "bloom"}
# Every linear layer has a bias (GPT-2 Conv1D, OPT enable_bias, Phi-2 dense layers).
ALL_BIASES = {"gpt2", "opt", "phi", "gpt_bigcode", "starcoder2"}


def _first(cfg: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for k in keys:
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    return default


def _int(cfg: dict[str, Any], *keys: str, required: bool = True, default: int | None = None) -> int | None:
    v = _first(cfg, *keys)
    if v is None:
        if required and default is None:
            raise RooflineError(f"config.json has no {keys[0]} (also looked for: {', '.join(keys[1:]) or 'nothing else'})")
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
        raise RooflineError(f"config.json field {keys[0]} must be a whole number, got {v!r}")
    return int(v)


def _windows(cfg: dict[str, Any], mt: str, n: int) -> list[tuple[str, int | None]]:
    """Attention span per layer: ('global', None), ('sliding', W) or ('chunked', C)."""
    sw = cfg.get("sliding_window")
    glob = ("global", None)
    types = cfg.get("layer_types")
    if isinstance(types, list) and len(types) == n:
        out = []
        for t in types:
            if t == "sliding_attention" and sw:
                out.append(("sliding", int(sw)))
            elif t == "chunked_attention" and cfg.get("attention_chunk_size"):
                out.append(("chunked", int(cfg["attention_chunk_size"])))
            else:
                out.append(glob)
        return out
    if mt in ("gemma2",) and sw:  # Gemma2DecoderLayer: even layers slide, odd layers attend globally
        return [("sliding", int(sw)) if i % 2 == 0 else glob for i in range(n)]
    if mt in ("gemma3", "gemma3_text") and sw:  # every `sliding_window_pattern`-th layer is global
        p = int(cfg.get("sliding_window_pattern", 6))
        return [glob if (i + 1) % p == 0 else ("sliding", int(sw)) for i in range(n)]
    if mt in ("llama4", "llama4_text") and cfg.get("attention_chunk_size"):
        # Llama4TextConfig.no_rope_layers: every 4th layer is NoPE with global attention,
        # the rest use chunked attention of attention_chunk_size tokens.
        c = int(cfg["attention_chunk_size"])
        rope = cfg.get("no_rope_layers") or [int((i + 1) % 4 != 0) for i in range(n)]
        return [("chunked", c) if rope[i] else glob for i in range(n)]
    if mt in ("qwen2", "qwen2_moe", "qwen3", "qwen3_moe"):
        if cfg.get("use_sliding_window") and sw:
            start = int(cfg.get("max_window_layers", n))
            return [("sliding", int(sw)) if i >= start else glob for i in range(n)]
        return [glob] * n
    if sw and mt in ("mistral", "mixtral", "phi3", "starcoder2"):
        return [("sliding", int(sw))] * n
    return [glob] * n


def _moe(cfg: dict[str, Any], mt: str, n: int, d: int) -> tuple[MoE | None, list[bool], int | None]:
    """The MoE block, which layers use it, and the dense MLP width of the other layers (if different)."""
    e = _int(cfg, "num_local_experts", "n_routed_experts", "num_experts", required=False)
    if not e:
        return None, [False] * n, None
    k = _int(cfg, "num_experts_per_tok", "experts_per_token", "moe_top_k", "num_selected_experts")
    dense_width = None
    shared = 0
    shared_gate = router_bias = expert_bias = score_bias = False
    if mt == "mixtral":
        ei = _int(cfg, "intermediate_size")
        moe_layers = [True] * n
    elif mt in ("deepseek_v2", "deepseek_v3", "kimi_k2"):
        ei = _int(cfg, "moe_intermediate_size")
        shared = (_int(cfg, "n_shared_experts", required=False, default=0) or 0) * ei
        first_dense = _int(cfg, "first_k_dense_replace", required=False, default=0) or 0
        freq = _int(cfg, "moe_layer_freq", required=False, default=1) or 1
        moe_layers = [i >= first_dense and i % freq == 0 for i in range(n)]
        score_bias = cfg.get("topk_method") == "noaux_tc"
    elif mt in ("llama4", "llama4_text"):
        ei = _int(cfg, "intermediate_size")
        shared = ei  # Llama4TextMoe: one shared expert as wide as a routed one
        step = _int(cfg, "interleave_moe_layer_step", required=False, default=1) or 1
        moe_layers = [(i + 1) % step == 0 for i in range(n)]
        dense_width = _int(cfg, "intermediate_size_mlp", required=False)
    elif mt == "gpt_oss":
        ei = _int(cfg, "intermediate_size")
        router_bias = expert_bias = True
        moe_layers = [True] * n
    else:  # qwen2_moe, qwen3_moe and lookalikes
        ei = _int(cfg, "moe_intermediate_size", "intermediate_size")
        shared = _int(cfg, "shared_expert_intermediate_size", required=False, default=0) or 0
        shared_gate = shared > 0
        step = _int(cfg, "decoder_sparse_step", required=False, default=1) or 1
        dense_only = set(cfg.get("mlp_only_layers") or [])
        moe_layers = [(i not in dense_only) and (i + 1) % step == 0 for i in range(n)]
    moe = MoE(
        num_experts=e,
        experts_per_token=k,
        expert_intermediate_size=ei,
        shared_intermediate_size=shared,
        shared_gate=shared_gate,
        router_bias=router_bias,
        expert_bias=expert_bias,
        score_bias=score_bias,
    )
    return moe, moe_layers, dense_width


def from_hf_config(raw: dict[str, Any], name: str, source: str = "") -> ModelSpec:
    """A ModelSpec from a parsed config.json; anything unreadable is a RooflineError naming the field."""
    if not isinstance(raw, dict):
        raise RooflineError(f"{source or name}: config.json must be a JSON object")
    try:
        check_config(raw)  # every key the parser reads: type, finiteness, range, relations
        return _parse(raw, name, source)
    except RooflineError as e:
        message = str(e)
        raise RooflineError(message if message.startswith(source or name) else f"{source or name}: {message}") from None
    except ValidationError as e:  # a shape the spec itself refuses, in one line
        raise RooflineError(f"{where}: invalid config.json: {describe_validation_error(e)}") from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:  # a field of an unexpected type
        raise RooflineError(f"{source or name}: config.json could not be read ({type(e).__name__}: {e})") from None


def _check_limits(label: str, **sizes: int | None) -> None:
    for key, value in sizes.items():
        if value is not None and value > LIMITS[key]:
            raise RooflineError(f"{label}: config.json {key} = {value:,} is beyond any real model (max {LIMITS[key]:,})")


def _attention(cfg: dict[str, Any], mt: str, d: int, h: int, kvh: int, where: str) -> Attention:
    """Heads, head sizes, biases, norms and sinks of the attention block; MLA when the config has
    a kv_lora_rank (the cache then holds a shared latent, so the KV heads are nominal)."""
    head_dim = _int(cfg, "head_dim", required=False, default=0) or None
    if head_dim is None:
        if d % h:
            raise RooflineError(f"{where}: hidden_size {d} is not divisible by {h} heads and no head_dim is given")
        head_dim = d // h
    all_bias = mt in ALL_BIASES or (mt == "opt" and cfg.get("enable_bias", True))
    attn_bias = bool(cfg.get("attention_bias", False)) or all_bias
    qkv_bias, o_bias = attn_bias or mt in ("qwen2", "qwen2_moe"), attn_bias
    if mt == "falcon":
        qkv_bias = o_bias = bool(cfg.get("bias", False))
    mla = None
    v_head_dim = _int(cfg, "v_head_dim", required=False, default=head_dim)
    if _first(cfg, "kv_lora_rank") is not None:
        mla = MLA(q_lora_rank=_int(cfg, "q_lora_rank", required=False, default=0) or None,
                  kv_lora_rank=_int(cfg, "kv_lora_rank"), qk_rope_head_dim=_int(cfg, "qk_rope_head_dim"),
                  qk_nope_head_dim=_int(cfg, "qk_nope_head_dim"))
        head_dim, kvh = mla.qk_nope_head_dim + mla.qk_rope_head_dim, h
    return Attention(num_heads=h, num_kv_heads=kvh, head_dim=head_dim, v_head_dim=v_head_dim, qkv_bias=qkv_bias,
                     o_bias=o_bias, qk_norm=mt in ("qwen3", "qwen3_moe", "gemma3", "gemma3_text"),
                     sinks=mt == "gpt_oss", mla=mla)


def _mlp(cfg: dict[str, Any], mt: str, d: int, moe, moe_layers, dense_width, notes: list[str], where: str) -> MLP:
    inter = dense_width or _int(cfg, "intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size", "inter_dim", required=False)
    if inter is None:
        if mt in ("gpt2", "gptj", "falcon", "gpt_neox", "gpt_bigcode", "bloom"):
            inter = 4 * d  # these classes default the MLP to 4 × hidden
            notes.append(f"MLP width not in config: {mt} default 4 × hidden = {inter}")
        elif moe is not None and all(moe_layers):
            inter = moe.expert_intermediate_size  # no dense layer uses it
        else:
            raise RooflineError(f"{where}: config.json has no intermediate_size")
    _check_limits(where, intermediate_size=inter)
    all_bias = mt in ALL_BIASES or (mt == "opt" and cfg.get("enable_bias", True))
    return MLP(intermediate_size=inter, gated=mt not in UNGATED, bias=all_bias or mt == "gptj")


def _tied(top: dict[str, Any], cfg: dict[str, Any], mt: str, notes: list[str]) -> bool:
    for doc in (top, cfg):
        if "tie_word_embeddings" in doc:
            return bool(doc["tie_word_embeddings"])
    tied = mt in TIED_BY_DEFAULT
    notes.append(f"tie_word_embeddings absent: {'tied' if tied else 'untied'} by the {mt or 'default'} config class")
    return tied


def _norms(cfg: dict[str, Any], mt: str) -> int:
    if mt == "gemma2" or mt.startswith("gemma3"):
        return 4  # pre/post norm around both attention and MLP
    if mt in ("gptj", "phi") or (mt == "falcon" and cfg.get("parallel_attn", True) and not cfg.get("new_decoder_architecture")):
        return 1  # attention and MLP read the same normed input
    return 2


def _learned_positions(mt: str, max_pos: int | None) -> int:
    if mt in ("gpt2", "gpt_bigcode"):
        return max_pos or 1024
    if mt == "opt":
        return (max_pos or 2048) + 2  # OPTLearnedPositionalEmbedding keeps an offset of 2
    return 0


def _parse(raw: dict[str, Any], name: str, source: str) -> ModelSpec:
    top = raw
    cfg = raw.get("text_config") if isinstance(raw.get("text_config"), dict) else raw
    mt = str(_first(cfg, "model_type", default=_first(top, "model_type", default=""))).lower()
    arch = (top.get("architectures") or cfg.get("architectures") or [mt or "unknown"])[0]
    notes: list[str] = []
    where = source or name

    d = _int(cfg, "hidden_size", "n_embd", "d_model", "dim")
    n = _int(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers")
    h = _int(cfg, "num_attention_heads", "n_head", "n_heads", "num_heads")
    if cfg.get("multi_query") is True:
        kvh = 1
    else:
        kvh = _int(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv", "n_kv_heads", required=False, default=h)
    vocab = _int(cfg, "vocab_size", "padded_vocab_size", "n_vocab")
    _check_limits(where, layers=n, hidden_size=d, heads=max(h, kvh), vocab_size=vocab)
    max_pos = _int(cfg, "max_position_embeddings", "n_positions", "max_seq_len", "seq_length", required=False, default=0) or None
    attention = _attention(cfg, mt, d, h, kvh, where)
    moe, moe_layers, dense_width = _moe(cfg, mt, n, d)
    if moe is not None:
        _check_limits(where, experts=moe.num_experts, intermediate_size=moe.expert_intermediate_size)
    mlp = _mlp(cfg, mt, d, moe, moe_layers, dense_width, notes, where)
    tied = _tied(top, cfg, mt, notes)
    norms = _norms(cfg, mt)
    parallel = mt in ("gptj", "phi", "falcon") and bool(cfg.get("parallel_attn", True))
    learned = _learned_positions(mt, max_pos)

    layers = [Layer(window_kind=k, window=w, moe=m) for (k, w), m in zip(_windows(cfg, mt, n), moe_layers)]
    try:
        return ModelSpec(
            name=name,
            architecture=arch,
            model_type=mt,
            source=source,
            hidden_size=d,
            num_layers=n,
            vocab_size=vocab,
            max_position_embeddings=max_pos,
            tie_word_embeddings=tied,
            learned_positions=learned,
            lm_head_bias=mt in ("gptj", "phi"),
            norm="layer" if mt in LAYERNORM else "rms",
            norms_per_layer=norms,
            parallel_attention=parallel,
            attention=attention,
            mlp=mlp,
            moe=moe if any(moe_layers) else None,
            layers=layers,
            quantization=read_quantization(raw, is_moe=any(moe_layers)),
            notes=notes,
        )
    except ValidationError as e:
        raise RooflineError(f"{where}: invalid config.json: {describe_validation_error(e)}") from None


def load_config_file(path: str | Path, name: str | None = None) -> ModelSpec:
    p = Path(path)
    try:
        if p.is_dir():
            p = p / "config.json"
    except (OSError, ValueError):  # a name too long or with a NUL: reading it below says so
        pass
    # capped, UTF-8, finite numbers, shallow: /dev/zero or a 200,000-deep file is one line, not a crash
    raw = strict_json.loads(strict_json.read_capped(p), str(p))
    label = name or (p.parent.name if p.name == "config.json" else p.stem)
    return from_hf_config(raw, label, source=str(p))
