"""Hostile config.json files and Python API arguments: every case of issue 9 ends in one clear
RooflineError naming the key and the value (never another exception, never pydantic's text), and
a fuzz of config dicts ends in that or in a result whose every number is finite and non-negative."""

import json
import math
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import roofline
from roofline.errors import RooflineError
from roofline.specs.hf_config import from_hf_config, load_config_file
from roofline.specs.strict_json import MAX_FILE_BYTES

MODELS = resources.files("roofline") / "data" / "models"


def catalog_config(name: str) -> dict:
    return json.loads((MODELS / f"{name}.json").read_text())


LLAMA = catalog_config("llama-2-7b")  # 32 heads of 128, hidden 4096, 32 layers
MIXTRAL = catalog_config("mixtral-8x7b")  # 8 experts, 2 per token
DEEPSEEK = catalog_config("deepseek-v3")  # MLA and MoE with shared experts
GEMMA2 = catalog_config("gemma-2-9b")  # alternating sliding-window layers
# Shapes the catalog lacks, written out from the HF config classes' fields.
QWEN2_MOE = {"model_type": "qwen2_moe", "hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 16,
             "num_key_value_heads": 16, "vocab_size": 151936, "intermediate_size": 5632, "moe_intermediate_size": 1408,
             "shared_expert_intermediate_size": 5632, "num_experts": 60, "num_experts_per_tok": 4,
             "decoder_sparse_step": 1, "mlp_only_layers": [], "max_position_embeddings": 8192}
GEMMA3 = {"model_type": "gemma3_text", "hidden_size": 2560, "num_hidden_layers": 34, "num_attention_heads": 8,
          "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 262208, "intermediate_size": 10240,
          "sliding_window": 1024, "sliding_window_pattern": 6, "max_position_embeddings": 131072}
BASES = {"llama": LLAMA, "mixtral": MIXTRAL, "deepseek": DEEPSEEK, "gemma2": GEMMA2, "qwen2_moe": QWEN2_MOE,
         "gemma3": GEMMA3}


def rejected(raw: dict) -> str:
    with pytest.raises(RooflineError) as e:
        from_hf_config(raw, "hostile")
    message = str(e.value)
    assert "\n" not in message and "pydantic" not in message and "errors.pydantic.dev" not in message
    return message


# --- configs that crashed or lied (issue 9, "Configs that crash or lie") ---

@pytest.mark.parametrize("key", ["num_hidden_layers", "sliding_window"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, float("1e400")])
def test_non_finite_sizes_are_rejected_by_name(key, value):
    raw = {**(GEMMA2 if key == "sliding_window" else LLAMA), key: value}
    message = rejected(raw)
    assert key in message and "finite" in message


def test_zero_window_pattern_and_zero_heads_do_not_divide_by_zero():
    assert "sliding_window_pattern must be a positive whole number, got 0" in rejected({**GEMMA3, "sliding_window_pattern": 0})
    no_head_dim = {k: v for k, v in LLAMA.items() if k != "head_dim"}
    assert "num_attention_heads must be a positive whole number, got 0" in rejected({**no_head_dim, "num_attention_heads": 0})


@pytest.mark.parametrize("raw, key, value", [
    ({**QWEN2_MOE, "shared_expert_intermediate_size": -100000}, "shared_expert_intermediate_size", "-100000"),
    ({**GEMMA2, "sliding_window": -100}, "sliding_window", "-100"),
    ({**LLAMA, "max_position_embeddings": -5}, "max_position_embeddings", "-5"),
    ({**LLAMA, "intermediate_size": -11008}, "intermediate_size", "-11008"),
    ({**LLAMA, "head_dim": -128}, "head_dim", "-128"),
    ({**LLAMA, "vocab_size": 0}, "vocab_size", "0"),
    ({**DEEPSEEK, "n_shared_experts": -1}, "n_shared_experts", "-1"),
    ({**DEEPSEEK, "first_k_dense_replace": -3}, "first_k_dense_replace", "-3"),
])
def test_negative_and_zero_sizes_name_the_key_and_value(raw, key, value):
    message = rejected(raw)
    assert key in message and f"got {value}" in message


def test_the_qwen2_moe_shape_itself_is_accepted():
    # 24 layers × 60 experts of 3 × 2048 × 1408 (gate, up, down) alone are 12.5e9 parameters: a real MoE
    spec = from_hf_config(QWEN2_MOE, "qwen2-moe")
    assert spec.moe.num_experts == 60 and spec.moe.shared_intermediate_size == 5632


@pytest.mark.parametrize("raw, words", [
    ({**LLAMA, "num_key_value_heads": 3}, "num_attention_heads (32) is not a multiple of num_key_value_heads (3)"),
    ({**LLAMA, "num_key_value_heads": 0}, "num_key_value_heads must be a positive whole number, got 0"),
    ({**LLAMA, "num_attention_heads": 0, "head_dim": 128}, "num_attention_heads must be a positive whole number, got 0"),
    ({**LLAMA, "head_dim": -4}, "head_dim must be a positive whole number, got -4"),
    ({**LLAMA, "intermediate_size": -1}, "intermediate_size must be a positive whole number, got -1"),
    ({**MIXTRAL, "num_experts_per_tok": 0}, "8 experts but num_experts_per_tok = 0"),
    ({**MIXTRAL, "num_experts_per_tok": 9}, "num_experts_per_tok (9) exceeds the 8 experts"),
    ({**DEEPSEEK, "kv_lora_rank": 0}, "kv_lora_rank must be a positive whole number, got 0"),
])
def test_the_eight_invalid_configs_are_one_line_in_our_words(raw, words):
    assert words in rejected(raw)


@pytest.mark.parametrize("key, value, words", [
    ("num_hidden_layers", "32", "must be a whole number, got '32'"),
    ("num_hidden_layers", True, "must be a whole number, got True"),
    ("num_hidden_layers", 31.5, "must be a whole number, got 31.5"),
    ("hidden_size", 10**12, "beyond any real model"),
    ("tie_word_embeddings", "yes", "must be true or false"),
    ("architectures", "LlamaForCausalLM", "must be a list of strings"),
    ("model_type", 7, "must be a string"),
    ("text_config", [1, 2], "text_config must be an object"),
])
def test_wrong_types_name_the_key(key, value, words):
    message = rejected({**LLAMA, key: value})
    assert key in message and words in message


def test_explicit_null_means_the_default():
    spec = from_hf_config({**LLAMA, "head_dim": None, "sliding_window": None, "max_position_embeddings": None}, "x")
    assert spec.attention.head_dim == 4096 // 32 and spec.max_position_embeddings is None


# --- unreadable files ---

def test_non_utf8_file(tmp_path):
    p = tmp_path / "config.json"
    p.write_bytes(b'{"model_type": "llama", "name": "\xff\xfe"}')
    with pytest.raises(RooflineError, match=r"not UTF-8 text \(byte 0xff at offset 33\)"):
        load_config_file(p)


def test_json_nested_200000_deep(tmp_path):
    p = tmp_path / "config.json"
    p.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(RooflineError, match="nested more than 32 levels deep"):
        load_config_file(p)


def test_json_nested_40_deep_parses_but_is_refused(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({**LLAMA, "x": json.loads("[" * 40 + "]" * 40)}))
    with pytest.raises(RooflineError, match="nested more than 32 levels deep"):
        load_config_file(p)


def test_dev_zero_is_capped_not_read_forever():
    with pytest.raises(RooflineError, match="larger than 16 MB"):
        load_config_file("/dev/zero")


def test_a_file_over_the_cap(tmp_path):
    p = tmp_path / "config.json"
    p.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(RooflineError, match="larger than 16 MB"):
        load_config_file(p)


@pytest.mark.parametrize("text, words", [
    ('{"num_hidden_layers": Infinity}', "Infinity is not a number JSON allows"),
    ('{"num_hidden_layers": NaN}', "NaN is not a number JSON allows"),
    ('{"num_hidden_layers": -Infinity}', "-Infinity is not a number JSON allows"),
    ('{"sliding_window": 1e400}', "1e400 is too large for a number"),
])
def test_non_finite_json_numbers_are_refused_when_read(tmp_path, text, words):
    p = tmp_path / "config.json"
    p.write_text(text)
    with pytest.raises(RooflineError, match=words):
        load_config_file(p)


# --- the Python API: every bad argument is a RooflineError in one line naming the option ---

@pytest.mark.parametrize("kwargs, option", [
    ({"dtype": 16}, "--dtype"), ({"kv_cache_dtype": ["fp8"]}, "--kv-cache-dtype"), ({"weight_dtype": 4}, "--weight-dtype"),
    ({"activation_dtype": {}}, "--activation-dtype"), ({"weight_bits": math.nan}, "--weight-bits"),
    ({"weight_bits": "four"}, "--weight-bits"), ({"inter_node_link": 5}, "--inter-node-link"),
    ({"speculative_model": 5}, "--speculative-model"),
])
def test_wrong_typed_api_arguments(kwargs, option):
    with pytest.raises(RooflineError) as e:
        roofline.estimate("llama-2-7b", "h100", **kwargs)
    assert option in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("model", [123, 4.5, ["llama-2-7b"], None])
def test_a_model_that_is_not_a_name(model):
    with pytest.raises(RooflineError) as e:
        roofline.estimate(model, "a100")
    assert "empty" not in str(e.value) and "model name" in str(e.value)


# The resolvers behind the API say what they want when called directly with the wrong type.

def test_resolvers_refuse_wrong_types_in_our_words():
    from roofline.catalog import get_gpu, get_link, get_model
    from roofline.estimates.speculative import resolve as resolve_speculative
    from roofline.specs.precision import resolve_precision

    h100 = get_gpu("h100")
    cases = [
        (lambda: get_model(123), "a model is given by a catalog name, an HF repo id or a config.json path, got 123"),
        (lambda: get_gpu(5), "a GPU is given by its name or alias"),
        (lambda: get_link(5), "a link is given by its links.toml key"),
        (lambda: resolve_precision(h100, dtype=16), "--dtype takes a format name such as bf16, fp8 or int4, got 16"),
        (lambda: resolve_precision(h100, kv_cache_dtype=["fp8"]), "--kv-cache-dtype takes a format name"),
        (lambda: resolve_precision(h100, weight_bits="4.5"), "--weight-bits must be a number between 1 and 32, got '4.5'"),
        (lambda: resolve_speculative(get_model("llama-2-7b"), 5, 4, 0.7), "--speculative-model takes a model name"),
    ]
    for call, words in cases:
        with pytest.raises(RooflineError) as e:
            call()
        assert words in str(e.value)


# --- the fuzz: any config dict ends in RooflineError or in finite, non-negative numbers ---

KEYS = sorted({k for base in BASES.values() for k in base} | {
    "n_embd", "n_layer", "n_head", "num_kv_heads", "multi_query", "layer_types", "attention_chunk_size",
    "no_rope_layers", "use_sliding_window", "max_window_layers", "interleave_moe_layer_step", "intermediate_size_mlp",
    "text_config", "v_head_dim", "q_lora_rank", "moe_layer_freq", "topk_method", "num_local_experts",
    "quantization_config"})
HOSTILE = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8),
    st.integers(min_value=-3, max_value=3), st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([2**31, 2**63, 10**30, 100_000_000, 1_000_000_000]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, 128.0, 1e300, -0.0]),
    st.lists(st.integers(min_value=-2, max_value=3), max_size=4), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def hostile_configs(draw):
    raw = dict(BASES[draw(st.sampled_from(sorted(BASES)))])
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        if draw(st.booleans()):
            raw.pop(key, None)  # missing
        else:
            raw[key] = draw(HOSTILE)  # wrong-typed, non-finite, zero, negative, huge
    for _ in range(draw(st.integers(0, 2))):
        raw[draw(st.text(min_size=1, max_size=6))] = draw(HOSTILE)  # extra keys
    return raw


def numbers(doc, path=""):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from numbers(v, f"{path}.{k}")
    elif isinstance(doc, (list, tuple)):
        for v in doc:
            yield from numbers(v, f"{path}[]")
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        yield path, doc


def assert_sane(doc: dict) -> None:
    for path, value in numbers(doc):
        assert math.isfinite(value), (path, value)
        assert value >= 0, (path, value)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_configs())
def test_fuzzed_configs_end_in_an_error_or_a_sane_estimate(raw):
    try:
        spec = from_hf_config(raw, "fuzzed")
    except RooflineError as e:
        assert "\n" not in str(e) and "errors.pydantic.dev" not in str(e)
        return
    try:
        est = roofline.estimate(spec, "h100", batch_size=4, input_len=512, output_len=64)
    except RooflineError:
        return
    assert_sane(est.to_dict())


# --- the fuzz of Python API arguments: wrong types and values end in RooflineError ---

ANY = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from([0, 2**40, 10**30]),
                st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                st.sampled_from(["fp8", "int4", "auto", "ib-ndr", "mtp", "ngram", "a100", "1e400", "4.5"]),
                st.lists(st.sampled_from(["fp8", 1, None]), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
API_ARGS = ["tp", "pp", "dp", "dtype", "weight_dtype", "kv_cache_dtype", "activation_dtype", "weight_bits", "batch_size",
            "input_len", "output_len", "gpu_memory_utilization", "ideal", "num_gpus", "gpus_per_node", "inter_node_link",
            "enable_expert_parallel", "micro_batches", "speculative_model", "num_speculative_tokens", "acceptance_rate"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=st.sampled_from(["llama-2-7b", "mixtral-8x7b", "deepseek-v2-lite"]),
       kwargs=st.dictionaries(st.sampled_from(API_ARGS), ANY, max_size=3))
def test_fuzzed_api_arguments_end_in_an_error_or_a_sane_estimate(model, kwargs):
    try:
        est = roofline.estimate(model, "h100", **kwargs)
    except RooflineError as e:
        assert "\n" not in str(e) and "errors.pydantic.dev" not in str(e), str(e)
        return
    assert_sane(est.to_dict())


@pytest.mark.parametrize("name, words", [
    ("x" * 5000, "unknown model 'xxxx"), ("x" * 5000 + ".json", "File name too long"),
    ("a\x00.json", "embedded null byte"), ("a\x00b", "unknown model"),
])
def test_names_no_file_system_accepts_are_one_line(name, words):
    from roofline.catalog import get_model

    with pytest.raises(RooflineError) as e:
        get_model(name)
    assert words in str(e.value) and len(str(e.value)) < 300
