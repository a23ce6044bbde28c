"""PyTorch, loaded only when a measuring command runs; the device; careful timing.

Timing follows the usual rules for GPU benchmarks: warm-up runs first (clocks, caches, lazy
initialisation), CUDA events around each run on the GPU (host clocks would time the launch, not the
kernel), the median of the runs (robust to the odd slow one), and inputs filled with random
numbers (zeros let some hardware skip work and compress)."""

from __future__ import annotations

import statistics
import time

from ..errors import RooflineError


def load_torch():
    try:
        import torch
    except ImportError:
        raise RooflineError("this command needs PyTorch: pip install 'roofline[gpu]'") from None
    return torch


def device_of(name: str):
    """`cuda` (the first visible GPU) or `cpu`; no CUDA device is a one-line error."""
    torch = load_torch()
    if name not in ("cuda", "cpu"):
        raise RooflineError(f"--device must be cuda or cpu, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RooflineError("no CUDA device: PyTorch sees no GPU (--device cpu runs the small CPU shapes)")
    return torch.device(name)


def device_name(device) -> str:
    torch = load_torch()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def device_memory(device) -> int | None:
    """Total memory of a CUDA device in bytes (the figure NVML reports), None on the CPU."""
    if device.type != "cuda":
        return None
    return int(load_torch().cuda.get_device_properties(device).total_memory)


def software(device) -> dict:
    """Versions a measurement depends on: torch, and on a GPU the CUDA runtime torch was built with,
    the device's compute capability and the driver (through NVML, where installed)."""
    torch = load_torch()
    out = {"torch": torch.__version__}
    if device.type == "cuda":
        from .local_gpu import driver_version

        out["cuda"] = torch.version.cuda or ""
        out["compute_capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
        out["driver"] = driver_version() or "unknown (no NVML: pip install nvidia-ml-py)"
    return out


FP8_MIN_CAPABILITY = (8, 9)  # fp8 tensor cores arrived with Ada (8.9) and Hopper (9.0)


def fp8_reason(device_type: str, capability: tuple[int, int] | None = None, name: str = "") -> str | None:
    """Why fp8 matmuls cannot run on this device, or None where they can."""
    need = "fp8 needs a CUDA GPU with compute capability ≥ 8.9 (Ada, Hopper, Blackwell)"
    if device_type != "cuda":
        return f"{need}; this is the CPU"
    if capability is not None and tuple(capability) < FP8_MIN_CAPABILITY:
        return f"{need}; {name or 'this GPU'} has {capability[0]}.{capability[1]}"
    return None


def fp8_unsupported(device) -> str | None:
    """fp8_reason for a torch device, also where this PyTorch build lacks the scaled matmul."""
    torch = load_torch()
    if not hasattr(torch, "_scaled_mm") or not hasattr(torch, "float8_e4m3fn"):
        return f"fp8 needs PyTorch 2.1 or later with torch._scaled_mm; this is {torch.__version__}"
    if device.type != "cuda":
        return fp8_reason(device.type)
    return fp8_reason("cuda", torch.cuda.get_device_capability(device), torch.cuda.get_device_name(device))


def sync(device) -> None:
    if device.type == "cuda":
        load_torch().cuda.synchronize(device)


def median_time(fn, device, warmup: int = 3, reps: int = 10) -> float:
    """Median seconds of `fn()` over `reps` runs after `warmup` runs."""
    torch = load_torch()
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def random_tensor(shape, dtype, device):
    """Random normal values (scaled to stay finite in low precision), never zeros."""
    torch = load_torch()
    if dtype in (torch.int8,):
        return torch.randint(-127, 128, shape, dtype=dtype, device=device)
    return (torch.randn(shape, dtype=torch.float32, device=device) * 0.5).to(dtype)


DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "int8": "int8", "fp8": "float8_e4m3fn"}


def torch_dtype(name: str):
    torch = load_torch()
    key = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32"}.get(name, name)
    if key not in DTYPES:
        raise RooflineError(f"unknown dtype {name!r} (one of {', '.join(DTYPES)})")
    return getattr(torch, DTYPES[key])
