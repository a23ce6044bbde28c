"""The GPU on this machine, found through NVML (nvidia-ml-py, the `gpu` extra), as a catalog GPU;
and the calibration profile `roofline calibrate` saved for it.

`--gpu local` means the first GPU NVML lists (NVML ignores CUDA_VISIBLE_DEVICES: its index 0 is the
first GPU of the machine). Its name and memory pick the catalog entry: the name alone cannot tell an
A100 of 40 GB from one of 80 GB, nor a GH200 of 96 GB from one of 144 GB. NVML's memory.total is the
memory the driver exposes (81,559 MiB on an H100 80GB), the same figure the catalog records.

`roofline calibrate` on a GPU writes its profile to `calibration_dir()/<catalog gpu>.toml`; the
commands' `--calibration auto` (their default on the command line) uses that file when the estimate
is for that GPU, `--calibration none` ignores it, `--calibration FILE` uses FILE.
"""

from __future__ import annotations

import dataclasses
import os
import re
from functools import lru_cache
from pathlib import Path

from ..errors import RooflineError

# NVML / CUDA device-name tokens -> the catalog GPUs they may be, most specific first. Where a name
# fits several entries (A100, GH200), the memory decides. An empty list marks a GPU the catalog does
# not have that a shorter key would otherwise claim (an H200 NVL is not an H200 SXM).
DEVICE_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GH200", ("gh200-96gb", "gh200-144gb")), ("GB200", ("gb200",)),
    ("H200 NVL", ()), ("H200", ("h200-sxm",)),
    ("H100 NVL", ("h100-nvl",)), ("H100 PCIe", ("h100-pcie",)), ("H100", ("h100-sxm",)),
    ("H800 PCIe", ()), ("H800", ("h800-sxm",)), ("H20", ("h20",)),
    ("B200", ("b200",)), ("B300", ("b300",)),
    ("A100 SXM4 40GB", ("a100-sxm-40gb",)), ("A100 SXM4 80GB", ("a100-sxm-80gb",)),
    ("A100 PCIE 40GB", ("a100-pcie-40gb",)), ("A100 80GB PCIe", ("a100-pcie-80gb",)),
    ("A100", ("a100-sxm-80gb", "a100-sxm-40gb")),
    ("A10G", ("a10g",)), ("A10", ("a10",)), ("A40", ("a40",)),
    ("L40S", ("l40s",)), ("L40", ("l40",)), ("L4", ("l4",)),
    ("RTX PRO 6000 Blackwell", ("rtx-pro-6000-blackwell",)), ("RTX 6000 Ada", ("rtx-6000-ada",)),
    ("RTX A6000", ("rtx-a6000",)), ("RTX 5090", ("rtx-5090",)), ("RTX 4090", ("rtx-4090",)),
    ("RTX 3090 Ti", ("rtx-3090-ti",)), ("RTX 3090", ("rtx-3090",)),
    ("T4", ("t4",)), ("V100 SXM2 32GB", ("v100-sxm2-32gb",)),
)
MEMORY_TOLERANCE = 0.10  # the device's memory within 10% of the catalog entry's: same part, not a sibling
ENV_DIR = "ROOFLINE_CALIBRATION_DIR"


@dataclasses.dataclass(frozen=True)
class LocalDevice:
    name: str  # as NVML prints it, e.g. "NVIDIA H100 80GB HBM3"
    memory_bytes: int  # NVML memory.total
    driver: str
    count: int  # NVIDIA GPUs on the machine


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[\s\-_]+", name.upper()) if t]


def _has(tokens: list[str], key: str) -> bool:
    k = _tokens(key)
    return any(tokens[i:i + len(k)] == k for i in range(len(tokens) - len(k) + 1))


def match_catalog(name: str, memory_bytes: float | None) -> tuple[str | None, str]:
    """(catalog GPU, "") for a device name and memory, or (None, why not)."""
    from ..catalog import get_gpu

    tokens = _tokens(name)
    key, candidates = next(((k, c) for k, c in DEVICE_NAMES if _has(tokens, k)), (None, ()))
    if not candidates:
        return None, f"{name!r} is not in the catalog"
    if memory_bytes is None:
        return candidates[0], ""
    gib = memory_bytes / 2**30
    best = min(candidates, key=lambda c: abs(get_gpu(c).memory_bytes - memory_bytes))
    if abs(get_gpu(best).memory_bytes - memory_bytes) > MEMORY_TOLERANCE * get_gpu(best).memory_bytes:
        have = ", ".join(f"{c} {get_gpu(c).memory_bytes / 2**30:.0f} GiB" for c in candidates)
        return None, f"{name!r} with {gib:.1f} GiB matches no catalog {key} ({have})"
    return best, ""


def closest_names(name: str, n: int = 3) -> list[str]:
    """Catalog names nearest a device name (vendor words dropped), for the error message."""
    from ..catalog import all_gpus
    from ..catalog.names import closest

    key = "-".join(t for t in _tokens(name) if t not in ("NVIDIA", "GEFORCE", "TESLA", "QUADRO")).lower()
    return closest(key, [g.name for g in all_gpus()], n=n, cutoff=0.3)


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)  # nvidia-ml-py < 11.5 returned bytes


def read_nvml() -> LocalDevice:
    """The first NVIDIA GPU as NVML reports it; a RooflineError saying why there is none."""
    try:
        import pynvml
    except ImportError:
        raise RooflineError("no NVML to find the local GPU: pip install 'roofline[gpu]' (nvidia-ml-py), "
                            "or name the GPU (`roofline gpus` lists them)") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        raise RooflineError(f"no NVIDIA GPU found: NVML could not start ({_text(e)}); "
                            "name the GPU instead (`roofline gpus` lists them)") from None
    try:
        count = pynvml.nvmlDeviceGetCount()
        if count < 1:
            raise RooflineError("no NVIDIA GPU found: NVML lists none; name the GPU instead (`roofline gpus` lists them)")
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        return LocalDevice(_text(pynvml.nvmlDeviceGetName(handle)), int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                           _text(pynvml.nvmlSystemGetDriverVersion()), int(count))
    except pynvml.NVMLError as e:
        raise RooflineError(f"NVML could not read the local GPU ({_text(e)}); name the GPU instead") from None
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass


@lru_cache(maxsize=1)
def local_gpu() -> str:
    """The catalog name of this machine's GPU (`--gpu local`)."""
    d = read_nvml()
    gpu, why = match_catalog(d.name, d.memory_bytes)
    if gpu is None:
        close = closest_names(d.name)
        raise RooflineError(f"--gpu local: {why}; closest: {', '.join(close) or '-'} (give one with --gpu)")
    return gpu


def driver_version() -> str | None:
    """The NVIDIA driver version through NVML, or None where NVML is absent."""
    try:
        return read_nvml().driver
    except RooflineError:
        return None


# ------------------------------------------------------------------ the saved calibration profile

def calibration_dir() -> Path:
    """Where `roofline calibrate` keeps a profile per GPU: $ROOFLINE_CALIBRATION_DIR, else
    $XDG_CONFIG_HOME/roofline/calibration (~/.config/roofline/calibration)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "roofline" / "calibration"


def saved_profile_path(gpu: str) -> Path:
    return calibration_dir() / f"{gpu}.toml"


def resolve_calibration(calibration: str, gpu: str):
    """The calibration Profile for an estimate on catalog GPU `gpu`: `none` the default factors,
    `auto` the profile saved for `gpu` if there is one (else the defaults), anything else a file."""
    from ..catalog.factors import default_profile
    from .profile import to_profile

    word = calibration.strip().lower()
    if word == "none":
        return default_profile()
    if word != "auto":
        return to_profile(calibration)
    path = saved_profile_path(gpu)
    try:
        stat = path.stat()
    except OSError:
        return default_profile()
    return _saved(str(path), gpu, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _saved(path: str, gpu: str, mtime_ns: int, size: int):
    """A saved profile, read once per version of the file (a plan runs many estimates)."""
    from .profile import read_profile, to_profile

    device = read_profile(path)["device"]
    if device.get("catalog_gpu") != gpu or device.get("kind") != "cuda":
        raise RooflineError(f"{path} was not measured on a {gpu} GPU (it says {device.get('name')!r}): "
                            "run `roofline calibrate` again, or give --calibration none")
    prof = to_profile(path)
    return dataclasses.replace(prof, source=f"found automatically: the profile `roofline calibrate` saved for {gpu}; "
                                            "--calibration none ignores it")
