"""Both active-parameter figures, named, and the convention each published count uses."""

from roofline.catalog import get_model
from roofline.catalog.models import active_params, model_summary


def test_gpt_oss_publishes_the_figure_without_the_embedding():
    a = active_params(get_model("gpt-oss-120b"))
    # OpenAI's 5.1B = 5,132,849,472 leaves out the 201,088 × 2880 = 579,133,440 embedding rows
    assert a["active_params_excluding_embedding"] == 5_132_849_472
    assert a["active_params_with_embedding"] == 5_132_849_472 + 579_133_440
    assert a["published_active_convention"] == "without_embedding"
    assert a["published_active_params"] == 5_132_849_472


def test_mixtral_publishes_the_figure_with_the_embedding():
    a = active_params(get_model("mixtral-8x7b"))
    # 12,879,925,248 includes the 32,000 × 4096 = 131,072,000 embedding table
    assert a["active_params_with_embedding"] == 12_879_925_248
    assert a["active_params_excluding_embedding"] == 12_879_925_248 - 131_072_000
    assert a["published_active_convention"] == "with_embedding"


def test_deepseek_v2_lite_and_models_without_a_published_active_count():
    a = active_params(get_model("deepseek-v2-lite"))
    assert a["published_active_convention"] == "without_embedding"
    # DeepSeek's 2.4B is within 3% of the figure without the 102,400 × 2048 embedding, 9% off the other
    assert abs(a["active_params_excluding_embedding"] / 2.4e9 - 1) < 0.03
    assert abs(a["active_params_with_embedding"] / 2.4e9 - 1) > 0.05
    row = model_summary("yi-34b")
    assert row["published_active_convention"] is None and row["active_params_with_embedding"] == row["total_params"]
