"""`roofline measure`: time TTFT and TPOT of a random-weight decoder of the model's shapes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..catalog import get_gpu, get_model
from ..errors import RooflineError
from .decoder import RandomDecoder, check_supported, fp8_shape_problem
from .torch_env import device_name, device_of, fp8_unsupported, load_torch, median_time, software, sync, torch_dtype
from .uncertainty import interval, situation_of

FIGURES = ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s")


def _decode_loop(dec, first, input_len: int, steps: int, graphs: bool):
    """A callable running `steps` decode steps after the prompt (replayed from a CUDA graph if asked)."""
    torch = load_torch()
    token = first.clone()
    pos = torch.tensor([input_len], device=dec.device)
    if not graphs:
        def loop():
            pos.fill_(input_len)
            token.copy_(first)
            for _ in range(steps):
                token.copy_(dec.decode_step(token, pos))
                pos.add_(1)
        return loop
    stream = torch.cuda.Stream(dec.device)
    stream.wait_stream(torch.cuda.current_stream(dec.device))
    with torch.cuda.stream(stream):  # warm up outside the capture, as the CUDA graph docs ask
        for _ in range(2):
            out = dec.decode_step(token, pos)
    torch.cuda.current_stream(dec.device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = dec.decode_step(token, pos)

    def replay():
        pos.fill_(input_len)
        token.copy_(first)
        for _ in range(steps):
            graph.replay()
            token.copy_(out)
            pos.add_(1)
    return replay


def time_decoder(m, device, dtype, batch: int, input_len: int, output_len: int, graphs: bool, reps: int,
                 fp8_weights: bool = False) -> dict:
    torch = load_torch()
    dec = RandomDecoder(m, dtype, device, batch, input_len + output_len, fp8_weights=fp8_weights)
    tokens = torch.randint(0, m.vocab_size, (batch, input_len), device=device)
    with torch.inference_mode():
        ttft = median_time(lambda: dec.prefill(tokens), device, warmup=1, reps=reps)
        first = dec.prefill(tokens)
        sync(device)
        steps = output_len - 1
        tpot = None
        if steps > 0:
            loop = _decode_loop(dec, first, input_len, steps, graphs)
            tpot = median_time(loop, device, warmup=1, reps=reps) / steps
    return {"ttft_s": ttft, "tpot_s": tpot}


def check_weight_dtype(weight_dtype: str | None, device, m) -> bool:
    """True for fp8 weights on a device that runs them; a RooflineError where it cannot."""
    if weight_dtype is None or weight_dtype in ("auto", "bf16", "fp16", "fp32"):
        if weight_dtype not in (None, "auto"):
            raise RooflineError(f"--weight-dtype {weight_dtype}: give the model's own format with --dtype")
        return False
    if weight_dtype not in ("fp8", "fp8_e4m3"):
        raise RooflineError(f"--weight-dtype {weight_dtype}: roofline measure runs fp8 weights only "
                            "(through torch's scaled matmul); the estimate takes the others")
    why = fp8_unsupported(device) or fp8_shape_problem(m)
    if why:
        raise RooflineError(f"--weight-dtype fp8: {why}")
    return True


def measure(model: str, device_arg: str, *, batch_size: int = 1, input_len: int = 128, output_len: int = 32,
            dtype: str | None = None, weight_dtype: str | None = None, cuda_graphs: bool = True, reps: int = 3,
            gpu: str | None = None, level: float = 0.8) -> dict:
    for name, v in (("--batch-size", batch_size), ("--input-len", input_len), ("--output-len", output_len), ("--reps", reps)):
        if v < 1:
            raise RooflineError(f"{name} must be at least 1, got {v}")
    m = get_model(model)
    check_supported(m)
    device = device_of(device_arg)
    torch = load_torch()
    dt_name = dtype or ("bf16" if device.type == "cuda" else "fp32")
    dt = torch_dtype(dt_name)
    if dt in (torch.int8, torch.float8_e4m3fn):
        raise RooflineError("--dtype must be a floating format the model runs in: bf16, fp16 or fp32 "
                            "(fp8 weights: --weight-dtype fp8)")
    fp8 = check_weight_dtype(weight_dtype, device, m)
    graphs = cuda_graphs and device.type == "cuda"
    try:
        t = time_decoder(m, device, dt, batch_size, input_len, output_len, graphs, reps, fp8_weights=fp8)
    except torch.cuda.OutOfMemoryError:
        raise RooflineError(f"{m.name} at batch {batch_size} × {input_len + output_len} tokens does not fit in this GPU's memory") from None
    tpot = t["tpot_s"] or 0.0
    e2e = t["ttft_s"] + (output_len - 1) * tpot
    result = {"model": m.name, "model_query": model, "device": device_name(device), "dtype": dt_name,
              "weight_dtype": "fp8" if fp8 else None, "activation_dtype": "fp8" if fp8 else None, "batch_size": batch_size,
              "input_len": input_len, "output_len": output_len, "cuda_graphs": graphs, "reps": reps,
              "ttft_s": t["ttft_s"], "tpot_s": t["tpot_s"], "e2e_latency_s": e2e,
              "output_tokens_per_s": batch_size * output_len / e2e, "software": software(device), "estimate": None}
    if gpu:
        result["estimate"] = compare(m, gpu, result, level)
    return result


def compare(m, gpu: str, r: dict, level: float) -> dict:
    from ..scenario import estimate

    est = estimate(m, get_gpu(gpu), batch_size=r["batch_size"], input_len=r["input_len"], output_len=r["output_len"],
                   dtype={"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[r["dtype"]],
                   weight_dtype=r.get("weight_dtype"), activation_dtype=r.get("activation_dtype"))
    sit = situation_of(est)
    out = {"gpu": est.gpu["name"]}
    for k in FIGURES:
        v = getattr(est, k)
        out[k] = {"estimate": v, "range": interval(k, v, sit, level),
                  "error": (v / r[k] - 1.0) if r.get(k) else None}
    return out


CSV_COLUMNS = ("id", "model", "gpu", "metric", "value", "batch_size", "input_len", "output_len", "dtype",
               "weight_dtype", "activation_dtype")


def _columns(p: Path, new: bool) -> list[str]:
    """The file's header (a new file gets CSV_COLUMNS); fp8 rows need the weight format columns."""
    if new:
        return list(CSV_COLUMNS)
    with open(p, newline="") as f:
        return next(csv.reader(line for line in f if not line.startswith("#")), [])


def append_csv(path: str, r: dict, gpu: str | None) -> None:
    """Append the measurement as `roofline validate` rows; a new file gets a header, and every run
    a comment naming the command, device and software."""
    p = Path(path)
    new = not p.exists() or p.stat().st_size == 0
    if not gpu:
        raise RooflineError("--output needs --gpu: the catalog GPU the rows are estimated on")
    target = r["estimate"]["gpu"] if r.get("estimate") else gpu  # `local` as the catalog GPU it is
    columns = _columns(p, new)
    if r.get("weight_dtype") and "weight_dtype" not in columns:
        raise RooflineError(f"{path}: its header has no weight_dtype column for fp8 rows; write them to a new file")
    lines = [",".join(columns)] if new else []
    sw = ", ".join(f"{k} {v}" for k, v in r["software"].items())
    fp8 = " --weight-dtype fp8" if r.get("weight_dtype") else ""
    cmd = (f"roofline measure {r['model_query']} -b {r['batch_size']} --input-len {r['input_len']} --output-len "
           f"{r['output_len']} --dtype {r['dtype']}{fp8} --reps {r['reps']}{'' if r['cuda_graphs'] else ' --no-cuda-graphs'}")
    lines.append(f"# {cmd} | {r['device']} | {sw} | CUDA graphs {r['cuda_graphs']}")
    tag = f"{r['model']}-b{r['batch_size']}-i{r['input_len']}-o{r['output_len']}-{r['dtype']}" + ("-fp8w" if fp8 else "")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")  # quotes a model path with a comma
    for k in ("ttft_s", "tpot_s"):
        if r[k] is not None:
            row = {"id": f"{tag}-{k.split('_')[0]}", "model": r["model_query"], "gpu": target, "metric": k,
                   "value": f"{r[k]:.6g}", "batch_size": r["batch_size"], "input_len": r["input_len"],
                   "output_len": r["output_len"], "dtype": r["dtype"], "weight_dtype": r.get("weight_dtype") or "",
                   "activation_dtype": r.get("activation_dtype") or ""}
            w.writerow([row.get(c, "") for c in columns])
    lines.append(buf.getvalue().rstrip("\n"))
    with open(p, "a") as f:
        f.write("\n".join(lines) + "\n")
