"""What stands between a hostile request and the calculator (pure ASGI middleware and one gate).

  HostCheck   bound to localhost, answer only requests addressed to localhost: a page on another
              site that rebinds its own DNS name to 127.0.0.1 sends its own name as the Host.
  StrictJSON  a request body is UTF-8 JSON with finite numbers, nested at most 32 deep, or a 400
              that says which (Python's parser would take NaN and Infinity, and recurse without end).
  CatchAll    whatever goes wrong inside, the answer is JSON and the connection stays usable
              (an exception that reaches the server makes uvicorn close a keep-alive connection).
  HeavyGate   charts, reports and split searches run one at a time, each within a time limit,
              so that cheap requests stay fast while heavy ones queue.
  HeavyPaths  the same gate, by path, around the serving simulations and the planner.
  NoLocalGpu  `local` (the GPU of the machine running roofline) is refused: a caller asks about
              catalog hardware, never about the server's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Iterable

from contextlib import asynccontextmanager

import anyio
from starlette.exceptions import HTTPException

from ..errors import RooflineError
from ..specs import strict_json

log = logging.getLogger("roofline.web")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


async def reply(send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


def host_of(header: str) -> str:
    """The name in a Host header, without port or brackets: '[::1]:8000' -> '::1'."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


class HostCheck:
    def __init__(self, app, allowed: Iterable[str] = LOCAL_HOSTS):
        self.app = app
        self.allowed = {host_of(h) for h in allowed}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            header = dict(scope.get("headers") or []).get(b"host")
            if header is not None:
                name = host_of(header.decode("latin-1"))
                if name not in self.allowed:
                    shown = name[:80]
                    return await reply(send, 421, f"this server answers only requests addressed to "
                                                  f"{', '.join(sorted(self.allowed))}, not '{shown}'")
        return await self.app(scope, receive, send)


class StrictJSON:
    """Read the (already size-capped) body once, refuse what is not strict JSON, replay it downstream."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.strip():
            try:
                strict_json.loads(body, "request body")
            except RooflineError as e:
                return await reply(send, 400, str(e))
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


class CatchAll:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except HTTPException:  # a size cap met while reading: the body limit answers it
            raise
        except Exception as e:  # a bug: logged here, answered as JSON, the connection kept
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await reply(send, 500, f"internal error ({type(e).__name__}); please report it with the request that caused it")


class Busy(HTTPException):
    def __init__(self, message: str):
        super().__init__(503, message, headers={"Retry-After": "5"})


class HeavyGate:
    """At most `slots` heavy computations at once; a request waits up to `wait_s` for a slot and
    its work may take `run_s`. Past either, 503. A thread cannot be stopped, so work that overruns
    finishes in the background and keeps its slot until then: the slots bound the load either way."""

    def __init__(self, slots: int = 1, wait_s: float = 10.0, run_s: float = 30.0):
        self.slots, self.wait_s, self.run_s = slots, wait_s, run_s
        self._free = threading.BoundedSemaphore(slots)

    async def _acquire(self) -> None:
        deadline = time.monotonic() + self.wait_s
        while not self._free.acquire(blocking=False):  # polled: the gate works under any event loop
            if time.monotonic() > deadline:
                raise Busy(f"the server is busy with other charts, reports, plans or simulations "
                           f"({self.slots} at a time); try again in a few seconds")
            await anyio.sleep(0.02)

    @asynccontextmanager
    async def slot(self):
        """Hold a slot around work the gate does not run itself (see HeavyPaths)."""
        await self._acquire()
        try:
            yield
        finally:
            self._free.release()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        await self._acquire()

        def guarded():
            try:
                return fn(*args)
            finally:
                self._free.release()

        try:
            with anyio.fail_after(self.run_s):
                return await anyio.to_thread.run_sync(guarded, abandon_on_cancel=True)
        except TimeoutError:
            raise Busy(f"the request took longer than {self.run_s:g} s; ask for fewer points, GPUs or settings") from None


class HeavyPaths:
    """The gate around endpoints that do not call it themselves (the serving simulations and the
    planner): their slot is held until the answer is sent. Their work has its own caps (prompts,
    GPUs) instead of the gate's time limit, since a running sync endpoint cannot be cut short."""

    def __init__(self, app, paths: Iterable[str], gate: "HeavyGate | None" = None):
        self.app = app
        self.paths = set(paths)
        self.gate = gate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in self.paths:
            return await self.app(scope, receive, send)
        gate = self.gate or HEAVY
        try:
            async with gate.slot():
                await self.app(scope, receive, send)
        except Busy as e:
            await reply(send, 503, e.detail, [(b"retry-after", b"5")])


# One heavy computation per server process: Python runs one thread's bytecode at a time, so a second
# heavy thread adds little throughput and doubles the wait of every cheap request. More workers
# (`uvicorn --workers N`, README) are how a server uses more cores.
HEAVY = HeavyGate(slots=1)


class NoLocalGpu:
    """Refuse `gpu: "local"` in every request (the flag lives in a context variable, which the
    threads serving the request inherit)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        from ..catalog.gpus import LOCAL_GPU_ALLOWED

        token = LOCAL_GPU_ALLOWED.set(False)
        try:
            await self.app(scope, receive, send)
        finally:
            LOCAL_GPU_ALLOWED.reset(token)
