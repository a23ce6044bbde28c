"""The analytical screen: every candidate deployment's steady state, as array arithmetic.

A candidate is a replica shape (GPU, split, formats) × token budget × either `dp` identical
replicas sharing the load (aggregated) or `x` prefill replicas feeding `y` decode replicas
(disaggregated), each pool with its own tensor-parallel size (the same GPU type, pipeline depth,
formats and expert-parallel mode; only pool sizes within the GPU limit are formed). Requests arrive at rate R; each replica's steady state follows from its step
times (shapes.py):

- Aggregated, at concurrency b per replica: every step carries b decode tokens, and on average
  b / O requests finish and are replaced per step, whose prefills add (b / O) × c_p, with c_p one
  prompt's prefill cost at the token budget. Step time T(b) = t_decode(b) + (b / O) × c_p; the
  replica completes μ(b) = b / (O × T(b)) requests/s. The operating point is the smallest b on
  the grid with μ(b) ≥ R / dp (Little's law: the concurrency the load needs). TPOT ≈ T(b).
- Disaggregated: a prefill replica completes n / t_prefill(n) requests/s at n prompts per budget;
  a decode replica at concurrency b completes b / ((O − 1) × t_decode(b)). TTFT adds the KV
  cache's trip over the network: latency + N_d × kv_d / (min(N_p, N_d) × bandwidth), with N the
  GPUs of a prefill and a decode replica and kv_d one prompt's KV on a decode GPU.
- TTFT ≈ the prompt's prefill alone + its chunks' share of decode steps + half a step of waiting
  for the step boundary + an M/D/1 queue wait ρ / (2 μ (1 − ρ)) at utilization ρ of the most the
  replica serves. Past RHO_MAX the queue has no steady state and the candidate is saturated.

These are means, and coarse: the finalists are then simulated request by request (plan.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shapes import Profile

RHO_MAX = 0.95  # utilization above which a queue grows without a steady state worth planning on
OK, SATURATED, TOO_MANY_GPUS = 0, 1, 2


@dataclass(frozen=True)
class Screen:
    """Flat arrays, one entry per candidate."""

    shape: np.ndarray  # index into the profiles (the prefill pool's shape when disaggregated)
    decode_shape: np.ndarray  # the decode pool's shape when disaggregated; `shape` otherwise
    budget: np.ndarray  # index into the token budgets
    disaggregated: np.ndarray  # bool
    replicas: np.ndarray  # dp (aggregated) or prefill replicas x
    decode_replicas: np.ndarray  # y (disaggregated), 0 otherwise
    num_gpus: np.ndarray
    batch: np.ndarray  # concurrency per (decode) replica at the operating point
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    status: np.ndarray  # OK or SATURATED

    @property
    def size(self) -> int:
        return int(self.shape.size)

    def take(self, mask: np.ndarray) -> "Screen":
        return Screen(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def _stack(profiles: list[Profile]) -> dict[str, np.ndarray]:
    return {
        "b": np.stack([p.batch for p in profiles]),  # (S, P)
        "t_dec": np.stack([p.decode_step_s for p in profiles]),  # (S, P)
        "c_pre": np.stack([p.prefill_per_request_s for p in profiles]),  # (S, K)
        "chunk": np.stack([p.prefill_chunk_s for p in profiles]),  # (S, K)
        "alone": np.asarray([p.prefill_alone_s for p in profiles]),  # (S,)
        "gpus": np.asarray([p.shape.gpus for p in profiles], dtype=float),  # (S,)
        "pp": np.asarray([p.shape.pp for p in profiles], dtype=float),
        "transfer": np.asarray([p.kv_transfer_s for p in profiles]),
        "convoy": np.asarray([p.prefill_convoy_s for p in profiles]),
        "latency": np.asarray([p.link_latency_s for p in profiles]),
    }


def round_time(t_dec, prompts, c_pre, convoy):
    """Time for every running sequence to get one token when `prompts` new prompts join per round:
    their prefill cost, and with pipeline stages the convoy a prompt's batch leads through them (the
    batches behind it wait at every stage: (pp − 1) × its stage time, once per round that has a
    prompt, probability 1 − e^(−prompts) for prompts arriving at random)."""
    return t_dec + prompts * c_pre + (1.0 - np.exp(-prompts)) * convoy


def _operating(mu: np.ndarray, lam: np.ndarray):
    """First grid index where the capacity μ (…, P) reaches the load λ (…, 1), and whether any does."""
    reach = np.maximum.accumulate(mu, axis=-1) >= lam * (1 - 1e-9)  # an exact match is enough
    return np.argmax(reach, axis=-1), reach[..., -1]


def _queue_wait(lam, mu_max):
    rho = np.minimum(lam / mu_max, RHO_MAX)
    return rho / (2 * mu_max * (1 - rho)), lam / mu_max


def _aggregated(a: dict, rate: float, L: int, O: int, max_gpus: int, budgets: np.ndarray):
    S, K = a["c_pre"].shape
    dp = np.arange(1, max_gpus + 1, dtype=float)  # (D,)
    b = a["b"][:, None, None, :]  # (S, 1, 1, P)
    T = round_time(a["t_dec"][:, None, None, :], b / O, a["c_pre"][:, :, None, None], a["convoy"][:, None, None, None])
    mu = b / (O * T)
    lam = (rate / dp)[None, None, :, None]  # (1, 1, D, 1)
    idx, ok = _operating(mu, lam)  # (S, K, D)
    T_op = np.take_along_axis(np.broadcast_to(T, (S, K, dp.size, T.shape[-1])), idx[..., None], -1)[..., 0]
    b_op = np.take_along_axis(np.broadcast_to(b, (S, K, dp.size, b.shape[-1])), idx[..., None], -1)[..., 0]
    wait, rho = _queue_wait(lam[..., 0], mu.max(axis=-1))
    t_dec_op = np.take_along_axis(np.broadcast_to(a["t_dec"][:, None, None, :], T.shape[:2] + (dp.size, T.shape[-1])),
                                  idx[..., None], -1)[..., 0]
    steps = np.ceil(L / budgets)[None, :, None]  # steps a prompt's chunks take, each also carrying the decodes
    ttft = a["alone"][:, None, None] + steps * t_dec_op + T_op / 2 + wait
    n = dp[None, None, :] * a["gpus"][:, None, None]
    status = np.where(ok & (rho < RHO_MAX), OK, SATURATED)
    shape = (S, K, dp.size)
    grids = np.meshgrid(np.arange(S), np.arange(K), dp, indexing="ij")
    return dict(shape=grids[0], decode_shape=grids[0], budget=grids[1], disaggregated=np.zeros(shape, bool), replicas=grids[2],
                decode_replicas=np.zeros(shape), num_gpus=n, batch=b_op, ttft_s=ttft, tpot_s=T_op,
                e2e_s=ttft + (O - 1) * T_op, status=status)


def _pool_pairs(profiles: list[Profile]) -> tuple[np.ndarray, np.ndarray]:
    """(prefill, decode) profile indices that can form one deployment: the same GPU type, pipeline
    depth, formats and expert-parallel mode, each pool with its own tensor-parallel size."""
    keys = [(p.shape.gpu, p.shape.pp, p.shape.weight_dtype, p.shape.kv_cache_dtype, p.shape.ep > 1) for p in profiles]
    seen: dict = {}
    code = np.asarray([seen.setdefault(k, len(seen)) for k in keys])
    return np.nonzero(code[:, None] == code[None, :])


def _decode_pools(a: dict, rate: float, O: int, y: np.ndarray):
    """Each shape as a decode pool of y replicas: TPOT, concurrency and whether it keeps up, (S, Y)."""
    S = a["b"].shape[0]
    b, t_dec = a["b"][:, None, :], a["t_dec"][:, None, :]  # (S, 1, P)
    mu_d = b / (max(O - 1, 1) * t_dec)
    lam_d = (rate / y)[None, :, None]  # (1, Y, 1)
    idx, ok_d = _operating(mu_d, lam_d)  # (S, Y)
    tpot = np.take_along_axis(np.broadcast_to(t_dec, (S, y.size, t_dec.shape[-1])), idx[..., None], -1)[..., 0]
    b_op = np.take_along_axis(np.broadcast_to(b, (S, y.size, b.shape[-1])), idx[..., None], -1)[..., 0]
    _, rho_d = _queue_wait(lam_d[..., 0], mu_d.max(axis=-1))
    return tpot, b_op, ok_d & (rho_d < RHO_MAX)


def _pair_transfer(a: dict, p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """One prompt's KV from a prefill replica of shape p to a decode replica of shape d: the decode
    GPUs receive N_d shards, spread over min(N_p, N_d) NICs (serving/disagg.py's working)."""
    lat = a["latency"][d]
    return lat + (a["transfer"][d] - lat) * a["gpus"][d] / np.minimum(a["gpus"][p], a["gpus"][d])


def _disaggregated(a: dict, rate: float, L: int, O: int, max_gpus: int, budgets: np.ndarray, pairs):
    ip, jd = pairs
    n = np.arange(1, max_gpus, dtype=float)  # replicas in a pool
    total = a["gpus"][ip][:, None, None] * n[None, :, None] + a["gpus"][jd][:, None, None] * n[None, None, :]
    m, xi, yi = np.nonzero(total <= max_gpus)  # only the pool sizes that fit: (R,) rows
    p, d, x, y = ip[m], jd[m], n[xi], n[yi]
    K = a["c_pre"].shape[1]
    mu_p = x[:, None] / a["c_pre"][p]  # (R, K): the prefill pool's requests/s
    wait_p, rho_p = _queue_wait(rate, mu_p)
    tpot_sy, b_sy, ok_sy = _decode_pools(a, rate, O, n)
    tpot, ok_d = tpot_sy[d, yi][:, None], ok_sy[d, yi][:, None]
    ttft = a["alone"][p][:, None] + wait_p + _pair_transfer(a, p, d)[:, None] + tpot / 2  # (R, K)
    full = (p.size, K)
    col = lambda v: np.broadcast_to(np.asarray(v)[:, None], full)  # noqa: E731
    return dict(shape=col(p), decode_shape=col(d), budget=np.broadcast_to(np.arange(K)[None, :], full),
                disaggregated=np.ones(full, bool), replicas=col(x), decode_replicas=col(y), num_gpus=col(total[m, xi, yi]),
                batch=col(b_sy[d, yi]), ttft_s=ttft, tpot_s=np.broadcast_to(tpot, full), e2e_s=ttft + (O - 1) * tpot,
                status=np.where((rho_p < RHO_MAX) & ok_d, OK, SATURATED))


def screen(profiles: list[Profile], budgets, rate: float, input_len: int, output_len: int, max_gpus: int,
           disaggregate: bool = True) -> Screen:
    """Every candidate of every shape within `max_gpus` GPUs, in a few array passes."""
    a = _stack(profiles)
    bud = np.asarray(budgets, dtype=float)
    parts = [_aggregated(a, rate, input_len, output_len, max_gpus, bud)]
    if disaggregate and max_gpus >= 2:
        parts.append(_disaggregated(a, rate, input_len, output_len, max_gpus, bud, _pool_pairs(profiles)))
    cols = {k: np.concatenate([np.ravel(np.broadcast_to(p[k], p["shape"].shape)) for p in parts]) for k in parts[0]}
    keep = cols["num_gpus"] <= max_gpus
    cols = {k: v[keep] for k, v in cols.items()}
    cols["shape"] = cols["shape"].astype(int)
    cols["decode_shape"] = cols["decode_shape"].astype(int)
    cols["budget"] = cols["budget"].astype(int)
    cols["replicas"] = cols["replicas"].astype(int)
    cols["decode_replicas"] = cols["decode_replicas"].astype(int)
    cols["num_gpus"] = cols["num_gpus"].astype(int)
    return Screen(**cols)
