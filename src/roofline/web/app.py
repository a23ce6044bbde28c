"""The web calculator: the JSON API, its docs, and one static page, all served offline.

Every response that is not the page or a file is JSON; every error is {"error": "..."} with a
4xx status for bad input, 503 when busy (500 only for a bug, without a traceback, and the
connection stays usable). NaN and infinity never reach the wire, in either direction: request
bodies with them are refused (`guards.StrictJSON`), results pass through `estimates.result.clean`.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import RooflineError
from .api import router
from .docs_page import render_docs
from .guards import LOCAL_HOSTS, CatchAll, HeavyPaths, HostCheck, NoLocalGpu, StrictJSON
from .responses import CleanJSONResponse
from .limits import MAX_BODY_BYTES, BodyLimit
from .serving_api import router as serving_router

STATIC = resources.files("roofline") / "web" / "static"
SERVING_PATHS = ("/api/simulate", "/api/plan", "/api/plot/serving")  # heavy, gated by path (serving_api.py)
PAGE_FILES = {"app.js": "text/javascript", "views.js": "text/javascript", "serving.js": "text/javascript",
              "style.css": "text/css"}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return CleanJSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "invalid request: " + "; ".join(parts)


def create_app(max_body_bytes: int = MAX_BODY_BYTES, allowed_hosts: Iterable[str] | None = None) -> FastAPI:
    """The app. `allowed_hosts`: answer only requests whose Host header names one of these (what
    `roofline web` sets when bound to localhost, against DNS rebinding); None: any Host."""
    app = FastAPI(
        title="roofline",
        version=__version__,
        description="Does an LLM fit, how fast will it serve, what limits it: first-principles roofline estimates, "
                    "with the working shown. SI units throughout (bytes, FLOP, seconds).",
        default_response_class=CleanJSONResponse,
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN; /docs is rendered here instead, offline
        redoc_url=None,
    )
    # outermost last: no local GPU, Host check, then the size cap, then strict JSON, then the catch-all
    app.add_middleware(HeavyPaths, paths=SERVING_PATHS)  # innermost: a bug inside still meets CatchAll
    app.add_middleware(CatchAll)
    app.add_middleware(StrictJSON)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=allowed_hosts)
    app.add_middleware(NoLocalGpu)  # outermost: every task and thread serving the request inherits it
    app.include_router(serving_router)  # first: its /api/plot/serving precedes /api/plot/{kind}
    app.include_router(router)

    @app.exception_handler(RooflineError)
    async def bad_input(request: Request, exc: RooflineError):
        return _error(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path} (GET /api lists them)"
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        from ..report.assets import plotly_js_path

        return FileResponse(plotly_js_path(), media_type="text/javascript")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in PAGE_FILES:  # a fixed list: no path from the request reaches the file system
            return _error(404, f"no such file: {name}")
        return Response((STATIC / name).read_bytes(), media_type=PAGE_FILES[name])

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(render_docs(app.openapi(), str(request.base_url)))

    return app


def create_local_app() -> FastAPI:
    """The app as `roofline web` serves it on localhost, for `uvicorn --factory` with several workers."""
    return create_app(allowed_hosts=LOCAL_HOSTS)
