"""A decoder with random weights, built in plain PyTorch from a model's config, to time real
kernels of the model's shapes: RMSNorm, fused QKV projection, rotary embedding, attention over a
static KV cache (grouped-query heads shared), output projection, gated or plain MLP, lm_head.

The KV cache is allocated for the whole sequence up front and decode attends over it with a mask,
so one decode step has fixed shapes and can be captured in a CUDA graph (as serving engines do);
each step therefore reads the whole allocated cache, at most output_len tokens more than it must.
Dense models only: mixture-of-experts and MLA layers are not built here.

With fp8 weights the four projections of each layer (QKV, output, up/gate, down) run through
torch's scaled matmul: weights stored in float8 e4m3 with one float32 scale per tensor, activations
quantized to e4m3 per tensor on the fly (amax / 448), output in the model's dtype. That is the W8A8
fp8 scheme vLLM runs for fp8 checkpoints on Hopper; embedding and lm_head stay in the model's dtype,
as there. The activation quantization runs as separate PyTorch kernels where engines fuse it."""

from __future__ import annotations

from ..errors import RooflineError
from ..specs.model import ModelSpec
from .torch_env import load_torch


def check_supported(m: ModelSpec) -> None:
    if m.is_moe:
        raise RooflineError(f"{m.name}: roofline measure builds dense decoders only (mixture-of-experts is not built)")
    if m.attention.mla is not None:
        raise RooflineError(f"{m.name}: roofline measure does not build multi-head latent attention")


E4M3_MAX = 448.0  # largest finite float8 e4m3fn value (OCP 8-bit floating point spec)
PROJECTIONS = ("qkv", "o", "up", "down")


def quantize_fp8(t):
    """(t in float8 e4m3, its float32 per-tensor scale), t ≈ values × scale."""
    torch = load_torch()
    scale = (t.abs().amax().float() / E4M3_MAX).clamp(min=1e-12)
    return (t / scale).clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn), scale


def fp8_linear(x, w8, w_scale):
    """x @ W.T with W stored as (e4m3 out × in, scale): x quantized per tensor, one scaled matmul
    (B column-major, as the fp8 GEMM requires: the transpose of a row-major weight), x's dtype out.
    Rows are padded to a multiple of 16 (zeros leave the scale alone), which some PyTorch releases
    require of the fp8 GEMM's first operand."""
    torch = load_torch()
    x2 = x.reshape(-1, x.shape[-1])
    rows = x2.shape[0]
    if rows % 16:
        x2 = torch.nn.functional.pad(x2, (0, 0, 0, -rows % 16))
    x8, x_scale = quantize_fp8(x2)
    y = torch._scaled_mm(x8, w8.t(), scale_a=x_scale, scale_b=w_scale, out_dtype=x.dtype)
    if isinstance(y, tuple):  # PyTorch 2.1-2.3 return (out, amax)
        y = y[0]
    return y[:rows].reshape(*x.shape[:-1], y.shape[-1])


def fp8_shape_problem(m: ModelSpec) -> str | None:
    """The fp8 GEMM on a GPU takes inner and output dimensions divisible by 16."""
    a = m.attention
    dims = {"hidden size": m.hidden_size, "intermediate size": m.mlp.intermediate_size,
            "attention width": a.num_heads * a.head_dim, "KV width": a.num_kv_heads * a.head_dim}
    bad = [f"{k} {v}" for k, v in dims.items() if v % 16]
    return f"{m.name}: fp8 matmuls need dimensions divisible by 16 ({', '.join(bad)})" if bad else None


class RandomDecoder:
    """Weights as plain tensors (no nn.Module init cost), normal(0, 0.02), in `dtype` on `device`."""

    def __init__(self, m: ModelSpec, dtype, device, batch: int, max_len: int, fp8_weights: bool = False):
        check_supported(m)
        torch = load_torch()
        self.m, self.dtype, self.device = m, dtype, device
        a = m.attention
        self.h, self.kvh, self.hd = a.num_heads, a.num_kv_heads, a.head_dim
        d, ff = m.hidden_size, m.mlp.intermediate_size

        def w(*shape):
            return (torch.randn(shape, dtype=torch.float32, device=device) * 0.02).to(dtype)

        self.embed = w(m.vocab_size, d)
        self.lm_head = self.embed if m.tie_word_embeddings else w(m.vocab_size, d)
        self.final_norm = torch.ones(d, dtype=dtype, device=device)
        self.layers = [{"n1": torch.ones(d, dtype=dtype, device=device), "n2": torch.ones(d, dtype=dtype, device=device),
                        "qkv": w((self.h + 2 * self.kvh) * self.hd, d), "o": w(d, self.h * self.hd),
                        "up": w((2 if m.mlp.gated else 1) * ff, d), "down": w(d, ff)} for _ in range(m.num_layers)]
        self.fp8 = fp8_weights
        if fp8_weights:  # quantize as an fp8 checkpoint stores them: e4m3 values, one scale per tensor
            for layer in self.layers:
                layer.update({k: quantize_fp8(layer[k]) for k in PROJECTIONS})
        shape = (batch, self.kvh, max_len, self.hd)
        self.k_cache = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(m.num_layers)]
        self.v_cache = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(m.num_layers)]
        inv = 1.0 / (10000.0 ** (torch.arange(0, self.hd, 2, device=device, dtype=torch.float32) / self.hd))
        ang = torch.outer(torch.arange(max_len, device=device, dtype=torch.float32), inv)
        self.cos, self.sin = ang.cos().to(dtype), ang.sin().to(dtype)
        self.max_len = max_len

    def _norm(self, x, weight):
        torch = load_torch()
        return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6).to(x.dtype) * weight

    def _rope(self, x, positions):
        torch = load_torch()
        cos, sin = self.cos[positions], self.sin[positions]  # tokens, hd/2: broadcast over batch and heads
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)

    def _linear(self, x, w):
        if self.fp8:
            return fp8_linear(x, *w)
        return load_torch().nn.functional.linear(x, w)

    def _layer(self, i: int, x, positions, mask):
        """x: batch, tokens, hidden. positions: tokens (absolute). mask: None (causal prefill) or a
        boolean batch-broadcast mask over the cache (decode)."""
        torch = load_torch()
        F = torch.nn.functional
        L = self.layers[i]
        b, s, _ = x.shape
        qkv = self._linear(self._norm(x, L["n1"]), L["qkv"]).view(b, s, self.h + 2 * self.kvh, self.hd).transpose(1, 2)
        q, k, v = qkv.split([self.h, self.kvh, self.kvh], dim=1)
        q, k = self._rope(q, positions), self._rope(k, positions)
        self.k_cache[i].index_copy_(2, positions, k)
        self.v_cache[i].index_copy_(2, positions, v)
        if mask is None:  # prefill: attend within the prompt
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.kvh != self.h)
        else:
            att = F.scaled_dot_product_attention(q, self.k_cache[i], self.v_cache[i], attn_mask=mask,
                                                 enable_gqa=self.kvh != self.h)
        x = x + self._linear(att.transpose(1, 2).reshape(b, s, self.h * self.hd), L["o"])
        up = self._linear(self._norm(x, L["n2"]), L["up"])
        if self.m.mlp.gated:
            gate, up = up.chunk(2, dim=-1)
            up = F.silu(gate) * up
        else:
            up = F.gelu(up)
        return x + self._linear(up, L["down"])

    def forward(self, tokens, positions, mask=None, logits: bool = False):
        """Next token of every sequence (greedy), or the logits, from the last position only."""
        torch = load_torch()
        x = self.embed[tokens]
        for i in range(self.m.num_layers):
            x = self._layer(i, x, positions, mask)
        out = torch.nn.functional.linear(self._norm(x[:, -1], self.final_norm), self.lm_head)
        return out if logits else out.argmax(-1)

    def prefill(self, tokens, logits: bool = False):
        torch = load_torch()
        return self.forward(tokens, torch.arange(tokens.shape[1], device=self.device), logits=logits)

    def decode_step(self, token, position, logits: bool = False):
        """One token per sequence at `position` (a 1-element tensor, so a CUDA graph can replay it)."""
        torch = load_torch()
        mask = (torch.arange(self.max_len, device=self.device) <= position)[None, None, None, :]
        return self.forward(token[:, None], position, mask, logits=logits)
