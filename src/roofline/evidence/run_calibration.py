"""`roofline calibrate`, end to end: measure, derive factors against the catalog GPU, write the profile."""

from __future__ import annotations

import sys
from pathlib import Path

from ..catalog import get_gpu
from ..errors import RooflineError
from .allreduce import all_reduce
from .calibrate import ALL_REDUCE_BYTES, measure_all
from .local_gpu import match_catalog, saved_profile_path
from .profile import factors_from, profile_text
from .torch_env import DTYPES, device_memory, device_name, device_of, load_torch, software


def default_output(device, gpu) -> tuple[str, bool]:
    """(path, saved): a GPU matched to the catalog keeps its profile where the estimates look for it
    (`--calibration auto`); anything else writes profile.toml here."""
    if device.type == "cuda" and gpu is not None:
        return str(saved_profile_path(gpu.name)), True
    return "profile.toml", False


def calibrate(output: str | None, device_arg: str, gpu_arg: str | None, dtypes_arg: str, all_reduce_gpus: int | None) -> dict:
    dtypes = [d.strip() for d in dtypes_arg.split(",") if d.strip()]
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise RooflineError(f"--dtypes: unknown {', '.join(bad) or 'empty list'} (one of {', '.join(DTYPES)})")
    if output is not None and not output.endswith(".toml"):
        raise RooflineError(f"--output must end in .toml, got {output!r}")
    device = device_of(device_arg)
    torch = load_torch()
    name = device_name(device)
    gpu_name, unmatched = (gpu_arg, "") if gpu_arg else match_catalog(name, device_memory(device)) if device.type == "cuda" else (None, "")
    gpu = get_gpu(gpu_name) if gpu_name else None
    output, saved = (output, False) if output is not None else default_output(device, gpu)
    measured = measure_all(device, dtypes)
    world = all_reduce_gpus if all_reduce_gpus is not None else (torch.cuda.device_count() if device.type == "cuda" else 0)
    if world and world > 1:
        if device.type == "cuda" and world > torch.cuda.device_count():
            raise RooflineError(f"--all-reduce-gpus {world}: only {torch.cuda.device_count()} GPUs visible")
        sizes = list(ALL_REDUCE_BYTES[0] if device.type == "cuda" else ALL_REDUCE_BYTES[1])
        measured["all_reduce"] = all_reduce(device.type, world, sizes)
    gpu_factors, global_factors, notes = factors_from(measured, gpu)
    if unmatched:
        notes.append(f"{unmatched}: give --gpu to derive factors")
    if device.type == "cpu":
        notes.append("measured on the CPU with small shapes: these numbers describe this CPU, not a GPU")
    info = {"name": name, "kind": device.type, "catalog_gpu": gpu.name if gpu else None, **software(device),
            "command": "roofline " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("roofline") else "roofline calibrate"}
    if saved:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        notes.append(f"estimates for {gpu.name} now use this profile (--calibration none ignores it)")
    Path(output).write_text(profile_text(info, measured, gpu_factors, global_factors, notes))
    return {"device": info, "measured": measured, "factors": {**gpu_factors, **global_factors}, "notes": notes,
            "output": output, "saved_for": gpu.name if saved else None}
