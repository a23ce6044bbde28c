"""Replica shapes and their step-time profiles: the part of the planner that calls the cost graph.

A replica shape is one GPU type with one split inside the replica (tp, pp, and for MoE models
ep = tp) and one weight and KV-cache format. For each shape the cost graph is evaluated once, on
NumPy arrays, for every concurrency on a log grid and every token budget: the decode step time,
the prefill cost per request and the time of one budget-sized prefill chunk. Data-parallel counts
and prefill/decode pools are then pure array arithmetic in `screen.py`, with no per-candidate work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..catalog import get_gpu, get_link
from ..errors import RooflineError
from ..estimates.estimate import setup
from ..estimates.evaluation import evaluate
from ..estimates.memory import kv_cache_bytes
from ..specs.model import ModelSpec
from ..specs.parallel import valid_tp

TOKEN_BUDGETS = (2048, 8192, 16384)  # max_num_batched_tokens tried: the defaults engines ship for small to large GPUs
POINTS = 48  # concurrencies per shape, log-spaced from 1 to the most the KV cache and engine allow
PIPELINE_STAGES = (1, 2, 4)  # pp tried; deeper pipelines only add bubbles at serving batch sizes


@dataclass(frozen=True)
class Shape:
    gpu: str
    tp: int
    pp: int
    ep: int
    weight_dtype: str
    kv_cache_dtype: str

    @property
    def gpus(self) -> int:
        return self.tp * self.pp

    @property
    def split_label(self) -> str:
        parts = [f"TP={self.tp}"] if self.tp > 1 else []
        parts += [f"PP={self.pp}"] if self.pp > 1 else []
        parts += [f"EP={self.ep}"] if self.ep > 1 else []
        return " × ".join(parts) or "1 GPU"

    def options(self) -> dict:
        """The estimate/simulate keyword arguments of this shape."""
        return {"tp": self.tp, "pp": self.pp, "enable_expert_parallel": self.ep > 1,
                "weight_dtype": None if self.weight_dtype == "auto" else self.weight_dtype,
                "kv_cache_dtype": None if self.kv_cache_dtype == "auto" else self.kv_cache_dtype}


@dataclass(frozen=True)
class Profile:
    """One shape's figures, arrays over the concurrency grid (P) and the token budgets (K)."""

    shape: Shape
    batch: np.ndarray  # (P,) concurrency per replica, padded by repeating the largest
    decode_step_s: np.ndarray  # (P,) one decode step at that concurrency, mean context input + output/2
    prefill_per_request_s: np.ndarray  # (K,) GPU time one prompt's prefill costs when batched to the budget
    prefill_chunk_s: np.ndarray  # (K,) the time of one budget-sized prefill chunk (what a decode step stalls for)
    prefill_alone_s: float  # one prompt's prefill on an idle replica
    max_batch: int  # most sequences one replica holds (KV cache and the engine's max_num_seqs)
    kv_transfer_s: float  # one request's KV cache over the network (disaggregated serving)
    precision: str
    prefill_convoy_s: float = 0.0  # pp > 1: what a prompt's batch holds the other batches up, (pp − 1) × its stage time
    link_latency_s: float = 0.0  # the network link's latency (part of kv_transfer_s)


def shapes(m: ModelSpec, gpus: list[str], max_gpus: int, weight_dtypes: list[str], kv_dtypes: list[str]) -> list[Shape]:
    """Every replica shape of at most `max_gpus` GPUs, tensor parallelism kept inside one node."""
    out = []
    for name in gpus:
        g = get_gpu(name)
        node = max(8, g.scale_up_domain)
        for tp in valid_tp(m, limit=min(max_gpus, node)):
            if tp & (tp - 1):
                continue  # powers of two only: the splits engines ship
            for pp in PIPELINE_STAGES:
                if tp * pp > max_gpus or pp > m.num_layers:
                    continue
                ep = tp if m.is_moe and tp > 1 and m.moe.num_experts % tp == 0 else 1
                out += [Shape(g.name, tp, pp, ep, w, kv) for w in weight_dtypes for kv in kv_dtypes]
    return out


def _grid(b_max: int) -> np.ndarray:
    g = np.unique(np.round(np.geomspace(1, b_max, POINTS)))
    return np.concatenate([g, np.full(POINTS - g.size, g[-1])])


def profile(m: ModelSpec, shape: Shape, engine: str, input_len: int, output_len: int,
            budgets=TOKEN_BUDGETS) -> Profile | str:
    """The shape's profile under `engine`'s scheduling limits, or why it cannot serve (a sentence)."""
    from ..serving.engines import engine_config, kv_capacity_bytes

    try:
        s = setup(m, shape.gpu, input_len=input_len, output_len=output_len, **shape.options())
        # the KV room left at the largest budget tried (its activation peak is the largest)
        cfg = engine_config(engine, s, max_num_batched_tokens=int(max(budgets)))
    except RooflineError as e:
        return str(e)
    kv_room = kv_capacity_bytes(s, cfg)[0]
    per_request = float(kv_cache_bytes(m, s.prec, s.par, 1, input_len + output_len))
    seqs = cfg.max_num_seqs * shape.pp  # each of the pp virtual engines runs up to max_num_seqs
    b_max = int(min(kv_room // per_request, seqs)) if per_request > 0 else seqs
    if b_max < 1:
        return "does not fit: no room for one request's KV cache beside the weights"
    b = _grid(b_max)
    # With pp stages the simulator runs pp virtual engines of b / pp sequences each on shared stages
    # (serving/pipeline.py): a token comes round every max(pp × busiest stage, Σ stages + hand-overs),
    # the static estimate's decode schedule with pp micro-batches, which `evaluate` gives.
    dec_t = np.asarray(evaluate(s, batch=b, input_len=input_len, output_len=output_len).tpot_s, dtype=float)
    budgets = np.asarray(budgets, dtype=float)
    per_step = np.maximum(1.0, np.floor(budgets / input_len))  # whole prompts that fit one budget
    # one virtual engine's batch of `per_step` prompts (pp micro-batches of per_step each): its pass
    # through every stage, and the busiest stage's share, which is what it costs the pipeline
    pre = evaluate(s, batch=per_step * shape.pp, input_len=input_len, output_len=output_len)
    pre_t = np.broadcast_to(np.asarray(pre.prefill_step.time, dtype=float), budgets.shape)
    busiest = np.max(pre.schedules[0].stage_s, axis=0) if shape.pp > 1 else pre_t
    one = evaluate(s, batch=1, input_len=input_len, output_len=output_len)
    alone_t = float(one.ttft_s)
    convoy = (shape.pp - 1) * float(np.max(one.schedules[0].stage_s)) if shape.pp > 1 else 0.0
    # a budget shorter than the prompt runs it in chunks of `budget` tokens
    chunk = np.where(budgets >= input_len, pre_t, alone_t * budgets / input_len)
    g = get_gpu(shape.gpu)
    link = get_link(g.scale_out_link or g.host_link or "pcie4")
    kv = float(kv_cache_bytes(m, s.prec, s.par, 1, input_len))  # per GPU: each GPU sends its shard on its own NIC
    transfer = link.latency_s + kv / link.bandwidth_per_direction
    return Profile(shape, b, np.broadcast_to(dec_t, b.shape) * 1.0, np.broadcast_to(busiest, budgets.shape) / per_step,
                   chunk, alone_t,
                   int(b_max), transfer, s.prec.label, convoy, float(link.latency_s))


def check_lengths(input_len, output_len) -> tuple[int, int]:
    from ..estimates.estimate import MAX_TOKENS, check_count

    L = check_count("--input-len", input_len, maximum=MAX_TOKENS)
    O = check_count("--output-len", output_len, maximum=MAX_TOKENS)
    if not math.isfinite(L + O):
        raise RooflineError("lengths must be finite")
    return L, O
