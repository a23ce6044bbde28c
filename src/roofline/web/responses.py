"""JSON responses with non-finite floats as null, and a refusal (not a silent NaN) if any slip through.

Heavy endpoints build their response inside their worker thread, so that serializing a large
chart or plan never blocks the event loop that answers every other request."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from ..estimates.result import clean


class CleanJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(clean(content), allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
