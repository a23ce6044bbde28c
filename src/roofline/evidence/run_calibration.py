"""`roofline calibrate`, end to end: measure, derive factors against the catalog GPU, write the profile."""

from __future__ import annotations

import sys
from pathlib import Path

from ..catalog import get_gpu
from ..errors import RooflineError
from .allreduce import all_reduce
from .calibrate import ALL_REDUCE_BYTES, measure_all
from .profile import factors_from, profile_text
from .torch_env import DTYPES, device_name, device_of, load_torch, software

# CUDA device names (as NVML and torch.cuda.get_device_name print them) -> catalog GPU; longer first.
DEVICE_NAMES = [("GH200", "gh200-144gb"), ("H200", "h200-sxm"), ("H100 NVL", "h100-nvl"), ("H100 PCIe", "h100-pcie"),
                ("H100", "h100-sxm"), ("H800", "h800-sxm"), ("H20", "h20"), ("B200", "b200"), ("B300", "b300"),
                ("A100-SXM4-40GB", "a100-sxm-40gb"), ("A100-PCIE-40GB", "a100-pcie-40gb"), ("A100 80GB PCIe", "a100-pcie-80gb"),
                ("A100", "a100-sxm-80gb"), ("A10G", "a10g"), ("A10", "a10"), ("A40", "a40"), ("L40S", "l40s"), ("L40", "l40"),
                ("L4", "l4"), ("RTX 6000 Ada", "rtx-6000-ada"), ("RTX A6000", "rtx-a6000"), ("RTX 5090", "rtx-5090"),
                ("RTX 4090", "rtx-4090"), ("RTX 3090 Ti", "rtx-3090-ti"), ("RTX 3090", "rtx-3090"), ("T4", "t4"),
                ("V100", "v100-sxm2-32gb")]


def catalog_match(name: str) -> str | None:
    return next((gpu for key, gpu in DEVICE_NAMES if key in name), None)


def calibrate(output: str, device_arg: str, gpu_arg: str | None, dtypes_arg: str, all_reduce_gpus: int | None) -> dict:
    dtypes = [d.strip() for d in dtypes_arg.split(",") if d.strip()]
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise RooflineError(f"--dtypes: unknown {', '.join(bad) or 'empty list'} (one of {', '.join(DTYPES)})")
    if not output.endswith(".toml"):
        raise RooflineError(f"--output must end in .toml, got {output!r}")
    device = device_of(device_arg)
    torch = load_torch()
    name = device_name(device)
    gpu_name = gpu_arg or (catalog_match(name) if device.type == "cuda" else None)
    gpu = get_gpu(gpu_name) if gpu_name else None
    measured = measure_all(device, dtypes)
    world = all_reduce_gpus if all_reduce_gpus is not None else (torch.cuda.device_count() if device.type == "cuda" else 0)
    if world and world > 1:
        if device.type == "cuda" and world > torch.cuda.device_count():
            raise RooflineError(f"--all-reduce-gpus {world}: only {torch.cuda.device_count()} GPUs visible")
        sizes = list(ALL_REDUCE_BYTES[0] if device.type == "cuda" else ALL_REDUCE_BYTES[1])
        measured["all_reduce"] = all_reduce(device.type, world, sizes)
    gpu_factors, global_factors, notes = factors_from(measured, gpu)
    if device.type == "cpu":
        notes.append("measured on the CPU with small shapes: these numbers describe this CPU, not a GPU")
    info = {"name": name, "kind": device.type, "catalog_gpu": gpu.name if gpu else None, **software(device),
            "command": "roofline " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("roofline") else "roofline calibrate"}
    Path(output).write_text(profile_text(info, measured, gpu_factors, global_factors, notes))
    return {"device": info, "measured": measured, "factors": {**gpu_factors, **global_factors}, "notes": notes, "output": output}
