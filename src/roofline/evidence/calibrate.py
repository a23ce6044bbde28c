"""Measure the local device: bandwidth, matmul rates, attention efficiency, launch overhead and,
with several GPUs, all-reduce. GPU shapes are sized past the L2 cache and to fill the GPU; the CPU
shapes are small, to exercise every code path in tests (their numbers describe the CPU only)."""

from __future__ import annotations

from .torch_env import fp8_unsupported, load_torch, median_time, random_tensor, torch_dtype

# (GPU, CPU) sizes. 1 GiB copies dwarf any L2 (H100 50 MB, B200 126 MB); 8192² GEMMs fill every SM.
COPY_BYTES = (1 << 30, 32 << 20)
GEMM_N = (8192, 256)
ATTN_PREFILL = ((1, 32, 4096, 128), (1, 4, 256, 64))  # batch, heads, tokens, head dim
ATTN_DECODE = ((16, 32, 4096, 128), (2, 4, 512, 64))  # batch, heads, cached tokens, head dim
LAUNCH_KERNELS = 200
ALL_REDUCE_BYTES = ((32 << 10, 1 << 20, 16 << 20, 256 << 20), (32 << 10, 1 << 20))


def _pick(pair, device):
    return pair[0] if device.type == "cuda" else pair[1]


def memory_bandwidth(device) -> dict:
    """A device-to-device copy: read + write bytes over the median time."""
    n = _pick(COPY_BYTES, device) // 4
    src = random_tensor((n,), load_torch().float32, device)
    dst = src.clone()
    t = median_time(lambda: dst.copy_(src), device)
    return {"bytes_per_s": 2 * 4 * n / t, "copy_bytes": 4 * n, "median_s": t}


def matmul_rate(device, dtype: str) -> dict | None:
    """Dense n×n×n matmul FLOP/s in `dtype`; fp8 through the scaled matmul, int8 through the integer one.
    None with the reason where this device has no such matmul."""
    torch = load_torch()
    n = _pick(GEMM_N, device)
    try:
        if dtype == "fp8":
            why = fp8_unsupported(device)
            if why:
                return {"skipped": why}
            # e4m3 inputs (the format of fp8 weights and activations), B column-major as cuBLASLt
            # wants it, per-tensor float32 scales, bf16 output: the GEMM an fp8 checkpoint runs
            a = random_tensor((n, n), torch.bfloat16, device).to(torch.float8_e4m3fn)
            b = random_tensor((n, n), torch.bfloat16, device).to(torch.float8_e4m3fn).t()
            one = torch.ones((), dtype=torch.float32, device=device)
            fn = lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)  # noqa: E731
        elif dtype == "int8":
            a, b = random_tensor((n, n), torch.int8, device), random_tensor((n, n), torch.int8, device)
            fn = lambda: torch._int_mm(a, b)  # noqa: E731
        else:
            dt = torch_dtype(dtype)
            a, b = random_tensor((n, n), dt, device), random_tensor((n, n), dt, device)
            fn = lambda: a @ b  # noqa: E731
        t = median_time(fn, device)
    except (RuntimeError, NotImplementedError) as e:  # a kernel this build or device lacks
        return {"skipped": f"{dtype} matmul unavailable here: {str(e).splitlines()[0][:120]}"}
    return {"flops_per_s": 2.0 * n**3 / t, "n": n, "median_s": t}


def attention(device, dtype: str, matmul_flops: float | None, bandwidth: float) -> dict:
    """scaled_dot_product_attention at a causal prefill shape (efficiency = FLOP/s / the measured
    matmul rate) and at a decode shape, one query over a KV cache (efficiency = bytes/s / the
    measured copy bandwidth)."""
    torch = load_torch()
    F = torch.nn.functional
    dt = torch_dtype(dtype)
    b, h, s, d = _pick(ATTN_PREFILL, device)
    q, k, v = (random_tensor((b, h, s, d), dt, device) for _ in range(3))
    t_pre = median_time(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), device)
    flops = 4.0 * b * h * s * s * d / 2  # QK^T and PV, causal half
    B, H, L, D = _pick(ATTN_DECODE, device)
    q1 = random_tensor((B, H, 1, D), dt, device)
    kc, vc = random_tensor((B, H, L, D), dt, device), random_tensor((B, H, L, D), dt, device)
    t_dec = median_time(lambda: F.scaled_dot_product_attention(q1, kc, vc), device)
    kv_bytes = 2.0 * B * H * L * D * kc.element_size()
    return {"prefill_flops_per_s": flops / t_pre, "prefill_efficiency": flops / t_pre / matmul_flops if matmul_flops else None,
            "prefill_shape": [b, h, s, d], "decode_bytes_per_s": kv_bytes / t_dec,
            "decode_efficiency": kv_bytes / t_dec / bandwidth, "decode_shape": [B, H, L, D]}


def launch_overhead(device) -> dict:
    """Per-kernel time of many tiny kernels: launched one by one (eager), and replayed from a CUDA
    graph (GPU only)."""
    torch = load_torch()
    x = torch.zeros(1, device=device)

    def burst():
        for _ in range(LAUNCH_KERNELS):
            x.add_(1.0)

    eager = median_time(burst, device) / LAUNCH_KERNELS
    out = {"eager_s": eager, "graph_s": None, "kernels": LAUNCH_KERNELS}
    if device.type != "cuda":
        out["graph_note"] = "CUDA graphs exist only on a CUDA device"
        return out
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):  # warm up on a side stream before capture, as the CUDA graph docs ask
        burst()
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        burst()
    out["graph_s"] = median_time(graph.replay, device) / LAUNCH_KERNELS
    return out


def measure_all(device, dtypes: list[str]) -> dict:
    bw = memory_bandwidth(device)
    mm = {d: matmul_rate(device, d) for d in dtypes}
    base = next((d for d in ("bf16", "fp16", "fp32") if d in mm and "flops_per_s" in mm[d]), None)
    att_dtype = base or "fp32"
    rate = mm[base]["flops_per_s"] if base else None
    return {"memory": bw, "matmul": mm, "attention": {"dtype": att_dtype, **attention(device, att_dtype, rate, bw["bytes_per_s"])},
            "launch": launch_overhead(device)}
