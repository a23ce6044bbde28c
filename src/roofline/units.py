"""Unit constants and human formatting. Internally everything is SI: bytes, FLOP, seconds.

GB = 1e9 bytes and GiB = 2**30 bytes; both appear only at the edges, always labelled.
"""

from __future__ import annotations

import math

KB, MB, GB, TB = 1e3, 1e6, 1e9, 1e12
KiB, MiB, GiB = 2**10, 2**20, 2**30
TFLOP = 1e12
MS, US = 1e-3, 1e-6


def _scaled(x: float, steps: list[tuple[float, str]], digits: int) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    ax = abs(x)
    for scale, unit in steps:
        if ax >= scale:
            return f"{x / scale:.{digits}g} {unit}"
    scale, unit = steps[-1]
    return f"{x / scale:.{digits}g} {unit}"


def fmt_bytes(x: float, digits: int = 3) -> str:
    """Decimal units (GB = 1e9 B), as vendors print capacities."""
    return _scaled(x, [(TB, "TB"), (GB, "GB"), (MB, "MB"), (KB, "kB"), (1, "B")], digits)


def fmt_gib(x: float, digits: int = 3) -> str:
    return _scaled(x, [(GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB"), (1, "B")], digits)


def fmt_time(x: float, digits: int = 3) -> str:
    return _scaled(x, [(1, "s"), (MS, "ms"), (US, "µs"), (1e-9, "ns")], digits)


def fmt_flops(x: float, digits: int = 3) -> str:
    return _scaled(x, [(1e15, "PFLOP"), (TFLOP, "TFLOP"), (1e9, "GFLOP"), (1e6, "MFLOP"), (1e3, "kFLOP"), (1, "FLOP")], digits)


def fmt_rate(x: float, digits: int = 3) -> str:
    """FLOP/s."""
    return _scaled(x, [(1e15, "PFLOP/s"), (TFLOP, "TFLOP/s"), (1e9, "GFLOP/s"), (1, "FLOP/s")], digits)


def fmt_bw(x: float, digits: int = 3) -> str:
    """B/s in decimal units."""
    return _scaled(x, [(TB, "TB/s"), (GB, "GB/s"), (MB, "MB/s"), (1, "B/s")], digits)


def fmt_num(x: float, digits: int = 3) -> str:
    """Plain number in engineering style: 6.74e9 -> '6.74e9', 156.0 -> '156'."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    ax = abs(x)
    if float(x).is_integer() and ax < 1e6:
        return str(int(x))
    if 1e-3 <= ax < 1e5:
        s = f"{x:.{digits}g}"
        return s if "e" not in s else f"{x:.0f}"
    exp = int(math.floor(math.log10(ax)))
    mant = x / 10**exp
    s = f"{mant:.{digits}g}"
    if s.startswith("10"):  # rounding carried into the next decade
        mant, exp = mant / 10, exp + 1
        s = f"{mant:.{digits}g}"
    return f"{s}e{exp}"


def fmt_count(x: float, exact: bool = False) -> str:
    """A count as people say it: 70553706496 -> '70.6B', 8030261248 -> '8.0B', 124439808 -> '124.4M'.

    One decimal at every scale, so sizes compare at a glance; `exact=True` adds the digits, for the
    places where the exact figure matters: '70.6B (70,553,706,496)'.
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    ax = abs(x)
    if ax < 1e3:
        text = f"{x:,.0f}" if float(x).is_integer() else f"{x:.3g}"
    else:
        for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
            if ax >= scale * 0.99995:
                text = f"{x / scale:.1f}{suffix}"
                break
    if exact and ax >= 1e3 and float(x).is_integer():
        text += f" ({x:,.0f})"
    return text
