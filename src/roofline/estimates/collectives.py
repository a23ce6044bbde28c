"""What one collective costs: NCCL's cost model, and the engine's own all-reduce for small messages.

NCCL (src/graph/tuning.cc) charges a collective a base latency for its algorithm and protocol, a
hardware latency per algorithm step on each path (NVLink, PCIe, network), and the bytes the
algorithm moves per GPU over the bandwidth the protocol leaves for payload; its tuner picks the
fastest algorithm and protocol for each message size, and so do we:

  ring all-reduce     base + 2(n−1) steps          + 2(n−1)/n × message / (B × payload share)
  tree all-reduce     base + 2((g−1) + log2 N) steps + 2 × message / (B × payload share)   (N > 1 nodes)
  ring all-gather     base + (n−1) steps           + (n−1)/n × message / (...)
  all-to-all, send    base + 1 step                + (n−1)/n (resp. 1) × message / (...)

The ring's steps that cross nodes (2(N−1) of an all-reduce, N−1 of an all-gather) pay the network
step latency, the rest the intra-node path's. Serving engines replace NCCL for small all-reduces
inside a node where GPUs can read each other's memory (vLLM's custom all-reduce): one-shot, each
GPU reads every peer's whole message, (n−1) × message, after one barrier; two-shot, a
reduce-scatter and an all-gather by direct reads, 2(n−1)/n × message, three barriers. Without PCIe
peer-to-peer NCCL stages every hop through host memory: two PCIe traversals per step, and no custom
all-reduce. Constants: data/collectives.toml, each with its source.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from ..cost.ops import Num
from ..units import fmt_bytes, fmt_time


@dataclass(frozen=True)
class CommLink:
    name: str
    bandwidth: float  # achievable B/s per direction for the collective
    latency: float  # s: a small all-reduce over the group (the algorithm's latency term)
    algorithms: "object | None" = None  # collectives.Algorithms: per-algorithm latency model; None: `latency` flat

_FILE = resources.files("roofline") / "data" / "collectives.toml"


@lru_cache(maxsize=1)
def constants() -> dict:
    return tomllib.loads(_FILE.read_text())


def _steps(kind: str, n: int, nodes: int) -> tuple[int, int]:
    """(intra-node steps, network steps) of NCCL's ring for a collective over n GPUs in `nodes` nodes."""
    if kind == "all_reduce":
        total, inter = 2 * (n - 1), 2 * (nodes - 1)
    elif kind == "all_gather":
        total, inter = n - 1, nodes - 1
    else:  # all-to-all and sends: every pair exchanges at once, one step
        total, inter = 1, 1 if nodes > 1 else 0
    return total - inter, inter


def _bytes_factor(kind: str, n: int) -> float:
    return {"all_reduce": 2 * (n - 1) / n, "all_gather": (n - 1) / n, "all_to_all": (n - 1) / n, "p2p": 1.0}[kind]


@dataclass(frozen=True)
class Algorithms:
    """The algorithms a group of GPUs can run a collective with, and their cost model."""

    bandwidth: float  # achievable per-GPU B/s per direction (Simple protocol)
    path: str  # nvlink | pci | net: the intra-node path class (net for a group of one GPU per node)
    nodes: int = 1
    per_node: int = 0  # GPUs of the group in each node (0: all, one node)
    host_staged: bool = False  # PCIe without peer-to-peer: hops go through host memory
    custom_all_reduce: str = ""  # "": none; "pair": 2 GPUs with P2P; "full": fully connected NVLink

    def _lat(self, algo: str, proto: str, path: str) -> float:
        c = constants()["nccl"]
        step = c["step_latency_s"][path][algo][proto]
        return step * (constants()["host_staged"]["step_traversals"] if self.host_staged and path == "pci" else 1)

    def _protocols(self) -> list[str]:
        return constants()["nccl"]["protocols"][self.path]

    def candidates(self, kind: str, message: Num, n: int) -> list[tuple[str, Num]]:
        """(name, time) of every algorithm and protocol NCCL or the engine could use."""
        c = constants()["nccl"]
        msg = np.asarray(message, dtype=float)
        out = []
        for proto in self._protocols():
            bw = self.bandwidth * c["protocol_payload"][proto]
            intra, inter = _steps(kind, n, self.nodes)
            lat = c["base_latency_s"]["ring"][proto] + intra * self._lat("ring", proto, self.path) \
                + inter * self._lat("ring", proto, "net")
            name = "ring" if kind in ("all_reduce", "all_gather") else "direct"
            out.append((f"NCCL {name} {proto.upper()}", lat + _bytes_factor(kind, n) * msg / bw))
            if kind == "all_reduce" and self.nodes > 1:
                g = self.per_node or 1
                lat = c["base_latency_s"]["tree"][proto] + 2 * ((g - 1) * self._lat("tree", proto, self.path)
                                                                + math.log2(self.nodes) * self._lat("tree", proto, "net"))
                out.append((f"NCCL tree {proto.upper()}", lat + 2 * msg / bw))
        if kind == "all_reduce" and self._custom_ok(n):
            out += self._custom(msg, n)
        return out

    def _custom_ok(self, n: int) -> bool:
        ca = constants()["custom_all_reduce"]
        return bool(self.custom_all_reduce) and self.nodes == 1 and n in ca["world_sizes"] and \
            (n == 2 or self.custom_all_reduce == "full")

    def _custom(self, msg: np.ndarray, n: int) -> list[tuple[str, Num]]:
        ca = constants()["custom_all_reduce"]
        barrier = constants()["nccl"]["step_latency_s"][self.path]["ring"]["ll"]
        limit = ca["one_shot_max_bytes_upto4"] if n <= 4 else ca["one_shot_max_bytes_upto8"]
        one_ok = (msg < ca["max_bytes"]) & ((n == 2) | (msg < limit))
        two_ok = (msg < ca["max_bytes"]) & ~one_ok
        one = ca["one_shot_barriers"] * barrier + (n - 1) * msg / self.bandwidth
        two = ca["two_shot_barriers"] * barrier + 2 * (n - 1) / n * msg / self.bandwidth
        return [(f"{ca['engine']} one-shot all-reduce", np.where(one_ok, one, np.inf)),
                (f"{ca['engine']} two-shot all-reduce", np.where(two_ok, two, np.inf))]

    def time(self, kind: str, message: Num, n: int) -> Num:
        times = [t for _, t in self.candidates(kind, message, n)]
        return np.minimum.reduce(np.broadcast_arrays(*times)) if len(times) > 1 else times[0]

    def best(self, kind: str, message: float, n: int) -> tuple[str, float]:
        """The fastest algorithm for one message size, for the explain trace."""
        name, t = min(((nm, float(t)) for nm, t in self.candidates(kind, message, n)), key=lambda x: x[1])
        return name, t

    def working(self, kind: str, message: float, n: int) -> tuple[str, str]:
        """(formula, substituted) of the fastest algorithm for this message."""
        name, t = self.best(kind, message, n)
        c = constants()["nccl"]
        if "one-shot" in name or "two-shot" in name:
            ca = constants()["custom_all_reduce"]
            one = "one-shot" in name
            k = ca["one_shot_barriers"] if one else ca["two_shot_barriers"]
            f = f"{n - 1}" if one else f"2({n}−1)/{n}"
            return (f"{name}: barriers × step latency + {'(n−1)' if one else '2(n−1)/n'} × message / bandwidth",
                    f"{k} × {fmt_time(c['step_latency_s'][self.path]['ring']['ll'])} + {f} × {fmt_bytes(message)} / "
                    f"{self.bandwidth / 1e9:.4g} GB/s = {fmt_time(t)}")
        algo = "tree" if "tree" in name else "ring"
        proto = name.split()[-1].lower()
        intra, inter = _steps(kind, n, self.nodes)
        steps = f"{intra} × {fmt_time(self._lat(algo, proto, self.path))}" + \
            (f" + {inter} network steps × {fmt_time(self._lat(algo, proto, 'net'))}" if inter else "")
        if algo == "tree":
            g = self.per_node or 1
            steps = f"2 × ({g - 1} × {fmt_time(self._lat('tree', proto, self.path))} + log2 {self.nodes} × " \
                    f"{fmt_time(self._lat('tree', proto, 'net'))})"
        share = c["protocol_payload"][proto]
        return (f"{name}: base latency + steps × step latency + algorithm bytes / (bandwidth × {proto.upper()} payload share)",
                f"{fmt_time(c['base_latency_s'][algo][proto])} + {steps} + {fmt_bytes(message)} × "
                f"{2 if algo == 'tree' else round(_bytes_factor(kind, n), 4):g} / ({self.bandwidth / 1e9:.4g} GB/s × {share:g})"
                f" = {fmt_time(t)}" + (" (hops staged through host memory)" if self.host_staged else ""))
