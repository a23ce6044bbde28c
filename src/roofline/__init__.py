"""roofline: does an LLM fit, how fast will it serve, what limits it — from first principles.

    >>> import roofline
    >>> est = roofline.estimate("llama-2-7b", "a100", batch_size=8, input_len=512, output_len=128)
    >>> est.memory.fits, est.ttft_s, est.tpot_s
    >>> print(est.explain().render())
    >>> g = roofline.grid("llama-2-7b", ["a100", "h100"], batch_sizes=range(1, 257),
    ...                   input_lens=[512, 2048], output_lens=[128])    # every combination at once

Names are imported on first use, so `import roofline` (and the CLI's --help) stays fast.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "estimate": "roofline.scenario",  # one scenario: memory, TTFT, TPOT, throughput, bounds
    "grid": "roofline.estimates.grid",  # the same evaluation over GPUs × batches × lengths
    "parallel": "roofline.estimates.parallel_plan",  # every split over N GPUs, ranked (`roofline parallel`)
    "plan": "roofline.planning",  # cheapest deployment meeting SLOs at a request rate (`roofline plan`)
    "simulate": "roofline.serving",  # continuous-batching serving simulation (`roofline simulate`)
    "plot": "roofline.plots.public",  # one chart: .to_dict(), .figure(), .plotly()
    "Scenario": "roofline.scenario",
    "Estimate": "roofline.estimates.result",
    "Phase": "roofline.estimates.result",
    "Capacity": "roofline.estimates.result",
    "Memory": "roofline.estimates.memory",
    "Grid": "roofline.estimates.grid",
    "Profile": "roofline.catalog.factors",
    "get_gpu": "roofline.catalog",
    "get_model": "roofline.catalog",
    "RooflineError": "roofline.errors",
}
_RENAMED = {"parallel": "plan"}  # the module's own name for an export
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), _RENAMED.get(name, name))
        globals()[name] = value
        return value
    raise AttributeError(f"module 'roofline' has no attribute {name!r}")
