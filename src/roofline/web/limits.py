"""What one request may ask of the server, and the middleware that holds request bodies to it."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException

from ..estimates.sweep import MAX_POINTS
from ..specs.hf_config import LIMITS as CONFIG_LIMITS  # an inline config is held to the parser's caps

MAX_BODY_BYTES = 64 * 1024  # a pasted config.json is a few kB
MAX_GPUS = 8
MAX_LIST = 24  # batch/length settings, models, formats in one chart
MAX_SPLIT = 4096  # tp × pp × dp: GPUs in one deployment


class TooLarge(HTTPException):
    """A request over one of the caps: answered 413 with the cap named. An HTTPException, so that
    FastAPI passes it through its body parsing untouched."""

    def __init__(self, message: str):
        super().__init__(413, message)


def limits() -> dict:
    return {"max_body_bytes": MAX_BODY_BYTES, "max_points": MAX_POINTS, "max_gpus": MAX_GPUS, "max_list": MAX_LIST,
            "max_layers": CONFIG_LIMITS["layers"], "max_split": MAX_SPLIT}


class BodyLimit:
    """ASGI middleware: refuse bodies over `max_bytes` with 413, by Content-Length up front or by
    counting the chunks as they arrive (chunked uploads name no length)."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                return await self._reply(send, 400, "Content-Length is not a number")
            if too_big:
                return await self._reply(send, 413, self._message(int(declared)))
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self._message(seen))
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except TooLarge as e:
            if not started:
                await self._reply(send, 413, e.detail)

    def _message(self, size: int) -> str:
        return f"request body of {size:,} bytes exceeds the cap of {self.max_bytes:,} bytes"

    @staticmethod
    async def _reply(send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
