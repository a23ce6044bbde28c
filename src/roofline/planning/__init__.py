"""The deployment planner: which GPUs, how many, split how, in which formats, for a request rate
and latency targets, at the lowest cost (plan.py)."""

from .plan import plan

__all__ = ["plan"]
