"""The FastAPI application: routes, error shapes, offline docs, background scheduler."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from buyerguard import __version__
from buyerguard.api.answers import Health, answers
from buyerguard.api.metrics import count_committed_transfers, count_statements, exposition
from buyerguard.api.openapi import truthful_openapi
from buyerguard.api.request_ids import RequestIds, error_body
from buyerguard.api.routes import ROUTERS
from buyerguard.api.token_cache import TokenCache
from buyerguard.api.validation import validation_refusal
from buyerguard.bootstrap import Runtime
from buyerguard.errors import Busy, BuyerguardError
from buyerguard.logs import get_logger
from buyerguard.scheduler import Scheduler
from buyerguard.settings import settings
from buyerguard.store.migrate import require_migrated

# Swagger UI 5 (renders OpenAPI 3.1), shipped inside the fastapi-offline wheel: no CDN.
SWAGGER_ASSETS = Path(str(resources.files("fastapi_offline") / "static"))
RETRY_AFTER_SECONDS = 1
log = get_logger(__name__)
ERROR_STATUS_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
}


def _error(
    status_code: int,
    code: str,
    message: str,
    field: str | None,
    problems: list[dict[str, str | None]] | None = None,
) -> JSONResponse:
    """An error answer in the one error shape (`request_ids.error_body`)."""
    return JSONResponse(error_body(code, message, field, problems), status_code=status_code)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette names only the first
    route's). The routes of included routers are walked too, with their full paths."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        path, route_methods = route.path, route.methods
        if path and route_methods and _path_pattern(path).match(request.url.path):
            methods |= route_methods
    if "GET" in methods:  # answered wherever GET is (access.GuardedRoute.matches)
        methods.add("HEAD")
    return sorted(methods)


@functools.lru_cache(maxsize=512)
def _path_pattern(path: str) -> re.Pattern[str]:
    return compile_path(path)[0]


def create_app(
    rt: Runtime,
    *,
    run_scheduler: bool = False,
    scheduler_interval_seconds: float = 1.0,
    token_cache_seconds: float | None = None,
) -> FastAPI:
    """Build the app; with `run_scheduler` a background thread fires due timers.
    `token_cache_seconds`: how long an accepted token is kept (default: the setting)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker = None
        if run_scheduler:
            scheduler = Scheduler(
                rt.engine, rt.clock, rt.rulebooks, name="serve", history=rt.history, recurring=True
            )
            worker = threading.Thread(
                target=scheduler.run, args=(scheduler_interval_seconds, stop), daemon=True
            )
            worker.start()
        yield
        stop.set()
        if worker is not None:
            worker.join(timeout=10)

    app = FastAPI(
        title="buyerguard",
        version=__version__,
        description="Buyer-protection engine: facts in, decisions, postings and events out.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Operation ids are the route functions' names (`place_order`), which generated
        # clients turn into their method names; FastAPI's default glues on path and method.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.runtime = rt
    app.state.token_cache = TokenCache(
        settings().token_cache_seconds if token_cache_seconds is None else token_cache_seconds
    )
    app.mount("/static/swagger", StaticFiles(directory=str(SWAGGER_ASSETS)), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="buyerguard API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon.png",
        )

    @app.head("/healthz", include_in_schema=False)
    @app.get("/healthz", tags=["health"], **answers(Health))
    async def healthz() -> dict[str, str]:
        """Liveness, answered on the event loop: it never queues behind database work."""
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus exposition: every worker's counts and the timers' gauges."""
        content, media_type = exposition(rt.engine, rt.clock)
        return Response(content, media_type=media_type)

    @app.head("/readyz", include_in_schema=False)
    @app.get("/readyz", tags=["health"], **answers(Health))
    def readyz() -> dict[str, str]:
        """Readiness: the database answers and its schema is this release's (else 503 with the
        reason: unreachable, not migrated, or at another revision)."""
        require_migrated(rt.engine)
        return {"status": "ready", "version": __version__}

    @app.exception_handler(BuyerguardError)
    async def on_refused(_request: Request, exc: BuyerguardError) -> JSONResponse:
        log.info("refused", code=exc.code, field=exc.field, status=exc.status_code)
        if exc.status_code == 503:  # busy or not ready: the same request may succeed later
            response = _error(503, exc.code, exc.message, exc.field, exc.all_problems())
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        status = exc.status_code if 400 <= exc.status_code < 500 else 422
        return _error(status, exc.code, exc.message, exc.field, exc.all_problems())

    @app.exception_handler(PoolTimeout)
    async def on_pool_exhausted(request: Request, exc: PoolTimeout) -> JSONResponse:
        """All pooled connections stayed busy past the timeout: contention, not a fault."""
        busy = Busy(
            "database_busy",
            "every database connection stayed busy; nothing was written: send it again",
            None,
        )
        return await on_refused(request, busy)

    @app.exception_handler(OperationalError)
    async def on_database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        """The database could not be reached or did not answer (down, restarting, its
        connections refused): the request may succeed once it is back, as `/readyz` says."""
        log.warning("database_unavailable", error=str(exc.orig)[:500])
        unavailable = Busy(
            "database_unavailable",
            "the database could not be reached or did not answer; a command was rolled back: "
            "send it again (with the same Idempotency-Key it runs at most once)",
            None,
        )
        return await on_refused(request, unavailable)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        refusal = validation_refusal(exc.errors())
        return _error(422, refusal.code, refusal.message, refusal.field, refusal.all_problems())

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot decode (bytes that are not UTF-8): the
            # same refusal as any other body that is not JSON.
            return _error(422, "json_malformed", f"the body is not JSON text: {exc.detail}", None)
        code = ERROR_STATUS_CODES.get(exc.status_code, "http_error")
        response = _error(exc.status_code, code, str(exc.detail), None)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    for router in ROUTERS:
        app.include_router(router)
    app.openapi = lambda: truthful_openapi(app)  # type: ignore[method-assign]
    count_committed_transfers(rt.engine)
    count_statements(rt.engine)
    app.add_middleware(RequestIds)
    return app
