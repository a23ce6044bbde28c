"""All-reduce latency and bus bandwidth across message sizes, one process per GPU (NCCL), or per
CPU worker (gloo) to exercise the same path in tests. Bus bandwidth = 2(n − 1)/n × bytes / time,
the ring's traffic per GPU, as nccl-tests reports it."""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from .torch_env import load_torch

REPS, WARMUP = 10, 3


def _worker(rank: int, world: int, init_file: str, device_type: str, sizes: list[int], out_dir: str) -> None:
    torch = load_torch()
    dist = torch.distributed
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank, world_size=world)
    device = torch.device("cuda", rank) if device_type == "cuda" else torch.device("cpu")
    if device_type == "cuda":
        torch.cuda.set_device(device)
    rows = []
    for size in sizes:
        x = torch.randn(size // 4, device=device)
        times = []
        for i in range(WARMUP + REPS):
            dist.barrier()
            if device_type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()  # host clock: a collective spans processes, events do not
            dist.all_reduce(x)
            if device_type == "cuda":
                torch.cuda.synchronize(device)
            if i >= WARMUP:
                times.append(time.perf_counter() - t0)
        t = statistics.median(times)
        rows.append((size, t, 2 * (world - 1) / world * size / t))
    if rank == 0:
        with open(os.path.join(out_dir, "result.txt"), "w") as f:
            f.writelines(f"{s} {t!r} {b!r}\n" for s, t, b in rows)
    dist.destroy_process_group()


def all_reduce(device_type: str, world: int, sizes: list[int]) -> list[dict]:
    """Median latency and bus bandwidth per message size over `world` processes."""
    torch = load_torch()
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "init")
        torch.multiprocessing.spawn(_worker, args=(world, init_file, device_type, sizes, tmp), nprocs=world, join=True)
        with open(os.path.join(tmp, "result.txt")) as f:
            rows = [line.split() for line in f]
    return [{"bytes": int(s), "latency_s": float(t), "bus_bandwidth": float(b), "gpus": world} for s, t, b in rows]
