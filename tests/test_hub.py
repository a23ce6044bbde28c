"""Hugging Face repo ids outside the catalog: fetched when the hub answers, one clear error when not."""

import sys
import types
from pathlib import Path

import pytest

import roofline
from roofline.errors import RooflineError

CONFIG = Path(roofline.__file__).parent / "data" / "models" / "mistral-7b.json"


def fake_hub(monkeypatch, download):
    mod = types.ModuleType("huggingface_hub")
    mod.hf_hub_download = download
    monkeypatch.setitem(sys.modules, "huggingface_hub", mod)


def test_repo_id_is_fetched(monkeypatch, tmp_path):
    target = tmp_path / "config.json"
    target.write_text(CONFIG.read_text())
    calls = []

    def download(repo_id, filename):
        calls.append((repo_id, filename))
        return str(target)

    fake_hub(monkeypatch, download)
    m = roofline.get_model("someorg/my-mistral-finetune")
    assert calls == [("someorg/my-mistral-finetune", "config.json")]
    assert m.num_layers == 32 and m.attention.num_kv_heads == 8


def test_unreachable_hub_is_one_clear_error(monkeypatch):
    def download(repo_id, filename):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load this file")

    fake_hub(monkeypatch, download)
    with pytest.raises(RooflineError, match="cannot fetch config.json for 'someorg/x' from the Hugging Face Hub: We couldn't connect"):
        roofline.get_model("someorg/x")


def test_catalog_aliases_never_touch_the_hub(monkeypatch):
    def download(repo_id, filename):
        raise AssertionError("the catalog must answer repo ids it knows")

    fake_hub(monkeypatch, download)
    assert roofline.get_model("meta-llama/Llama-2-7b-hf").name == "llama-2-7b"
