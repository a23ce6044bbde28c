"""A candidate deployment as the planner reports it: what it is, what it costs, how fast it serves."""

from __future__ import annotations

from dataclasses import dataclass, field

from .shapes import Profile


@dataclass
class Candidate:
    profile: Profile
    budget: int  # max_num_batched_tokens
    disaggregated: bool
    replicas: int  # dp, or prefill replicas when disaggregated
    decode_replicas: int
    num_gpus: int
    batch: float  # concurrency per (decode) replica, screened
    usd_per_hour: float
    usd_per_million_output_tokens: float
    usd_per_million_input_tokens: float
    estimate: dict  # screened means: ttft_s, tpot_s, e2e_s
    simulated: dict | None = None  # SimResult.to_dict() of the deployment (per replica for aggregated)
    served_requests_per_s: float | None = None  # the whole deployment, from the simulation
    verdict: str = ""  # why it won or lost
    notes: list[str] = field(default_factory=list)
    decode_profile: Profile | None = None  # the decode pool's shape when disaggregated (its own tp)

    @property
    def decode_shape(self):
        return (self.decode_profile or self.profile).shape

    @property
    def gpu(self) -> str:
        return self.profile.shape.gpu

    @property
    def layout(self) -> str:
        """Replicas and split, short: `2 × TP=2`, `1P3D × TP=2`."""
        s = self.profile.shape
        if self.disaggregated:
            return f"{self.replicas}P × {s.split_label} + {self.decode_replicas}D × {self.decode_shape.split_label}"
        return f"{self.replicas} × {s.split_label}"

    @property
    def formats(self) -> str:
        s = self.profile.shape
        return f"{s.weight_dtype}/{s.kv_cache_dtype}"

    @property
    def label(self) -> str:
        s = self.profile.shape
        fmt = [f"{s.weight_dtype} weights" if s.weight_dtype != "auto" else "", f"{s.kv_cache_dtype} KV" if s.kv_cache_dtype != "auto" else ""]
        fmt = ", ".join(x for x in fmt if x) or "model dtype"
        if self.disaggregated:
            how = (f"{self.replicas} prefill replica{'s' if self.replicas > 1 else ''} of {s.split_label} + "
                   f"{self.decode_replicas} decode replica{'s' if self.decode_replicas > 1 else ''} of "
                   f"{self.decode_shape.split_label} ({self.replicas}P{self.decode_replicas}D)")
        else:
            how = f"{self.replicas} replica{'s' if self.replicas > 1 else ''} of {s.split_label}"
        return f"{self.num_gpus} × {s.gpu}: {how}, {fmt}, budget {self.budget}"

    def metric(self, name: str, pct: str = "p90") -> float:
        """A latency from the simulation (its percentile) where there is one, else the screened mean."""
        if self.simulated is not None:
            return float(self.simulated[name][pct])
        return float(self.estimate[name])

    @staticmethod
    def _pool(shape, replicas: int) -> dict:
        return {"replicas": replicas, "tp": shape.tp, "pp": shape.pp, "ep": shape.ep, "num_gpus": replicas * shape.gpus}

    def to_dict(self) -> dict:
        s = self.profile.shape
        return {
            "label": self.label, "gpu": s.gpu, "num_gpus": self.num_gpus,
            "mode": "disaggregated" if self.disaggregated else "aggregated",
            "tp": s.tp, "pp": s.pp, "ep": s.ep,
            "dp": 0 if self.disaggregated else self.replicas,
            "prefill_replicas": self.replicas if self.disaggregated else 0,
            "decode_replicas": self.decode_replicas,
            "prefill_split": self._pool(s, self.replicas) if self.disaggregated else None,
            "decode_split": self._pool(self.decode_shape, self.decode_replicas) if self.disaggregated else None,
            "weight_dtype": s.weight_dtype, "kv_cache_dtype": s.kv_cache_dtype, "precision": self.profile.precision,
            "max_num_batched_tokens": self.budget, "max_concurrency_per_replica": (self.decode_profile or self.profile).max_batch,
            "concurrency_per_replica": self.batch,
            "cost": {"usd_per_hour": self.usd_per_hour,
                     "usd_per_million_output_tokens": self.usd_per_million_output_tokens,
                     "usd_per_million_input_tokens": self.usd_per_million_input_tokens},
            "estimate": self.estimate,
            "simulated": self.simulated,
            "served_requests_per_s": self.served_requests_per_s,
            "verdict": self.verdict, "notes": self.notes,
        }
