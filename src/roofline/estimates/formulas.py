"""The quick-reference formulas, computed by the tool, each with a worked example.

Every example uses catalog data (exact parameter counts, datasheet figures). Each formula also
carries the classic rule of thumb it checks, as the project's two primers state it (FUNDAMENTALS and ARCHITECTURE below),
worked with their round numbers, and says whether it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog import get_gpu, get_model
from ..cost.params import count_params
from ..specs.parallel import Parallel
from ..specs.precision import resolve_precision
from ..units import GB, fmt_bw, fmt_bytes, fmt_num, fmt_rate, fmt_time
from ..scenario import estimate
from .memory import kv_bytes_per_token


# The two primers the rules of thumb are quoted from (articles written for engineers preparing for
# inference-performance interviews; their figures are round on purpose).
FUNDAMENTALS = "primer “GPU Fundamentals & LLM Inference Mental Models”"
ARCHITECTURE = "primer “GPU Architecture for GenAI Leads”"


@dataclass(frozen=True)
class Formula:
    key: str
    name: str
    formula: str
    example: str  # with the numbers substituted
    value: float  # SI units (see unit)
    unit: str
    rule: str = ""  # the classic rule of thumb, as the primer words it
    verdict: str = ""  # agrees / differs, and why
    source: str = FUNDAMENTALS  # where the rule of thumb comes from

    @property
    def shown(self) -> str:
        """The value with its unit, as people read it (13.5 GB, 6.61 ms, 153 FLOP/B)."""
        if self.unit == "B":
            return fmt_bytes(self.value)
        if self.unit == "s":
            return fmt_time(self.value)
        return f"{fmt_num(self.value)} {self.unit}"

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "formula": self.formula, "example": self.example,
                "value": self.value, "unit": self.unit, "rule_of_thumb": self.rule, "source": self.source,
                "verdict": self.verdict}


def formulas() -> list[Formula]:
    out: list[Formula] = []
    a100, h100, a6000 = get_gpu("a100-sxm-80gb"), get_gpu("h100-sxm"), get_gpu("rtx-a6000")
    l7 = get_model("llama-2-7b")
    p7 = count_params(l7).total
    fp16 = resolve_precision(a100, "fp16")
    bw, peak = a100.memory_bandwidth, a100.peak("fp16")

    w7 = p7 * 2
    out.append(Formula("weights", "Weight memory", "params × bytes per param",
                       f"{p7:,} × 2 B (fp16)", w7, "B",
                       "Llama-7B at FP16: 14 GB of weights", "agrees: 13.5 GB exactly (6.7B params, not 7B)"))
    kv = kv_bytes_per_token(l7, fp16, Parallel())
    a = l7.attention
    out.append(Formula("kv_per_token", "KV cache per token", "2 (K and V) × layers × kv_heads × head_dim × bytes",
                       f"2 × {l7.num_layers} × {a.num_kv_heads} × {a.head_dim} × 2 B", kv, "B",
                       "KV cache grows as O(batch × seq_len × layers × d_head × kv_heads)", "agrees: 0.5 MB per token for Llama-2-7B"))
    out.append(Formula("kv_total", "KV cache total", "KV per token × tokens × batch",
                       f"{kv:,.0f} B × 4096 × 32", kv * 4096 * 32, "B",
                       "at batch 32+ the KV cache dominates", f"agrees: {fmt_bytes(kv * 4096 * 32)} of KV vs {fmt_bytes(w7)} of weights"))
    t_mem_round = 14 * GB / 2e12
    t_mem = w7 / bw
    out.append(Formula("decode_time", "Decode time per token (memory-bound)", "weight bytes / memory bandwidth",
                       f"{fmt_bytes(w7)} / {fmt_bw(bw)} (rule of thumb: 14 GB / 2 TB/s = {fmt_time(t_mem_round)})", t_mem, "s",
                       "14 GB / 2 TB/s = 7 ms", f"agrees: {fmt_time(t_mem)} with the exact weights and the datasheet 2.039 TB/s"))
    flops_tok = 2 * p7
    t_comp = flops_tok / peak
    out.append(Formula("decode_compute", "Decode compute per token", "2 × params FLOPs / peak FLOP/s",
                       f"2 × {p7:,} / {fmt_rate(peak)} (rule of thumb: 14 GFLOP / 312 TFLOP/s = {fmt_time(14e9 / 312e12)})", t_comp, "s",
                       "~14 GFLOP per token, 0.045 ms at 312 TFLOPS", f"agrees: {fmt_time(t_comp)}"))
    out.append(Formula("gap", "Memory time / compute time at batch 1", "(weight bytes / BW) / (2·params / peak) = peak / (BW × bytes/2)",
                       f"{fmt_time(t_mem)} / {fmt_time(t_comp)}", t_mem / t_comp, "×",
                       "150x", f"agrees: {t_mem / t_comp:.0f}× (the ridge point itself, since AI = 1 at batch 1 in fp16)"))
    ridge = peak / bw
    out.append(Formula("ridge", "Ridge point", "peak FLOP/s / memory bandwidth",
                       f"{fmt_rate(peak)} / {fmt_bw(bw)} (rule of thumb: 312 TFLOP/s / 2 TB/s = 156)", ridge, "FLOP/B",
                       "ridge point of 156 (A100)", f"agrees: {ridge:.0f} with 2.039 TB/s, 156 with the rounded 2.0 TB/s"))
    out.append(Formula("decode_ai", "Decode arithmetic intensity", "2 × batch × params / (params × bytes) = batch (fp16)",
                       "2 × 1 × N / (N × 2 B)", 1.0, "FLOP/B",
                       "AI of 1 at batch 1, 0.6% of the ridge", f"agrees: 1 / {ridge:.0f} = {100 / ridge:.2f}%"))
    round_gpu = a100.model_copy(update={"memory_bandwidth": 2.0e12})
    e_round = estimate(l7, round_gpu, dtype="fp16", batch_size=1, input_len=2048, output_len=2, ideal=True)
    e = estimate(l7, a100, dtype="fp16", batch_size=1, input_len=1, output_len=2, ideal=True)
    out.append(Formula("critical_batch", "Critical batch (decode turns compute-bound)",
                       "ridge × bytes/param / 2, plus activation traffic: smallest b with GEMM FLOP time ≥ byte time",
                       f"weights only: 156 × 2 / 2 = 156; with activations at 2.0 TB/s: {e_round.critical_batch_size}; at 2.039 TB/s: {e.critical_batch_size}",
                       float(e_round.critical_batch_size or 0), "sequences",
                       "~156 to saturate; time flat while batch < ~164",
                       "agrees: 156 counts weights only; the tool's exact count adds each token's activation reads and writes, "
                       f"which gives {e_round.critical_batch_size} at 2.0 TB/s, the primer's ~164"))
    t_pre = 2 * p7 * 2048 / peak
    pre = estimate(l7, a100, dtype="fp16", batch_size=1, input_len=2048, output_len=1, ideal=True)
    out.append(Formula("prefill_time", "Prefill time (compute-bound)", "2 × params × prompt tokens / peak (+ attention)",
                       f"2 × {p7:,} × 2048 / {fmt_rate(peak)} = {fmt_time(t_pre)}; with attention: {fmt_time(pre.ttft_s)}",
                       pre.ttft_s, "s",
                       "a 2048-token prompt takes about 9 ms",
                       f"WRONG in the primer: {fmt_time(pre.ttft_s)} at peak, ~10× the primer's 9 ms (which needs ~3 PFLOP/s)"))
    cross = _prefill_crossing(l7, a100)
    out.append(Formula("prefill_crossing", "Prefill crosses the ridge", "smallest prompt length with prefill FLOPs / bytes ≥ ridge",
                       f"search over L with the tool's prefill cost graph (fp16, batch 1)", float(cross), "tokens",
                       "~300-400 tokens",
                       f"differs: {cross} tokens. Prefill of L tokens runs the same weight GEMMs as decode at batch L, "
                       "so it crosses where decode saturates (~156-164) or earlier (its attention adds FLOPs); "
                       "300-400 would need half the FLOPs per byte, as if a multiply-add counted as one FLOP"))
    plateau = peak / (2 * p7)
    out.append(Formula("plateau", "Decode throughput ceiling", "peak / (2 × params) tokens/s",
                       f"{fmt_rate(peak)} / (2 × {p7:,}) (with 7B: {312e12 / 14e9:,.0f})", plateau, "tokens/s",
                       "throughput plateaus at ~22K tokens/s", f"agrees: {plateau:,.0f} tokens/s"))
    l70 = get_model("llama-2-70b")
    w70 = count_params(l70).total * 2
    est70 = estimate(l70, a100, dtype="fp16", tp=2, batch_size=1, input_len=4096, output_len=256)
    est70_4 = estimate(l70, a6000, dtype="fp16", tp=4, batch_size=1, input_len=4096, output_len=256)
    out.append(Formula("70b_fp16", "Sizing Llama-2-70B at FP16", "params × 2 B split over tp GPUs (+ KV + overhead)",
                       f"{count_params(l70).total:,} × 2 B = {fmt_bytes(w70)}; TP=2 on A100-80GB: {fmt_bytes(est70.memory.total_bytes)} per GPU "
                       f"({'fits' if est70.memory.fits else 'does not fit'}); TP=4 on RTX A6000: {fmt_bytes(est70_4.memory.total_bytes)} per GPU "
                       f"({'fits' if est70_4.memory.fits else 'does not fit'})",
                       w70, "B", "140 GB + 20-30 GB KV = ~170 GB: 2x A100 80GB or 4x A6000",
                       "agrees on the hardware; but 170 GB exceeds 2 × 80 GB: two A100s leave ~20 GB for KV in all "
                       "(~64k tokens at 0.33 MB/token with GQA), not 20-30 GB on top", ARCHITECTURE))
    e4 = estimate(l70, a100, weight_dtype="int4", batch_size=1, input_len=4096, output_len=256)
    out.append(Formula("70b_int4", "Llama-2-70B at INT4 on one A100-80GB", "params × 4.125 bits / 8 (g128 scales) + KV + overhead",
                       f"weights {fmt_bytes(e4.memory.weights_bytes)}, total {fmt_bytes(e4.memory.total_bytes)} of {fmt_bytes(a100.memory_bytes)}",
                       e4.memory.total_bytes, "B", "INT4 makes 70B feasible on one GPU",
                       "agrees" if e4.memory.fits else "differs: does not fit"))
    ratio = h100.memory_bandwidth / a100.memory_bandwidth
    out.append(Formula("h100_vs_a100", "H100 vs A100 decode speed-up (memory-bound)", "bandwidth ratio",
                       f"{fmt_bw(h100.memory_bandwidth)} / {fmt_bw(a100.memory_bandwidth)} (rule of thumb: 3.35 / 2.0 = 1.68)", ratio, "×",
                       "the 3.35 TB/s vs 2 TB/s bandwidth upgrade", f"agrees: {ratio:.2f}× at batch 1", ARCHITECTURE))
    fp8 = h100.peak("fp8") / a100.peak("bf16")
    out.append(Formula("fp8_speedup", "H100 FP8 vs A100 BF16 tensor throughput", "dense peaks ratio",
                       f"{fmt_rate(h100.peak('fp8'))} / {fmt_rate(a100.peak('bf16'))}", fp8, "×",
                       "FP8 Tensor Cores (which are 6x faster)", f"agrees: {fp8:.1f}× dense (vendors' sparse figures would double both)", ARCHITECTURE))
    sram = a100.compute_units * a100.l1_smem_per_unit_bytes
    out.append(Formula("sram", "On-chip SRAM vs HBM (A100)", "SMs × L1/shared per SM; HBM / SRAM",
                       f"{a100.compute_units} × {a100.l1_smem_per_unit_bytes / 1024:g} KiB = {fmt_bytes(sram)}; {fmt_bytes(a100.memory_bytes)} / {fmt_bytes(sram)}",
                       a100.memory_bytes / sram, "×", "~20 MB SRAM, HBM ~4000x larger",
                       f"agrees: {fmt_bytes(sram)} of SRAM, {a100.memory_bytes / sram:,.0f}× smaller than HBM"))
    return out


def _prefill_crossing(model, gpu) -> int:
    """Smallest prompt length whose whole prefill step has arithmetic intensity ≥ the ridge."""
    import numpy as np

    from ..cost.graph import step_ops
    from .timing import roofs, time_step

    prec = resolve_precision(gpu, "fp16")
    par = Parallel()
    lengths = np.arange(1, 2049, dtype=float)
    st = time_step(step_ops(model, prec, par, "prefill", 1, lengths, 1), roofs(gpu, prec, par, ideal=True), par)
    ai = np.asarray(st.flops) / np.asarray(st.bytes)
    return int(lengths[np.nonzero(ai >= gpu.ridge_point("fp16"))[0][0]])
