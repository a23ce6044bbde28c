"""Parameter counts computed from each config against the published totals (models index)."""

import re

import pytest

from roofline.catalog import all_models, get_model, model_entry
from roofline.cost.params import count_params

MODELS = all_models()


@pytest.mark.parametrize("name", MODELS)
def test_total_matches_official(name):
    e = model_entry(name)
    p = count_params(get_model(name))
    if "official_total" in e:
        assert p.total == pytest.approx(e["official_total"], rel=0.005)
    else:  # only a nominal size such as "40B" is published
        nominal = float(re.match(r"([\d.]+)B", e["nominal"]).group(1)) * 1e9
        assert p.total == pytest.approx(nominal, rel=0.05)


@pytest.mark.parametrize("name", [m for m in MODELS if "official_active" in model_entry(m)])
def test_active_matches_official(name):
    e = model_entry(name)
    p = count_params(get_model(name))
    active = p.active if e.get("active_convention", "with_embedding") == "with_embedding" else p.active_excluding_embedding
    assert active == pytest.approx(e["official_active"], rel=e.get("active_tolerance", 0.005))


def test_exact_published_counts():
    assert count_params(get_model("llama-2-7b")).total == 6_738_415_616
    assert count_params(get_model("mixtral-8x7b")).active == 12_879_925_248
    assert count_params(get_model("gpt-oss-120b")).total == 116_829_156_672
    assert count_params(get_model("deepseek-v3")).total == 671_026_419_200
    assert count_params(get_model("gpt-2")).total == 124_439_808


@pytest.mark.parametrize("name", MODELS)
def test_moe_total_at_least_active(name):
    p = count_params(get_model(name))
    assert p.total >= p.active > 0


def test_aliases_resolve_to_same_model():
    assert get_model("meta-llama/Llama-2-7b-hf").name == "llama-2-7b"
    assert get_model("LLAMA-2-7B").name == "llama-2-7b"
    assert get_model("mistralai/Mixtral-8x7B-Instruct-v0.1").name == "mixtral-8x7b"
