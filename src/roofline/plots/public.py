"""`roofline.plot()`: one chart of a scenario without deep imports.

    chart = roofline.plot("batch", "llama-2-7b", ["a100", "h100"], batch_size=8)
    chart.to_dict()                      # the numbers (SI units)
    chart.figure().savefig("batch.svg")  # a matplotlib Figure
    chart.plotly()                       # a Plotly figure spec
"""

from __future__ import annotations

from ..options import BY_NAME, DEFAULT_GPU
from . import SERVING_KINDS, build, check_kind
from .inputs import Inputs


def plot(kind: str, model, gpu=DEFAULT_GPU, **options):
    """The chart of `kind` for `model` on `gpu` (a name, comma list or list): scenario options
    (roofline.Scenario's fields) and the kind's own options (max_batch, max_input_len, points,
    batches, input_lens, output_lens, models, weight_dtypes, capacity_gpus) as keywords. Serving
    kinds take the simulation's options (roofline.simulate)."""
    k = check_kind(kind)
    if k in SERVING_KINDS:
        return build(k, model, gpu=gpu, **options)
    aliases = {o.short for o in BY_NAME.values() if o.short}
    scenario = {n: v for n, v in options.items() if n in BY_NAME or n in aliases}
    own = {n: v for n, v in options.items() if n not in scenario}
    return build(k, Inputs.of(model, gpu, **scenario), **own)
