"""The operator graph of one forward step (a prefill or one decode step), per GPU.

Per layer: norms (with the residual add fused in), QKV projection, attention over the KV cache,
output projection, MLP or MoE (router, the experts a batch touches, shared experts), and the
tensor-parallel all-reduces; once per step: embedding lookup, final norm, lm_head and sampling.
Shapes are per GPU under tensor parallelism; a step walks every layer (all pipeline stages).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..specs.model import Layer, ModelSpec
from ..specs.parallel import Parallel, Shard
from ..specs.precision import Precision
from .context import attended_sum, mean_decode_context
from .expert_parallel import expert_parallel_ops, group_tokens
from .ops import Num, Op, gemm, n, vector


# Kernel launches per operator, as serving engines issue them; each pays `kernel_overhead_s`.
ATTENTION_KERNELS = 2  # rotary embedding + KV-cache write, then the attention kernel
ROUTER_KERNELS = 3  # router GEMM, top-k selection, token permutation to the experts
SAMPLING_KERNELS = 2  # softmax / top-p over the logits, then the draw


@dataclass(frozen=True)
class Widths:
    """Bytes per element of each tensor class; arrays when a sweep mixes GPUs of different formats."""

    w: Num  # quantized linear weights
    a: Num  # activations and unquantized weights
    a_in: Num  # GEMM inputs (1 byte under W8A8)
    kv: Num
    dequant: Num  # 1 where weights are unpacked inside the GEMM, else 0
    # per module class where a checkpoint stores them differently (None: as `w` / `dequant`)
    w_attention: Num | None = None
    w_mlp: Num | None = None
    w_experts: Num | None = None
    w_shared_experts: Num | None = None
    dequant_attention: Num | None = None
    dequant_mlp: Num | None = None
    dequant_experts: Num | None = None
    dequant_shared_experts: Num | None = None

    @staticmethod
    def of(p: Precision) -> "Widths":
        per_module = {}
        for m, _ in p.module_weights:
            per_module[f"w_{m}"] = p.weight_for(m).bytes
            per_module[f"dequant_{m}"] = 1.0 if p.weight_only_for(m) else 0.0
        return Widths(p.weight.bytes, p.model.bytes, p.activation.bytes, p.kv_cache.bytes,
                      1.0 if p.weight_only else 0.0, **per_module)

    def module(self, name: str) -> "Widths":
        """These widths with the linear weights of one module class (attention, mlp, experts, shared_experts)."""
        w, dq = getattr(self, f"w_{name}"), getattr(self, f"dequant_{name}")
        return self if w is None else replace(self, w=w, dequant=dq)


def expected_experts(num_experts: int, k: int, tokens: Num) -> Num:
    """Distinct experts hit when `tokens` tokens each pick k of E uniformly: E·(1 − (1 − k/E)^T)."""
    return num_experts * (1.0 - (1.0 - k / num_experts) ** np.asarray(tokens, dtype=float))


def _label(layer: Layer, moe: bool) -> str:
    span = "global" if layer.window_kind == "global" else f"{layer.window_kind}-{layer.window}"
    return f"{span}{'+moe' if moe else ''}"


def _mla_ops(m: ModelSpec, s: Shard, w: Widths, count: int, phase: str, T: Num, pairs: Num, keys: Num | None,
             ctx_note: str, trace: bool, g: str) -> list[Op]:
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank query and KV projections; prefill expands
    the latent to per-head keys and values, decode attends in the latent space (weights absorbed)."""
    a, d, h = m.attention, m.hidden_size, s.heads
    ops: list[Op] = []
    r = a.mla
    qk = r.qk_nope_head_dim + r.qk_rope_head_dim
    lat = r.kv_lora_rank + r.qk_rope_head_dim  # cached per token: latent + shared rope key
    if r.q_lora_rank:
        ops.append(gemm("q_a_proj", T, d, r.q_lora_rank, wb=w.w, ib=w.a_in, ob=w.a, count=count, group=g, trace=trace, dequant=w.dequant))
        ops.append(gemm("q_b_proj", T, r.q_lora_rank, int(h * qk), wb=w.w, ib=w.a_in, ob=w.a, count=count, group=g, trace=trace, dequant=w.dequant))
    else:
        ops.append(gemm("q_proj", T, d, int(h * qk), wb=w.w, ib=w.a_in, ob=w.a, count=count, group=g, trace=trace, dequant=w.dequant))
    ops.append(gemm("kv_a_proj", T, d, lat, wb=w.w, ib=w.a_in, ob=w.a, count=count, group=g, trace=trace, dequant=w.dequant))
    if phase == "prefill":  # expand the latent to per-head keys and values, then ordinary attention
        ops.append(gemm("kv_b_proj", T, r.kv_lora_rank, int(h * (r.qk_nope_head_dim + a.v_head_dim)),
                        wb=w.w, ib=w.a, ob=w.a, count=count, group=g, trace=trace, dequant=w.dequant))
        flops = 2.0 * pairs * h * (qk + a.v_head_dim)
        nbytes = T * h * (2 * qk + a.v_head_dim) * w.a + T * h * a.v_head_dim * w.a_in + T * lat * w.kv
        op = Op("attention", "attention", flops, nbytes, count=count, kernels=ATTENTION_KERNELS, group=g)
        if trace:
            op.expr = {"flops": f"2·pairs·h·(d_qk+d_v) = 2 × {n(pairs)} × {n(h)} × {n(qk + a.v_head_dim)}",
                       "bytes": f"q,k,v in + out + latent write = {n(T)} × {n(h)} × {n(2 * qk + a.v_head_dim)} × {n(w.a)} + {n(T)} × {n(h * a.v_head_dim)} × {n(w.a_in)} + {n(T)} × {n(lat)} × {n(w.kv)}"}
        ops.append(op)
    else:  # absorbed: queries move into the latent space, attention reads each latent once
        ops.append(gemm("q_absorb (W_UK)", T, r.qk_nope_head_dim, r.kv_lora_rank, wb=w.w, ib=w.a, ob=w.a,
                        count=count, group=g, trace=trace, heads=h, dequant=w.dequant))
        flops = 2.0 * pairs * h * (lat + r.kv_lora_rank)
        nbytes = keys * lat * w.kv + T * h * lat * w.a + T * h * r.kv_lora_rank * w.a + T * lat * w.kv
        op = Op("attention (latent)", "attention", flops, nbytes, count=count, kernels=ATTENTION_KERNELS, group=g)
        if trace:
            op.expr = {"flops": f"2·{ctx_note}·h·(d_latent+d_rope + d_latent) = 2 × {n(pairs)} × {n(h)} × {n(lat + r.kv_lora_rank)}",
                       "bytes": f"latent cache read b·c̄·(r+d_rope)·kv + q + out + write = {n(keys)} × {n(lat)} × {n(w.kv)} + {n(T)} × {n(h)} × {n(lat + r.kv_lora_rank)} × {n(w.a)} + {n(T)} × {n(lat)} × {n(w.kv)}"}
        ops.append(op)
        ops.append(gemm("v_unabsorb (W_UV)", T, r.kv_lora_rank, a.v_head_dim, wb=w.w, ib=w.a, ob=w.a_in,
                        count=count, group=g, trace=trace, heads=h, dequant=w.dequant))
    ops.append(gemm("o_proj", T, int(h * a.v_head_dim), d, wb=w.w, ib=w.a_in, ob=w.a, count=count, group=g, trace=trace, dequant=w.dequant))
    return ops


def _attention_ops(m: ModelSpec, s: Shard, w: Widths, layer: Layer, count: int, phase: str,
                   b: Num, L: Num, out: Num, trace: bool, g: str, q: Num = 1) -> list[Op]:
    a, d = m.attention, m.hidden_size
    w = w.module("attention")
    T = b * (L if phase == "prefill" else q)
    h, kvh = s.heads, s.kv_heads
    if phase == "prefill":
        pairs = b * attended_sum(L, layer)  # (query, key) pairs over the batch
        ctx_note, keys = "b·S(L)", None
    else:
        keys = b * mean_decode_context(L, out, layer)  # cached keys read: once per sequence, shared by its q queries
        pairs = keys * q
        ctx_note = "b·c̄" if np.all(np.asarray(q) == 1) else "b·q·c̄"
    if a.mla:
        return _mla_ops(m, s, w, count, phase, T, pairs, keys, ctx_note, trace, g)
    ops: list[Op] = []

    q_w, kv_w = int(h * a.head_dim), int(kvh * (a.head_dim + a.v_head_dim))
    bias = (q_w + kv_w) if a.qkv_bias else 0
    ops.append(gemm("qkv_proj", T, d, q_w + kv_w, wb=w.w, ib=w.a_in, ob=w.a, count=count, group=g, trace=trace,
                    dequant=w.dequant, bias=bias))
    kv_per_token = kvh * (a.head_dim + a.v_head_dim)
    flops = 2.0 * pairs * h * (a.head_dim + a.v_head_dim)
    if phase == "prefill":
        # flash attention reads q, k, v once, writes the output and the new cache entries
        nbytes = T * (q_w + kv_w) * w.a + T * h * a.v_head_dim * w.a_in + T * kv_per_token * w.kv
        read = lambda: f"q,k,v in {n(T)} × {n(q_w + kv_w)} × {n(w.a)}"  # noqa: E731
    else:
        # each sequence streams its cached keys and values once, shared by the heads of a group
        nbytes = keys * kv_per_token * w.kv + T * (q_w + kv_w) * w.a + T * h * a.v_head_dim * w.a_in + T * kv_per_token * w.kv
        read = lambda: f"KV read b·c̄·kvh·(d_k+d_v)·kv = {n(keys)} × {n(kv_per_token)} × {n(w.kv)} + q,k,v in {n(T)} × {n(q_w + kv_w)} × {n(w.a)}"  # noqa: E731
    op = Op("attention", "attention", flops, nbytes, count=count, kernels=ATTENTION_KERNELS, group=g)
    if trace:
        op.expr = {
            "flops": f"2·{ctx_note}·h·(d_k+d_v) = 2 × {n(pairs)} × {n(h)} × {n(a.head_dim + a.v_head_dim)}",
            "bytes": f"{read()} + out {n(T)} × {n(h * a.v_head_dim)} × {n(w.a_in)} + KV write {n(T)} × {n(kv_per_token)} × {n(w.kv)}",
        }
    ops.append(op)
    ops.append(gemm("o_proj", T, int(h * a.v_head_dim), d, wb=w.w, ib=w.a_in, ob=w.a, count=count, group=g, trace=trace,
                    dequant=w.dequant, bias=d if a.o_bias else 0))
    return ops


def _mlp_ops(m: ModelSpec, s: Shard, w: Widths, width: float, name: str, T: Num, count: int, trace: bool, g: str,
             weights_read_factor: Num = 1.0, tokens_through: Num | None = None) -> list[Op]:
    """A (gated) MLP of `width`, or a set of experts when `weights_read_factor` counts experts touched."""
    d = m.hidden_size
    width = int(round(width))
    up = (2 if m.mlp.gated else 1) * width
    tt = T if tokens_through is None else tokens_through  # token-expert pairs for MoE
    ops = [
        gemm(f"{name}_gate_up" if m.mlp.gated else f"{name}_up", tt, d, up, wb=w.w, ib=w.a_in, ob=w.a, count=count,
             group=g, trace=trace, dequant=w.dequant, weights_read=weights_read_factor * d * up),
    ]
    act = vector(f"{name}_act", 5.0 * tt * width, tt * up * w.a + tt * width * w.a_in, count=count, group=g, trace=trace,
                 expr=lambda: (f"~5·M·I = 5 × {n(tt)} × {n(width)}", f"in M·{'2I' if m.mlp.gated else 'I'}·a + out M·I·a_in = {n(tt)} × {n(up)} × {n(w.a)} + {n(tt)} × {n(width)} × {n(w.a_in)}"))
    ops.append(act)
    ops.append(gemm(f"{name}_down", tt, width, d, wb=w.w, ib=w.a_in, ob=w.a, count=count, group=g, trace=trace,
                    dequant=w.dequant, weights_read=weights_read_factor * width * d))
    return ops


def _ffn_ops(m: ModelSpec, s: Shard, w: Widths, layer: Layer, count: int, T: Num, trace: bool, g: str,
             routed_tokens: Num | None = None) -> list[Op]:
    if not (layer.moe and m.moe):
        return _mlp_ops(m, s, w.module("mlp"), s.mlp, "mlp", T, count, trace, g)
    e, d = m.moe, m.hidden_size
    ops = [gemm("router", T, d, e.num_experts, wb=w.a, ib=w.a, ob=4.0, count=count, group=g, trace=trace, kernels=ROUTER_KERNELS)]
    # routed: the batch touches E·(1−(1−k/E)^T) distinct experts (of those held on this GPU)
    # tokens reaching the experts: this replica's, or every replica's under expert parallelism
    R = T if routed_tokens is None else routed_tokens
    touched = expected_experts(e.num_experts, e.experts_per_token, R) * (s.experts / e.num_experts)
    pairs = R * e.experts_per_token * (s.experts / e.num_experts)
    experts = _mlp_ops(m, s, w.module("experts"), s.expert_width, "experts", T, count, trace, g,
                       weights_read_factor=touched, tokens_through=pairs)
    if trace:
        experts[0].expr["note"] = (f"experts touched E·(1−(1−k/E)^T) = {e.num_experts} × (1 − (1 − {e.experts_per_token}/{e.num_experts})^{n(R)})"
                                   f" = {n(touched)} on this GPU")
    ops += experts
    if s.shared_width:
        ops += _mlp_ops(m, s, w.module("shared_experts"), s.shared_width, "shared_expert", T, count, trace, g)
    return ops


def step_ops(m: ModelSpec, prec: Precision | Widths, par: Parallel, phase: str, batch: Num, input_len: Num,
             output_len: Num, *, trace: bool = False, query_len: Num = 1) -> list[Op]:
    """Every operator of one prefill (phase='prefill') or one mean decode step, per GPU.

    `query_len`: tokens per sequence in a decode step (k + 1 when a speculative verifier checks k
    drafted tokens); each reads the sequence's cached keys once and gets its own logits."""
    w = prec if isinstance(prec, Widths) else Widths.of(prec)
    s = Shard.of(m, par)
    d, b = m.hidden_size, np.asarray(batch, dtype=float)
    L = np.asarray(input_len, dtype=float)
    T = b * L if phase == "prefill" else b * np.asarray(query_len, dtype=float)
    norm_flops = 4.0 if m.norm == "rms" else 7.0
    ops: list[Op] = [
        vector("embedding", 0.0, T * d * w.a * 2, count=1, group="model", trace=trace,
               expr=lambda: ("0 (row gather)", f"read + write T·d·a = 2 × {n(T)} × {n(d)} × {n(w.a)}"))
    ]
    reduces = 1 if m.parallel_attention else 2
    for layer, count in m.layer_groups():
        g = _label(layer, layer.moe and m.moe is not None)
        ops.append(vector("norms+residual", m.norms_per_layer * norm_flops * T * d, m.norms_per_layer * T * d * (2 * w.a + w.a_in),
                          count=count, kernels=m.norms_per_layer, group=g, trace=trace,
                          expr=lambda: (f"{m.norms_per_layer} norms × {norm_flops:g}·T·d = {m.norms_per_layer} × {norm_flops:g} × {n(T)} × {n(d)}", f"{m.norms_per_layer} × T·d·(x + residual + out) = {m.norms_per_layer} × {n(T)} × {n(d)} × ({n(w.a)} + {n(w.a)} + {n(w.a_in)})")))
        ops += _attention_ops(m, s, w, layer, count, phase, b, L, output_len, trace, g, q=1 if phase == "prefill" else query_len)
        ops += _ffn_ops(m, s, w, layer, count, T, trace, g, routed_tokens=group_tokens(par, T))
        ep_ops, replaced = expert_parallel_ops(m, par, w, T, count, trace, g) if layer.moe else ([], 0)
        ops += ep_ops
        if par.tp > 1 and reduces - replaced > 0:
            msg = T * d * w.a
            op = Op("tp_all_reduce", "comm", 0.0, 0.0, count=count * (reduces - replaced), kernels=0, comm=msg, comm_kind="all_reduce", group=g)
            if trace:
                op.expr = {"bytes": f"message T·d·a = {n(T)} × {n(d)} × {n(w.a)}, {reduces - replaced} per layer"}
            ops.append(op)
    rows = b if phase == "prefill" else T  # logits for the last position of each sequence (every verified one)
    ops.append(vector("final_norm", norm_flops * T * d, T * d * 2 * w.a, count=1, group="model", trace=trace,
                      expr=lambda: (f"{norm_flops:g}·T·d = {norm_flops:g} × {n(T)} × {n(d)}", f"2·T·d·a = 2 × {n(T)} × {n(d)} × {n(w.a)}")))
    ops.append(gemm("lm_head", rows, d, int(round(s.vocab)), wb=w.a, ib=w.a, ob=4.0, count=1, group="model", trace=trace,
                    bias=int(round(s.vocab)) if m.lm_head_bias else 0))
    ops.append(vector("sampling", 5.0 * rows * s.vocab, 2 * rows * s.vocab * 4.0, count=1, kernels=SAMPLING_KERNELS, group="model", trace=trace,
                      expr=lambda: (f"~5·b·V = 5 × {n(rows)} × {n(s.vocab)}", f"fp32 logits in and out 2·b·V·4 = 2 × {n(rows)} × {n(s.vocab)} × 4")))
    if par.pp > 1:
        op = Op("pp_send_recv", "comm", 0.0, 0.0, count=par.pp - 1, kernels=0, comm=T * d * w.a, comm_kind="p2p", group="model")
        if trace:
            op.expr = {"bytes": f"activations T·d·a = {n(T)} × {n(d)} × {n(w.a)} per stage boundary"}
        ops.append(op)
    if phase == "prefill":  # variable-shape prefills are launched eagerly, not replayed as CUDA graphs
        for op in ops:
            op.eager = True
    return ops
