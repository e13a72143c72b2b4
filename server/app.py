"""The FastAPI app: the agent's HTTP API, the review API and the web pages.

One process serves many conversations through one pool and one compiled graph,
checkpointed in Postgres. Customer endpoints accept an optional service token (required
when ``SERVICE_TOKENS`` is set); review endpoints require a reviewer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from core.settings import Settings, get_settings
from core.tasks import raise_if_cancelled
from graph.graph import build_builder
from graph.services import Services
from persistence.checkpoint import open_checkpointer
from server.edge import Edge, SecurityHeaders
from server.errors import install_error_handlers
from server.leases import Leases
from server.metrics import Metrics
from server.notices import NOTICE_INTERVAL_SECONDS, keep_telling
from server.routes import STATIC, customers, operations, orders, review
from server.runtime import ServerRuntime
from wiring import tracing
from wiring.llm_check import settings_that_work
from wiring.services import create_services

__all__ = ["create_app", "keep_chaining", "keep_reconciling"]

logger = logging.getLogger(__name__)

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>support-refund-agent API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body></html>
"""
# The pages load only their own scripts and styles (inline style attributes are used for
# small layout tweaks) and talk only to this service; nothing may frame them.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def create_app(*, settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app. Services are created at start-up unless given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        chosen = settings or get_settings()
        # Everything started here is stopped by the stack, in reverse order, also when a
        # later step of the start-up fails.
        async with contextlib.AsyncExitStack() as stack:
            tracing.install(chosen)
            stack.push_async_callback(tracing.ashutdown)
            # One cheap call: a broken LLM is said once, and the rules answer from the start.
            chosen, llm = await settings_that_work(chosen, logger=logger)
            svc = services or await create_services(chosen)
            if services is None:
                stack.push_async_callback(svc.aclose)
            saver = await open_checkpointer(svc.storage.pool)

            agent = build_builder(svc).compile(checkpointer=saver, name="support-refund-agent")
            leases = Leases(svc.storage.pool, chosen.turn_lease_seconds)
            runtime = ServerRuntime(chosen, svc, agent, Metrics(), leases, llm=llm)
            app.state.runtime = runtime
            if chosen.reconcile_interval_seconds > 0 and services is None:
                # One reconciler per database, elected among the serving processes: refunds
                # left unsettled (MoltPe did not answer, a process died) settle within seconds.
                reconciler = asyncio.create_task(keep_reconciling(svc, chosen), name="reconciler")
                stack.push_async_callback(_stop, reconciler)
            if services is None:
                # Refunds settled after their turn (by whichever process) are told on their
                # conversations; every process may tell, each notice is written once.
                every = chosen.reconcile_interval_seconds or NOTICE_INTERVAL_SECONDS
                telling = asyncio.create_task(keep_telling(runtime, every), name="notices")
                stack.push_async_callback(_stop, telling)
            if services is None:
                # Events committed by a process that died before they were chained (or
                # copied to the mirror file) are chained without waiting for the next write.
                chaining = asyncio.create_task(keep_chaining(svc), name="audit-chain")
                stack.push_async_callback(_stop, chaining)
            stack.push_async_callback(leases.aclose)
            stack.push_async_callback(_finish_background, runtime)
            yield

    app = FastAPI(
        title="support-refund-agent",
        version="0.1.0",
        summary="Customer-support refunds in USDC within policy; escalations to people.",
        lifespan=lifespan,
        redirect_slashes=False,  # a redirect would be built from the client's Host header
        docs_url=None,  # served below from the package: the stock page loads a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    edge_settings = settings or get_settings()
    app.add_middleware(
        Edge,
        max_body_bytes=edge_settings.max_body_bytes,
        body_read_seconds=edge_settings.body_read_seconds,
    )

    app.add_middleware(SecurityHeaders, page_policy=PAGE_POLICY)

    for router in (customers.router, review.router, orders.router, operations.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    # Swagger UI's files as shipped in the fastapi-offline wheel: no CDN, works offline.
    swagger = resources.files("fastapi_offline") / "static"
    app.mount("/docs/assets", StaticFiles(directory=str(swagger)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    return app


MIRROR_INTERVAL_SECONDS = 5.0
BACKGROUND_GRACE_SECONDS = 30.0


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel a background loop and wait until it has stopped."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _finish_background(runtime: ServerRuntime) -> None:
    """Give work started for answered requests (e.g. a reviewer's refund) time to finish."""
    if runtime.background:
        await asyncio.wait(runtime.background, timeout=BACKGROUND_GRACE_SECONDS)


async def keep_chaining(services: Services, interval: float = MIRROR_INTERVAL_SECONDS) -> None:
    """Chain pending audit events and keep the mirror file caught up, until cancelled.

    Each write wakes its own process's chainer; this loop catches what a process that
    died left pending, and what other processes chained while this one was idle.
    """
    from persistence.audit import MIRROR_BATCH

    audit = services.storage.audit
    while True:
        raise_if_cancelled()
        try:
            await audit.chain()  # -1 (another process is chaining) is fine: it will
            while await audit.mirror() >= MIRROR_BATCH:
                pass  # a long backlog (a new mirror): copy it batch after batch
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning(
                "could not chain the audit log or update its mirror; retrying", exc_info=True
            )
        await asyncio.sleep(interval)


async def keep_reconciling(services: Services, settings: Settings) -> None:
    """Run the elected reconciler until cancelled; stand by and retry after a failure."""
    from wiring.reconciler import reconcile_forever

    while True:
        raise_if_cancelled()
        try:
            await reconcile_forever(
                services,
                interval=settings.reconcile_interval_seconds,
                older_than=settings.reconcile_after_seconds,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("the reconciler stopped; retrying", exc_info=True)
            await asyncio.sleep(settings.reconcile_interval_seconds)
