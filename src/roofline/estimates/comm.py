"""Which link a group of GPUs talks over, and what one collective on it costs, with its working.

A group (the GPUs of one tensor-parallel all-reduce, of an expert-parallel all-to-all, or two
adjacent pipeline stages) talks over
  * the scale-up fabric (NVLink/NVSwitch, xGMI, ICI) when it sits inside one fabric domain of a node;
  * the host link (PCIe) when it fits in one node but not in one fabric domain (Ada cards, bridged pairs);
  * the network between nodes (InfiniBand/Ethernet, the GPU's `scale_out_link` or `--inter-node-link`).

Across nodes NCCL runs one ring channel per NIC, so the g GPUs a group has in each node cross
between nodes through g NICs at once (one NIC per GPU, the catalog's convention). Per-GPU ring
bandwidth is then min(intra-node bandwidth, g × NIC bandwidth). Checked against the measured rows of
reference/links.csv: a 4×8 H200 ring all-reduce reached 364.87 GB/s busbw; this gives
min(450 × 0.822, 8 × 50 × 0.8) = 320 GB/s (−12%). With g = 1 (a pair split over two nodes) the
whole ring runs at one NIC's rate, 9-18× below NVLink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..catalog.factors import Profile, default_profile
from ..catalog.links import get_link
from ..errors import RooflineError
from ..specs.hardware import GPU, Link
from ..units import fmt_bw, fmt_bytes, fmt_time
from .collectives import Algorithms, CommLink

# Bytes moved per GPU by a ring collective, as a multiple of the message (Patarasuk & Yuan 2009 for
# the bandwidth-optimal all-reduce: reduce-scatter + all-gather, each (n−1)/n of the data).
RING_FACTOR = {"all_reduce": "2(n−1)/n", "all_gather": "(n−1)/n", "all_to_all": "(n−1)/n", "p2p": "1"}


@dataclass(frozen=True)
class GroupLink(CommLink):
    kind: str = ""  # scale-up | host | inter-node | mixed
    nodes: int = 1  # nodes the group spans
    per_node: int = 0  # GPUs of the group in each node (inter-node rings)
    detail: str = ""  # how the bandwidth was derived, for the explain trace


def node_size(gpu: GPU, gpus_per_node: int | None) -> int:
    """GPUs in one server: given, else the scale-up domain (at least 8, the usual board)."""
    return gpus_per_node or max(8, gpu.scale_up_domain)


def _efficiency(link: Link, ideal: bool, profile: Profile | None = None) -> float:
    if ideal:
        return 1.0
    return link.busbw_efficiency or (profile or default_profile()).value("collective_efficiency")


def _one_link(link: Link, group: int, ideal: bool, profile: Profile | None = None) -> tuple[float, str]:
    """Achievable per-GPU ring bandwidth on one link type, and how it was derived."""
    bw = link.bandwidth_per_direction
    how = f"{fmt_bw(bw)}"
    peer = link.peer_bandwidth_per_direction
    if peer and peer < bw:  # full mesh or torus: a ring over n GPUs uses at most n−1 direct links
        bw = min(bw, (group - 1) * peer)
        how = f"min({fmt_bw(link.bandwidth_per_direction)}, (n−1) × {fmt_bw(peer)} per peer)"
    eff = _efficiency(link, ideal, profile)
    return bw * eff, f"{how} × efficiency {eff:g}"


# --intra-node-link: what the server really has. The key names the physical link; `fabric` and
# `bridge` stand for the GPU's own NVLink switch fabric or 2-GPU bridge from its data file.
INTRA_NODE_LINKS = {"nvswitch": "fabric", "nvlink-bridge": "bridge", "pcie-gen4": "pcie4", "pcie-gen5": "pcie5",
                    "pcie-gen4-no-p2p": "pcie4-no-p2p", "pcie-gen5-no-p2p": "pcie5-no-p2p"}


def _is_bridge(gpu: GPU) -> bool:
    return bool(gpu.scale_up_link) and gpu.scale_up_domain <= 2


def check_intra_node_link(gpu: GPU, choice: str | None) -> str | None:
    """Validate --intra-node-link for this GPU; returns the choice (None: the GPU's default)."""
    if choice is None:
        return None
    if choice not in INTRA_NODE_LINKS:
        raise RooflineError(f"--intra-node-link must be one of {', '.join(INTRA_NODE_LINKS)}, got {choice!r}")
    if choice == "nvswitch" and (_is_bridge(gpu) or not gpu.scale_up_link.startswith("nvlink")):
        raise RooflineError(f"{gpu.name} has no NVSwitch fabric; its GPUs talk over "
                            f"{'an NVLink bridge (pairs) or ' if _is_bridge(gpu) else ''}PCIe "
                            "(--intra-node-link nvlink-bridge, pcie-gen4, pcie-gen5 or a -no-p2p variant)")
    if choice == "nvlink-bridge" and not _is_bridge(gpu):
        what = f"its scale-up fabric is {get_link(gpu.scale_up_link).display_name}" if gpu.scale_up_link else "it has no NVLink"
        raise RooflineError(f"{gpu.name} takes no NVLink bridge: {what}")
    return choice


def default_intra_node_link(gpu: GPU) -> str:
    """The --intra-node-link a server of this GPU has unless told otherwise: its switch fabric where it
    has one; plain PCIe for PCIe cards (an NVLink bridge is optional hardware, so not the default)."""
    if gpu.scale_up_link and not _is_bridge(gpu):
        return "nvswitch" if gpu.scale_up_link.startswith("nvlink") else "fabric"
    host = gpu.host_link or "pcie4"
    return "pcie-gen5" if host == "pcie5" else "pcie-gen4" if host == "pcie4" else host


def _intra_link(gpu: GPU, group: int, node: int, choice: str | None) -> tuple[Link, str]:
    """(link, kind) a group of `group` GPUs inside one node talks over."""
    choice = check_intra_node_link(gpu, choice)
    fabric_ok = gpu.scale_up_link and group <= min(node, gpu.scale_up_domain)
    if choice is None and fabric_ok and not _is_bridge(gpu):
        return get_link(gpu.scale_up_link), "scale-up"
    if choice in ("nvswitch", "nvlink-bridge") and fabric_ok:
        return get_link(gpu.scale_up_link), "scale-up"
    key = INTRA_NODE_LINKS.get(choice or "", "") if choice not in (None, "nvswitch", "nvlink-bridge") else ""
    # beyond the fabric or the bridged pair, and on PCIe cards, the host link carries peer traffic
    return get_link(key or gpu.host_link or "pcie4"), "host"


def _custom_all_reduce(gpu: GPU, link: Link) -> str:
    """Which engine all-reduce the group may use: 'full' (fully connected NVLink), 'pair' (two GPUs
    with peer-to-peer over a bridge or PCIe), '' (none: no P2P, or not an NVIDIA GPU)."""
    if gpu.vendor.lower() != "nvidia" or not link.p2p:
        return ""
    switched = link.kind == "scale-up" and (link.peer_bandwidth_per_direction or link.bandwidth_per_direction) \
        >= link.bandwidth_per_direction and (link.domain_size or 0) > 2
    return "full" if switched else "pair"


def _intra_node(gpu: GPU, group: int, node: int, ideal: bool, choice: str | None = None,
                profile: Profile | None = None) -> GroupLink:
    link, kind = _intra_link(gpu, group, node, choice)
    bw, how = _one_link(link, group, ideal, profile)
    if ideal:
        return GroupLink(link.display_name, bw, 0.0, kind=kind, nodes=1, detail=how)
    algos = Algorithms(bw, link.path_class, host_staged=not link.p2p, custom_all_reduce=_custom_all_reduce(gpu, link))
    return GroupLink(link.display_name, bw, _small_all_reduce(algos, group), algorithms=algos, kind=kind, nodes=1,
                     detail=how)


def _small_all_reduce(algos: Algorithms, group: int) -> float:
    """The latency figure shown for a link: an all-reduce of a vanishing message over the group."""
    return float(algos.time("all_reduce", 0.0, max(group, 2)))


def _network(gpu: GPU, network: str | None, group: int, node: int) -> Link:
    key = network or gpu.scale_out_link
    if not key:
        raise RooflineError(
            f"a group of {group} GPUs spans more than one node ({node} {gpu.name} per node) and {gpu.name} has no "
            "inter-node link in the catalog; pass --inter-node-link (e.g. ib-ndr, roce-400) or a larger --gpus-per-node"
        )
    return get_link(key)


def group_link(gpu: GPU, group: int, gpus_per_node: int | None, ideal: bool, network: str | None = None,
               intra: str | None = None, profile: Profile | None = None) -> GroupLink:
    """The link a collective over `group` GPUs runs on, with its achievable per-GPU bandwidth and the
    algorithms NCCL (or the engine) can run on it. `intra`: --intra-node-link (None: the default)."""
    node = node_size(gpu, gpus_per_node)
    if group <= node:
        return _intra_node(gpu, group, node, ideal, intra, profile)
    net = _network(gpu, network, group, node)
    nodes = math.ceil(group / node)
    g = group / nodes  # GPUs of the group per node, split evenly
    inner = _intra_node(gpu, max(2, math.floor(g)), node, ideal, intra, profile) if g >= 2 else None
    nic_bw, nic_how = _one_link(net, 2, ideal, profile)
    across = g * nic_bw
    bw = min(inner.bandwidth, across) if inner else across
    detail = (f"min(within a node {fmt_bw(inner.bandwidth)} over {inner.name}, " if inner else "") + \
              f"{g:g} GPUs per node × {net.display_name} {nic_how} = {fmt_bw(across)}" + (")" if inner else "")
    return _across_nodes(f"{net.display_name} across {nodes} nodes", bw, inner, nodes, g, detail, ideal, "all_reduce", group)


def _across_nodes(name: str, bw: float, inner: GroupLink | None, nodes: int, g: float, detail: str, ideal: bool,
                  kind: str, group: int) -> GroupLink:
    if ideal:
        return GroupLink(name, bw, 0.0, kind="inter-node", nodes=nodes, per_node=int(g), detail=detail)
    a = inner.algorithms if inner is not None else None
    algos = Algorithms(bw, a.path if a else "net", nodes=nodes, per_node=int(g), host_staged=bool(a and a.host_staged))
    return GroupLink(name, bw, float(algos.time(kind, 0.0, group)), algorithms=algos, kind="inter-node", nodes=nodes,
                     per_node=int(g), detail=detail)


def all_to_all_link(gpu: GPU, group: int, gpus_per_node: int | None, ideal: bool, network: str | None = None,
                    intra: str | None = None, profile: Profile | None = None) -> GroupLink:
    """The link of an expert-parallel all-to-all over `group` GPUs.

    Unlike a ring, an all-to-all cannot keep its traffic inside the nodes: a GPU sends 1/n of its
    message to every other GPU, (n − g)/n of it to other nodes through its own NIC and (g − 1)/n to
    its node peers, both at once. Time = message/n × max((n − g)/B_nic, (g − 1)/B_node), written as
    latency + (n−1)/n × message / B with B = (n − 1) / max(...). `all_to_all_efficiency` scales the
    ring efficiency of the link (no all-to-all measurement in our sources)."""
    rel = 1.0 if ideal else (profile or default_profile()).value("all_to_all_efficiency")
    node = node_size(gpu, gpus_per_node)
    if group <= node:
        inner = _intra_node(gpu, group, node, ideal, intra, profile)
        a = inner.algorithms
        algos = None if a is None else Algorithms(inner.bandwidth * rel, a.path, host_staged=a.host_staged)
        lat = 0.0 if algos is None else float(algos.time("all_to_all", 0.0, group))
        return GroupLink(inner.name, inner.bandwidth * rel, lat, algorithms=algos, kind=inner.kind, nodes=1,
                         detail=f"{inner.detail} × all_to_all_efficiency {rel:g}")
    net = _network(gpu, network, group, node)
    nodes = math.ceil(group / node)
    g = group / nodes
    nic_bw, nic_how = _one_link(net, 2, ideal, profile)
    inner = _intra_node(gpu, max(2, math.floor(g)), node, ideal, intra, profile) if g >= 2 else None
    per_byte = max((group - g) / nic_bw, (g - 1) / inner.bandwidth if inner else 0.0)
    bw = (group - 1) / per_byte * rel
    detail = (f"(n − 1) / max((n − g)/B_nic, (g − 1)/B_node) with n = {group}, g = {g:g}, B_nic = {nic_how}"
              + (f", B_node = {fmt_bw(inner.bandwidth)}" if inner else "") + f", × all_to_all_efficiency {rel:g}")
    return _across_nodes(f"{net.display_name} across {nodes} nodes", bw, inner, nodes, g, detail, ideal, "all_to_all", group)


def pipeline_link(gpu: GPU, tp: int, pp: int, gpus_per_node: int | None, ideal: bool,
                  network: str | None = None, intra_link: str | None = None, profile: Profile | None = None) -> GroupLink:
    """The link of one pipeline boundary, averaged over the pp − 1 boundaries.

    Stage s holds GPUs s·tp .. s·tp + tp − 1; rank r of stage s sends to rank r of stage s + 1, so a
    boundary crosses nodes when any such pair lies in different nodes. A send costs latency +
    bytes / bandwidth, linear in (latency, 1/bandwidth), so the mean over the boundaries is exact
    with the mean latency and the harmonic mean bandwidth."""
    node = node_size(gpu, gpus_per_node)
    inter = sum(
        1 for s in range(1, pp)
        if any(((s - 1) * tp + r) // node != (s * tp + r) // node for r in range(tp))
    )
    intra = _intra_node(gpu, min(tp * pp, node), node, ideal, intra_link, profile)
    intra_send = 0.0 if intra.algorithms is None else float(intra.algorithms.time("p2p", 0.0, 2))
    if inter == 0:
        return GroupLink(intra.name, intra.bandwidth, intra_send, algorithms=intra.algorithms, kind=intra.kind,
                         nodes=1, detail=intra.detail)
    net = _network(gpu, network, tp * pp, node)
    nic_bw, nic_how = _one_link(net, 2, ideal, profile)
    net_algos = None if ideal else Algorithms(nic_bw, "net", nodes=2, per_node=1)
    n_lat = 0.0 if ideal else float(net_algos.time("p2p", 0.0, 2))
    k = pp - 1
    latency = ((k - inter) * intra_send + inter * n_lat) / k
    bandwidth = k / ((k - inter) / intra.bandwidth + inter / nic_bw)
    name = (f"{net.display_name} ({inter} of {k} stage boundaries cross nodes)" if inter < k
            else f"{net.display_name} (every stage boundary crosses nodes)")
    detail = (f"{k - inter} boundaries over {intra.name} at {fmt_bw(intra.bandwidth)}, " if inter < k else "") + \
        f"{inter} over the network at {nic_how}" + (" (harmonic mean)" if inter < k else "")
    return GroupLink(name, bandwidth, latency, algorithms=net_algos if inter == k else None,
                     kind="mixed" if inter < k else "inter-node", nodes=math.ceil(tp * pp / node), detail=detail)


def collective_working(kind: str, message: float, group: int, link: CommLink, launch: float = 0.0) -> tuple[str, str]:
    """(formula, numbers substituted) of one collective, for the explain trace. `launch`: the extra
    latency of a collective launched from the host rather than replayed in a CUDA graph."""
    n = 2 if kind == "p2p" else group
    algos = getattr(link, "algorithms", None)
    if algos is not None:
        form, sub = algos.working(kind, message, n)
        if launch:
            form, sub = form + " + eager launch", f"{sub} + {fmt_time(launch)}"
        return form, f"{sub} (n = {n}, {link.name})"
    factor_ = {"all_reduce": 2 * (n - 1) / n, "all_gather": (n - 1) / n, "all_to_all": (n - 1) / n, "p2p": 1.0}[kind]
    form = f"latency{' + eager launch' if launch else ''} + {RING_FACTOR[kind]} × message / link bandwidth"
    sub = (f"{fmt_time(link.latency)}{f' + {fmt_time(launch)}' if launch else ''} + {factor_:.3g} × {fmt_bytes(message)} / "
           f"{fmt_bw(link.bandwidth)} (n = {n}, {link.name})")
    return form, sub
