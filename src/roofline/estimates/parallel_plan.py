"""The parallel planner: every way to split a model over N GPUs, estimated, compared and ranked.

A split is (tp, pp, dp[, ep]) with tp × pp × dp = N: tp must divide the attention heads (and
divide or be a multiple of the KV heads), pp at most the layers (uneven stages are allowed), and
for MoE models each split is also tried with expert parallelism (ep = tp × dp). A layer split
(llama.cpp's and ExLlamaV2's multi-GPU mode: whole layers per GPU, one GPU after another) is the
pipeline with a single micro-batch: memory divides, a stream gets no faster. The workload's
batch is the number of sequences in flight across the whole deployment, so every split serves the
same load and the comparison is fair: data-parallel replicas each take ⌈batch / dp⌉.

Recommendation: among the splits that fit (and meet --max-ttft / --max-tpot when given), the one
with the highest output throughput (`--objective throughput`) or the lowest end-to-end latency
(`--objective latency`); splits within 3% of the best are tied and the tie goes to the lower
latency (resp. higher throughput), then the smaller share of time in communication, then the
fewer nodes; tensor parallelism across nodes is recommended only when it is the best on the
estimate, never on a tie-break. Without --num-gpus, the planner first finds the smallest power-of-two GPU count on
which some split fits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..catalog import get_gpu, get_model
from ..errors import RooflineError
from ..specs.hardware import GPU
from ..specs.model import ModelSpec
from ..specs.parallel import valid_tp
from ..units import fmt_bw, fmt_bytes, fmt_time
from .capacity import fewest_gpus
from .comm import check_intra_node_link
from ..scenario import estimate
from .estimate import Estimate, check_count, run, setup
from .result import clean
from .splits import SEARCH, Split, splits
from .timing import roofs

@dataclass(frozen=True)
class LayerSplit(Split):
    """llama.cpp's and ExLlamaV2's layer split: pp GPUs each holding whole layers, one micro-batch."""

    mode = "layer"  # class attribute: Split itself has mode "tensor"

    @property
    def label(self) -> str:
        return f"layer split ×{self.pp}"


def _mode(sp: Split) -> str:
    return getattr(sp, "mode", "tensor")


TIE = 0.03  # splits within 3% of the best objective are equivalent: estimates are not that precise
OBJECTIVES = ("throughput", "latency")


@dataclass
class Row:
    split: Split
    est: Estimate | None
    error: str = ""  # why the split cannot run (no inter-node link, ...)

    @property
    def fits(self) -> bool:
        return self.est is not None and self.est.memory.fits

    @property
    def comm_share(self) -> float:
        e = self.est
        return (e.prefill.comm_s + (e.workload["output_len"] - 1) * e.decode.comm_s) / e.e2e_latency_s

    @property
    def bubble_share(self) -> float:
        e = self.est
        return (e.prefill.bubble_s + (e.workload["output_len"] - 1) * e.decode.bubble_s) / e.e2e_latency_s

    def to_dict(self) -> dict:
        s = self.split
        doc = {"tp": s.tp, "pp": s.pp, "dp": s.dp, "ep": s.ep, "split_mode": _mode(s), "label": s.label}
        if self.est is None:
            return {**doc, "valid": False, "error": self.error}
        e = self.est
        return {
            **doc, "valid": True, "fits": e.memory.fits, "memory_per_gpu_bytes": e.memory.total_bytes,
            "capacity_bytes": e.memory.capacity_bytes, "shortfall_bytes": e.memory.shortfall_bytes,
            "ttft_s": e.ttft_s, "tpot_s": e.tpot_s, "e2e_latency_s": e.e2e_latency_s,
            "output_tokens_per_s": e.output_tokens_per_s,
            "output_tokens_per_s_per_gpu": e.output_tokens_per_s / e.parallel["num_gpus"],
            "comm_share": self.comm_share, "bubble_share": self.bubble_share,
            "micro_batches": e.parallel["micro_batches"], "nodes": e.parallel["nodes"],
            "tp_link": (e.comm.get("tp_link") or {}).get("name"), "pp_link": (e.comm.get("pp_link") or {}).get("name"),
            "ep_link": (e.comm.get("ep_link") or {}).get("name"),
        }


@dataclass
class Plan:
    model: str
    gpu: str
    num_gpus: int
    searched: bool  # num_gpus was found by the planner
    objective: str
    workload: dict
    rows: list[Row]
    recommended: Row | None
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return clean({
            "model": self.model, "gpu": self.gpu, "num_gpus": self.num_gpus, "num_gpus_searched": self.searched,
            "objective": self.objective, "workload": self.workload,
            "splits": [r.to_dict() for r in self.rows],
            "recommended": self.recommended.to_dict() if self.recommended else None,
            "reasons": self.reasons, "notes": self.notes,
        })


def _evaluate(m: ModelSpec, gpu: GPU, sp: Split, kwargs: dict, intra: str | None = None) -> Row:
    """One split estimated, through the same Scenario as `roofline estimate` (a layer split is
    `--split-mode layer` over the split's GPUs)."""
    layer = _mode(sp) == "layer"
    split = dict(split_mode="layer", pp=sp.pp) if layer else dict(tp=sp.tp, pp=sp.pp, dp=sp.dp,
                                                                  enable_expert_parallel=sp.ep > 1)
    try:
        e = estimate(m, gpu, intra_node_link=intra, **split, **kwargs)
    except RooflineError as err:  # e.g. a split that leaves the node on a GPU with no network
        return Row(sp, None, str(err))
    return Row(sp, e)


def _tp_across_nodes(r: Row) -> bool:
    return r.split.tp > 1 and (r.est.comm.get("tp_link") or {}).get("kind") == "inter-node"


def _key(r: Row, objective: str) -> float:
    return r.est.output_tokens_per_s if objective == "throughput" else -r.est.e2e_latency_s


def _rank(rows: list[Row], objective: str) -> list[Row]:
    """Best first: objective (ties within TIE), then the other metric, less communication, fewer nodes."""
    if not rows:
        return []
    best = max(_key(r, objective) for r in rows)

    def order(r: Row):
        k = _key(r, objective)
        tied = abs(k - best) <= TIE * abs(best)
        other = r.est.e2e_latency_s if objective == "throughput" else -r.est.output_tokens_per_s
        # tensor parallelism over the network only where it is strictly the best, never by a tie-break
        return (not tied, -k if not tied else 0.0, _tp_across_nodes(r) and k < best, other, r.comm_share,
                r.est.parallel["nodes"])

    return sorted(rows, key=order)


def _explain(best: Row, fitting: list[Row], rows: list[Row], objective: str) -> list[str]:
    e, sp = best.est, best.split
    why = [f"{sp.label}: fits with {fmt_bytes(e.memory.total_bytes)} of {fmt_bytes(e.memory.capacity_bytes)} per GPU; "
           f"{e.output_tokens_per_s:,.4g} output tokens/s, TTFT {fmt_time(e.ttft_s)}, TPOT {fmt_time(e.tpot_s)}; "
           f"{best.comm_share:.0%} of the time in communication"
           + (f", {best.bubble_share:.0%} in pipeline bubbles" if sp.pp > 1 else "")]
    alts = [r for r in fitting if r is not best]
    by_shape = {
        "more pipeline parallelism": [r for r in alts if r.split.pp > sp.pp],
        "more tensor parallelism": [r for r in alts if r.split.tp > sp.tp],
        "more data-parallel replicas": [r for r in alts if r.split.dp > sp.dp],
        "expert parallelism" if sp.ep == 1 else "no expert parallelism": [r for r in alts if (r.split.ep > 1) != (sp.ep > 1)],
    }
    shown: set[Split] = set()
    for what, group in by_shape.items():
        group = [r for r in group if r.split not in shown]
        if not group:
            continue
        r = _rank(group, objective)[0]
        shown.add(r.split)
        o = r.est
        why.append(f"vs {r.split.label} ({what}): {o.output_tokens_per_s:,.4g} tokens/s and TPOT {fmt_time(o.tpot_s)}"
                   + _cause(best, r))
    no_fit = [r for r in rows if r.est is not None and not r.fits]
    if no_fit:
        why.append("does not fit: " + ", ".join(f"{r.split.label} (short by {fmt_bytes(r.est.memory.shortfall_bytes)} per GPU)"
                                                for r in no_fit[:4]) + (" …" if len(no_fit) > 4 else ""))
    return why


def _cause(best: Row, other: Row) -> str:
    """Why the other split does worse, from what its time goes to."""
    b, o = best.est, other.est
    if _mode(other.split) == "layer" and other.bubble_share > best.bubble_share + 0.05:
        return (f": its GPUs take turns, one layer range after another, so each idles {other.bubble_share:.0%} of "
                "the time — a layer split divides memory but gives a single stream no speed-up")
    if other.bubble_share > best.bubble_share + 0.05:
        return (f": its pipeline idles {other.bubble_share:.0%} of the time — stages take turns on each token, "
                "so a pipeline adds memory, not speed, unless micro-batches keep every stage busy")
    if other.comm_share > best.comm_share + 0.05:
        link = o.comm.get("tp_link") or o.comm.get("ep_link") or o.comm.get("pp_link") or {}
        return (f": {other.comm_share:.0%} of its time is communication over {link.get('name')} "
                f"at {fmt_bw(link.get('bandwidth') or 0)} per GPU")
    if o.tpot_s > b.tpot_s * (1 + TIE):
        return (": fewer GPUs share each layer's weight and KV reads, so each decode step takes longer"
                if other.split.tp * other.split.ep < best.split.tp * best.split.ep else
                ": each GPU reads more bytes per token than here")
    if o.output_tokens_per_s < b.output_tokens_per_s * (1 - TIE):
        return ": lower latency per token, but the same GPUs serve fewer tokens per second"
    return ": about the same; the recommendation breaks the tie on latency, communication, then nodes"


def _tp_network_notes(rows: list[Row], best: Row | None) -> list[str]:
    """Why tensor parallelism across a slow link hurts, with this plan's numbers (never about the
    recommended split: the note would contradict the pick)."""
    notes = []
    for r in rows:
        if r.est is None or r.split.tp == 1 or r is best:
            continue
        link = r.est.comm.get("tp_link") or {}
        if link.get("kind") in ("inter-node", "host") and r.comm_share > 0.1:
            layers = r.est.model["layers"]
            notes.append(
                f"{r.split.label}: every token needs 2 all-reduces per layer ({2 * layers} per step), each moving "
                f"2(n−1)/n of the activations over {link['name']} at {fmt_bw(link['bandwidth'])} per GPU with "
                f"{fmt_time(link['latency_s'])} latency — {r.comm_share:.0%} of its time is communication. Tensor parallelism "
                "needs NVLink-class links; across nodes prefer pipeline stages (one hand-over per stage) or replicas.")
    return notes[:3]


def plan(model, gpu, *, num_gpus=None, objective="throughput", max_ttft=None, max_tpot=None, allow_ep=True,
         **kwargs) -> Plan:
    """Compare every valid split of `model` over `num_gpus` GPUs (or the fewest that fit) and recommend one.

    `kwargs` are passed to `estimate()` (dtype, weight_dtype, batch_size, input_len, output_len,
    gpus_per_node, inter_node_link, ...); `intra_node_link` (--intra-node-link) sets what joins the
    GPUs of one server."""
    intra = kwargs.pop("intra_node_link", None)
    if objective not in OBJECTIVES:
        raise RooflineError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    for name, v in (("--max-ttft", max_ttft), ("--max-tpot", max_tpot)):
        if v is not None and not (isinstance(v, (int, float)) and v > 0):
            raise RooflineError(f"{name} must be a positive number of seconds, got {v!r}")
    m = model if isinstance(model, ModelSpec) else get_model(model)
    g = gpu if isinstance(gpu, GPU) else get_gpu(gpu)
    check_intra_node_link(g, intra)
    searched = num_gpus is None
    if searched:  # the same search as the estimate's "fewest GPUs": memory only, then estimate that count
        fewest = fewest_gpus(setup(m, g, intra_node_link=intra, **kwargs), allow_ep)
        n = fewest.num_gpus if fewest else SEARCH[-1]
    else:
        n = check_count("--num-gpus", num_gpus, maximum=4096)
    candidates = splits(m, n, allow_ep) + ([LayerSplit(1, n, 1)] if 1 < n <= m.num_layers else [])
    rows = [_evaluate(m, g, sp, kwargs, intra) for sp in candidates]
    if not rows:
        raise RooflineError(f"no split of {m.name} over {n} GPUs divides its {m.attention.num_heads} attention heads")
    valid = [r for r in rows if r.est is not None]
    fitting = [r for r in valid if r.fits]
    meets = [r for r in fitting if (max_ttft is None or r.est.ttft_s <= max_ttft) and (max_tpot is None or r.est.tpot_s <= max_tpot)]
    ranked = _rank(meets, objective)
    best = ranked[0] if ranked else None
    order = ranked + _rank([r for r in fitting if r not in meets], objective) + \
        sorted([r for r in valid if not r.fits], key=lambda r: r.est.memory.shortfall_bytes) + [r for r in rows if r.est is None]
    notes = []
    if searched:
        notes.append(f"--num-gpus not given: {n} is the smallest power-of-two GPU count on which a split fits"
                     if fitting else f"no split fits on up to {n} GPUs")
    reasons = _explain(best, meets, valid, objective) if best else []
    if best is None:
        if fitting:
            reasons.append("splits fit but none meets the latency targets; the fastest is " + _rank(fitting, "latency")[0].split.label)
        elif valid:
            closest = min(valid, key=lambda r: r.est.memory.shortfall_bytes)
            reasons.append(f"no split fits on {n} GPUs: the closest, {closest.split.label}, is short by "
                           f"{fmt_bytes(closest.est.memory.shortfall_bytes)} per GPU; add GPUs or quantize (--weight-dtype int4/fp8)")
    notes += _tp_network_notes(valid, best)
    if best is not None and _tp_across_nodes(best):
        link = best.est.comm.get("tp_link") or {}
        reasons.append(f"{best.split.label} all-reduces across nodes over {link.get('name')} ({best.comm_share:.0%} of "
                       "its time) and is still the best split on this estimate")
    w = valid[0].est.workload if valid else {}
    workload = {"batch_size": w.get("batch_size"), "input_len": w.get("input_len"), "output_len": w.get("output_len")}
    return Plan(m.name, g.name, n, searched, objective, workload, order, best, reasons, notes)
