"""The GPU catalog: one TOML file per accelerator with its sourced figures and empirical factors."""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from functools import lru_cache
from importlib import resources

from pydantic import ValidationError

from ..errors import RooflineError
from ..specs.hardware import GPU
from .names import normalize, resolve

_DIR = resources.files("roofline") / "data" / "gpus"


@lru_cache(maxsize=1)
def _load_all() -> dict[str, GPU]:
    gpus: dict[str, GPU] = {}
    for f in sorted(_DIR.iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".toml"):
            continue
        try:
            gpu = GPU.model_validate(tomllib.loads(f.read_text()))
        except (ValidationError, tomllib.TOMLDecodeError) as e:  # a broken catalog file is our bug
            raise RuntimeError(f"catalog file {f.name} is invalid: {e}") from e
        gpus[gpu.name] = gpu
    return gpus


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    table: dict[str, str] = {}
    for gpu in _load_all().values():
        table[normalize(gpu.name)] = gpu.name
        for alias in gpu.aliases:
            table[normalize(alias)] = gpu.name
    return table


def all_gpus() -> list[GPU]:
    return list(_load_all().values())


# `local` names the GPU of the machine running roofline: right for the command line and a notebook,
# wrong for a web server, whose callers would be told about the server's hardware. The web turns it
# off for each request it serves (web/guards.py NoLocalGpu).
LOCAL_GPU_ALLOWED: ContextVar[bool] = ContextVar("local_gpu_allowed", default=True)


def resolve_gpu(name: str) -> str:
    if not isinstance(name, str):
        raise RooflineError(f"a GPU is given by its name or alias (`roofline gpus` lists them), got {name!r}")
    if not name.strip():
        raise RooflineError("GPU name is empty")
    if normalize(name) == "local":  # this machine's GPU, found through NVML
        if not LOCAL_GPU_ALLOWED.get():
            raise RooflineError("`local` means the machine running roofline; on the web, name a catalog GPU (GET /api/gpus)")
        from ..evidence.local_gpu import local_gpu

        return local_gpu()
    return resolve(name, _names(), "gpu")


def get_gpu(name: str) -> GPU:
    return _load_all()[resolve_gpu(name)]
