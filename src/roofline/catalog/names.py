"""Name matching shared by the catalogs: normalize, resolve aliases, suggest the closest names."""

from __future__ import annotations

import difflib

from ..errors import RooflineError


def normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def closest(key: str, names: list[str], n: int = 4, cutoff: float = 0.5) -> list[str]:
    """The names nearest `key`, for a "did you mean" hint."""
    close = difflib.get_close_matches(key, names, n=n, cutoff=cutoff)
    return close or [k for k in names if key and key in k][:n]  # substrings: 'h100' style partials


def resolve(name: str, table: dict[str, str], kind: str) -> str:
    """Canonical name for `name`, where `table` maps every normalized name and alias to its canonical."""
    if not isinstance(name, str):
        raise RooflineError(f"a {kind} is given by its name (`roofline {kind}s` lists them), got {name!r}")
    key = normalize(name)
    if key in table:
        return table[key]
    close = closest(key, list(table))
    hint = f"; closest: {', '.join(dict.fromkeys(close))}" if close else ""
    shown = name if len(name) <= 80 else name[:77] + "..."
    raise RooflineError(f"unknown {kind} '{shown}'{hint} (`roofline {kind}s` lists them)")
