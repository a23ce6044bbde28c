"""Reading JSON that may be hostile: capped in size, UTF-8 only, finite numbers only, shallow.

Python's `json` accepts `NaN`, `Infinity` and `1e400` (which becomes inf), recurses once per
nesting level (200,000 levels end in RecursionError) and will read a file until memory runs out.
A config.json is a few kB and three or four levels deep, so the caps below are generous for any
real one and stop every one of those failures with one line that says what is wrong.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import RooflineError

MAX_FILE_BYTES = 16 * 1024 * 1024  # a config.json is a few kB; 16 MB is generous
MAX_DEPTH = 32  # objects and lists inside each other; real configs nest 3 or 4 deep


def _reject_constant(name: str) -> Any:
    raise RooflineError(f"{name} is not a number JSON allows; give a finite number or null")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RooflineError(f"{text} is too large for a number (not finite); give a finite number or null")
    return value


def _depth_exceeded(doc: Any, limit: int) -> bool:
    """True if containers nest deeper than `limit`, found without recursion."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def decode_utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte-order mark is harmless; anything else non-UTF-8 is not
    except UnicodeDecodeError as e:
        raise RooflineError(f"{what} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None


def loads(data: bytes | str, what: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON strictly; every failure is a RooflineError naming `what` and the reason."""
    text = decode_utf8(data, what) if isinstance(data, (bytes, bytearray)) else data
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RooflineError as e:
        raise RooflineError(f"{what}: {e}") from None
    except json.JSONDecodeError as e:
        raise RooflineError(f"{what}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise RooflineError(f"{what}: JSON nested more than {max_depth} levels deep") from None
    except ValueError as e:  # an integer of more than 4,300 digits
        raise RooflineError(f"{what}: {str(e).splitlines()[0]}") from None
    if _depth_exceeded(doc, max_depth):
        raise RooflineError(f"{what}: JSON nested more than {max_depth} levels deep")
    return doc


def read_capped(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """At most `limit` bytes of a file; more is an error (so /dev/zero cannot exhaust memory)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        shown = str(path) if len(str(path)) <= 120 else str(path)[:117] + "..."
        raise RooflineError(f"cannot read {shown}: {getattr(e, 'strerror', None) or e}") from None
    if len(data) > limit:
        raise RooflineError(f"{path} is larger than {limit // (1024 * 1024)} MB; a config.json is a few kB")
    return data
