"""Interconnects: NVLink/NVSwitch, PCIe, InfiniBand/Ethernet, xGMI, ICI; per GPU and per direction."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

from ..errors import RooflineError
from ..specs.hardware import Link
from .names import normalize, resolve

_FILE = resources.files("roofline") / "data" / "links.toml"


@lru_cache(maxsize=1)
def _load_all() -> dict[str, Link]:
    raw = tomllib.loads(_FILE.read_text())
    return {key: Link.model_validate({"name": key, **entry}) for key, entry in raw.items()}


def all_links() -> list[Link]:
    return list(_load_all().values())


def get_link(name: str) -> Link:
    links = _load_all()
    if not isinstance(name, str):
        raise RooflineError(f"a link is given by its links.toml key (ib-ndr, roce-400, ...), got {name!r}")
    if not name.strip():
        raise RooflineError("link name is empty")
    key = resolve(name, {normalize(k): k for k in links}, "link")
    return links[key]
