"""Hourly GPU prices: the built-in defaults (data/prices.toml) and a user's own file over them.

A price file is either CSV, one GPU a line:

    gpu,usd_per_gpu_hour,source          # header optional; source optional
    h100,2.49,my contract 2026-11
    a100-sxm-80gb,1.60

or TOML in the built-in file's shape (`[h100-sxm]` then `usd_per_gpu_hour = 2.49`, `source = "..."`).
GPU names are catalog names or aliases. The file's prices replace the built-in ones for the GPUs
it names; the other GPUs keep their defaults. Anything malformed is an error naming the line.
"""

from __future__ import annotations

import csv
import io
import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import RooflineError

_FILE = resources.files("roofline") / "data" / "prices.toml"
MAX_PRICE = 1000.0  # $/GPU-hour; far above any GPU rented today, so a larger figure is a typo


@dataclass(frozen=True)
class Price:
    gpu: str  # catalog name
    usd_per_gpu_hour: float
    source: str
    observed: str = ""  # when the prices were seen
    providers: int = 0  # how many providers the median is taken over (0: a user's own figure)
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict:
        return {"gpu": self.gpu, "usd_per_gpu_hour": self.usd_per_gpu_hour, "source": self.source,
                "observed": self.observed, "providers": self.providers, "range_usd_per_gpu_hour":
                [self.low, self.high] if self.low is not None else None}


def _check_price(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RooflineError(f"{where}: the price must be a number of US dollars per GPU-hour, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v <= 0 or v > MAX_PRICE:
        raise RooflineError(f"{where}: the price must be above 0 and at most {MAX_PRICE:g} $/GPU-hour, got {value!r}")
    return v


@lru_cache(maxsize=1)
def builtin_prices() -> dict[str, Price]:
    raw = tomllib.loads(_FILE.read_text())
    return {key: Price(key, float(e["usd_per_gpu_hour"]), e["source"], e.get("observed", ""), int(e.get("providers", 0)),
                       *(e.get("range") or (None, None)))
            for key, e in raw.items()}


def _gpu_key(name: str, where: str) -> str:
    from .gpus import resolve_gpu

    try:
        return resolve_gpu(name.strip())
    except RooflineError as e:
        raise RooflineError(f"{where}: {e}") from None


def _parse_csv(text: str, label: str) -> dict[str, Price]:
    out: dict[str, Price] = {}
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        where = f"{label} line {lineno}"
        if cells[0].lower() == "gpu":
            if lineno != 1 and out:
                raise RooflineError(f"{where}: a header line ('gpu,...') may only come first")
            continue
        if len(cells) < 2 or len(cells) > 3:
            raise RooflineError(f"{where}: expected 'gpu,usd_per_gpu_hour[,source]', got {len(cells)} field(s)")
        try:
            value = float(cells[1])
        except ValueError:
            raise RooflineError(f"{where}: the price '{cells[1]}' is not a number") from None
        key = _gpu_key(cells[0], where)
        if key in out:
            raise RooflineError(f"{where}: {key} is priced twice")
        source = cells[2] if len(cells) == 3 and cells[2] else f"your prices file ({label})"
        out[key] = Price(key, _check_price(value, where), source)
    return out


def _parse_toml(text: str, label: str) -> dict[str, Price]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # its message names the line and column
        raise RooflineError(f"{label}: not valid TOML ({e})") from None
    out: dict[str, Price] = {}
    for name, entry in raw.items():
        where = f"{label} [{name}]"
        if not isinstance(entry, dict) or "usd_per_gpu_hour" not in entry:
            raise RooflineError(f"{where}: expected a table with usd_per_gpu_hour = <dollars per GPU-hour>")
        key = _gpu_key(name, where)
        source = str(entry.get("source") or f"your prices file ({label})")
        out[key] = Price(key, _check_price(entry["usd_per_gpu_hour"], where), source, str(entry.get("observed", "")))
    return out


def parse_prices(text: str, label: str = "prices file", toml: bool = False) -> dict[str, Price]:
    prices = _parse_toml(text, label) if toml else _parse_csv(text, label)
    if not prices:
        raise RooflineError(f"{label}: no prices in it (expected lines 'gpu,usd_per_gpu_hour')")
    return prices


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """The built-in prices, with those in `path` (CSV or .toml) replacing them where given."""
    prices = dict(builtin_prices())
    if path is None:
        return prices
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RooflineError(f"prices file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RooflineError(f"cannot read prices file {p}: {e.__class__.__name__}") from None
    prices.update(parse_prices(text, p.name, toml=p.suffix.lower() == ".toml"))
    return prices


def price_of(gpu: str, prices: dict[str, Price] | None = None) -> Price | None:
    """The price of a catalog GPU, or None when there is none to go on."""
    table = builtin_prices() if prices is None else prices
    return table.get(gpu)


def with_overrides(overrides: dict | None, label: str = "prices") -> dict[str, Price]:
    """The built-in prices with {gpu: usd_per_gpu_hour} replacing them (the web API's `prices`)."""
    prices = dict(builtin_prices())
    for name, value in (overrides or {}).items():
        where = f"{label}[{name!r}]"
        key = _gpu_key(str(name), where)
        prices[key] = Price(key, _check_price(value, where), f"given in the request ({label})")
    return prices
