"""Every way to split a model over N GPUs: (tp, pp, dp[, ep]) with tp × pp × dp = N.

tp must divide the attention heads (and divide or be a multiple of the KV heads), pp at most the
layers (uneven stages are allowed), and MoE models are also tried with expert parallelism
(ep = tp × dp, vLLM's convention). The parallel planner compares these splits and the estimate's
"fewest GPUs" is the smallest count on which one of them fits, so both answer from one list.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..specs.model import ModelSpec
from ..specs.parallel import valid_tp

SEARCH = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)  # GPU counts tried when none is given


@dataclass(frozen=True)
class Split:
    tp: int
    pp: int
    dp: int
    ep: int = 1

    @property
    def num_gpus(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def label(self) -> str:
        parts = [f"TP={self.tp}"] if self.tp > 1 else []
        parts += [f"PP={self.pp}"] if self.pp > 1 else []
        parts += [f"DP={self.dp}"] if self.dp > 1 else []
        parts += [f"EP={self.ep}"] if self.ep > 1 else []
        return " × ".join(parts) or "1 GPU"


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def splits(m: ModelSpec, num_gpus: int, allow_ep: bool = True) -> list[Split]:
    """Every (tp, pp, dp[, ep]) that multiplies to num_gpus and the model's shapes can take."""
    tps = set(valid_tp(m, limit=num_gpus))
    out = []
    for tp in _divisors(num_gpus):
        if tp not in tps:
            continue
        for pp in _divisors(num_gpus // tp):
            if pp > m.num_layers:
                continue
            dp = num_gpus // (tp * pp)
            out.append(Split(tp, pp, dp))
            if allow_ep and m.is_moe and tp * dp > 1 and m.moe.num_experts % (tp * dp) == 0:
                out.append(Split(tp, pp, dp, tp * dp))
    return out
