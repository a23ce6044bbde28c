"""Named hardware and models: lookup by canonical name or alias, with suggestions on a miss."""

from .gpus import all_gpus, get_gpu, resolve_gpu
from .links import all_links, get_link
from .models import all_models, catalog_model, get_model, model_entry, model_summary, resolve_model

__all__ = [
    "all_gpus", "get_gpu", "resolve_gpu",
    "all_links", "get_link",
    "all_models", "catalog_model", "get_model", "model_entry", "model_summary", "resolve_model",
]
