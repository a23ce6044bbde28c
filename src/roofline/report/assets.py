"""plotly.js, taken from the installed plotly package so the report and the web page work offline."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from ..errors import RooflineError


def plotly_js_path() -> Path:
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RooflineError("charts in HTML need plotly.js from the plotly package: pip install 'roofline[plot]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RooflineError(f"the plotly package has no bundled plotly.js at {path}; reinstall plotly")
    return path


@lru_cache(maxsize=1)
def plotly_js() -> str:
    return plotly_js_path().read_text(encoding="utf-8")
