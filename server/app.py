"""The FastAPI app: the agent's HTTP API, the review API and the web pages.

One process serves many conversations through one pool and one compiled graph,
checkpointed in Postgres. Customer endpoints accept an optional service token (required
when ``SERVICE_TOKENS`` is set); review endpoints require a reviewer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from langchain_core.messages import HumanMessage

from core.settings import Settings, get_settings
from graph.context import Context
from graph.facts import message_text, order_snapshot
from graph.graph import build_builder, message_digest
from graph.services import Services
from persistence import repo
from persistence.audit import tail, verify_chain
from persistence.checkpoint import open_checkpointer
from persistence.models import OPEN_REFUND_STATUSES, Ticket
from server import schemas
from server.access import (
    customer_access,
    customer_read_access,
    rate_limit,
    read_message,
    reviewer_access,
)
from server.edge import Edge
from server.errors import ERROR_RESPONSES, ApiError, install_error_handlers
from server.leases import Leases
from server.metrics import Metrics
from server.runtime import ServerRuntime, runtime_of
from server.turns import (
    config_of,
    load_conversation,
    release,
    remember,
    run_turn,
    sse,
    state_of,
    stream_turn,
)
from tools import review
from tools.review import (
    InvalidReview,
    ReviewConflict,
    ReviewDesk,
    ReviewRefused,
    TicketNotFound,
)
from wiring import tracing
from wiring.services import create_services

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
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
        tracing.install(chosen)
        svc = services or await create_services(chosen)
        saver = await open_checkpointer(svc.storage.pool)

        agent = build_builder(svc).compile(checkpointer=saver, name="support-refund-agent")
        leases = Leases(svc.storage.pool, chosen.turn_lease_seconds)
        app.state.runtime = ServerRuntime(chosen, svc, agent, Metrics(), leases)
        reconciler = None
        if chosen.reconcile_interval_seconds > 0 and services is None:
            # One reconciler per database, elected among the serving processes: refunds
            # left unsettled (MoltPe did not answer, a process died) settle within seconds.
            reconciler = asyncio.create_task(keep_reconciling(svc, chosen), name="reconciler")
        try:
            yield
        finally:
            runtime: ServerRuntime = app.state.runtime
            if runtime.background:
                await asyncio.wait(runtime.background, timeout=30)
            await runtime.leases.aclose()
            if reconciler is not None:
                reconciler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconciler
            if services is None:
                await svc.aclose()
            await tracing.ashutdown()

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

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    app.include_router(routes())
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    # Swagger UI's files as shipped in the fastapi-offline wheel: no CDN, works offline.
    swagger = resources.files("fastapi_offline") / "static"
    app.mount("/docs/assets", StaticFiles(directory=str(swagger)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    return app


# --- routes ---------------------------------------------------------------------------


def routes() -> APIRouter:
    """All routes of the service."""
    router = APIRouter()
    error_responses = ERROR_RESPONSES

    @router.post(
        "/v1/conversations",
        status_code=201,
        response_model=schemas.Conversation,
        responses=error_responses,
        tags=["customers"],
    )
    async def start_conversation(
        runtime: Annotated[ServerRuntime, Depends(customer_access)],
        body: schemas.NewConversation | None = None,
    ) -> schemas.Conversation:
        """Start a conversation; pass ``customer_email`` if your backend signed them in."""
        thread_id = uuid.uuid4().hex
        email = body.customer_email.lower() if body and body.customer_email else None
        async with runtime.services.storage.pool.connection() as conn:
            await repo.create_conversation(conn, thread_id, email, "web")
        return schemas.Conversation(thread_id=thread_id)

    @router.post(
        "/v1/conversations/{thread_id}/messages",
        response_model=schemas.TurnResult,
        responses={
            **error_responses,
            200: {
                "description": "The reply; with Accept: text/event-stream, server-sent events "
                "(node progress, then the reply).",
                "content": {"text/event-stream": {}},
            },
        },
        tags=["customers"],
    )
    async def post_message(
        thread_id: str,
        request: Request,
        runtime: Annotated[ServerRuntime, Depends(customer_access)],
        key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=200,
                description="Send the same key when retrying the same message: the first "
                "answer is returned again instead of the message counting twice.",
            ),
        ] = None,
    ) -> Any:
        """Send the customer's message; the agent's reply and what happened come back."""
        text = await read_message(request, runtime)
        conversation = await load_conversation(runtime, thread_id)
        streaming = "text/event-stream" in request.headers.get("accept", "")
        if key is not None:
            async with runtime.services.storage.pool.connection() as conn:
                earlier = await repo.request_answer(conn, thread_id, key)
            if earlier is not None:
                digest = earlier.pop("message_digest", None)
                if digest is not None and digest != message_digest(text):
                    raise ApiError(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used for a different message",
                    )
                headers = {"Idempotent-Replayed": "true"}
                if streaming:
                    return StreamingResponse(
                        iter([sse("reply", earlier)]),
                        media_type="text/event-stream",
                        headers=headers,
                    )
                return JSONResponse(earlier, headers=headers)
        await rate_limit(
            runtime, f"thread:{thread_id}", runtime.settings.rate_limit_per_conversation
        )
        lease = await runtime.leases.take(thread_id)
        if lease is None:
            raise ApiError(409, "turn_in_progress", "the previous message is still being answered")
        context = Context(
            customer_email=conversation["customer_email"], channel="web", request_id=key
        )
        if streaming:
            return StreamingResponse(
                stream_turn(runtime, thread_id, text, context, key, lease),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        try:
            result = await run_turn(runtime, thread_id, text, context)
            await remember(
                runtime, thread_id, key, {**result, "message_digest": message_digest(text)}
            )
        except ApiError:
            raise
        except Exception as exc:
            # Answered as a clean 500 (never a dropped connection): the client retries with
            # the same Idempotency-Key and gets the first answer or the same request again.
            logger.exception("turn failed on conversation %s", thread_id[:8])
            raise ApiError(
                500, "turn_failed", "the message could not be answered; please send it again"
            ) from exc
        finally:
            await release(runtime, thread_id, lease)
        return schemas.TurnResult(**result)

    @router.get(
        "/v1/conversations/{thread_id}",
        response_model=schemas.ConversationView,
        responses=error_responses,
        tags=["customers"],
    )
    async def get_conversation(
        thread_id: str, runtime: Annotated[ServerRuntime, Depends(customer_read_access)]
    ) -> schemas.ConversationView:
        """The transcript, the current outcome, and the latest ticket with its status."""
        await load_conversation(runtime, thread_id)
        values = await state_of(runtime, thread_id)
        ticket = values.get("ticket")
        if ticket and ticket.get("id") is not None:
            async with runtime.services.storage.pool.connection() as conn:
                row = await repo.get_ticket(conn, int(ticket["id"]))
            if row is not None:
                ticket = {**ticket, "status": row.status}
        lines = []
        for message in values.get("messages", []):
            role = "customer" if isinstance(message, HumanMessage) else "agent"
            lines.append(schemas.TranscriptLine(role=role, text=message_text(message)))
        return schemas.ConversationView(
            thread_id=thread_id,
            messages=lines,
            outcome=values.get("outcome") or {"kind": "none"},
            ticket=ticket,
            refund=values.get("refund"),
        )

    @router.get(
        "/v1/me", response_model=schemas.Reviewer, responses=error_responses, tags=["review"]
    )
    async def me(
        access: Annotated[tuple[ServerRuntime, str], Depends(reviewer_access)],
    ) -> schemas.Reviewer:
        """Who this reviewer token belongs to."""
        return schemas.Reviewer(reviewer=access[1])

    @router.get(
        "/v1/tickets", response_model=schemas.TicketList, responses=error_responses, tags=["review"]
    )
    async def list_tickets(
        access: Annotated[tuple[ServerRuntime, str], Depends(reviewer_access)],
        status: Literal["open", "approved", "denied", "closed", "all"] = "open",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> schemas.TicketList:
        """Review tickets, newest first (``status=open`` by default; ``all`` for every one)."""
        runtime, _ = access
        async with runtime.services.storage.pool.connection() as conn:
            tickets = await repo.list_tickets(
                conn, status=None if status == "all" else status, limit=limit
            )
        return schemas.TicketList(tickets=[summary(t) for t in tickets])

    @router.get(
        "/v1/tickets/{ticket_id}",
        response_model=schemas.TicketDetail,
        responses=error_responses,
        tags=["review"],
    )
    async def get_ticket(
        ticket_id: int, access: Annotated[tuple[ServerRuntime, str], Depends(reviewer_access)]
    ) -> schemas.TicketDetail:
        """One ticket with its full context, the conversation's audit trail and the chain."""
        runtime, _ = access
        async with runtime.services.storage.pool.connection() as conn:
            ticket = await repo.get_ticket(conn, ticket_id)
            if ticket is None:
                raise ApiError(404, "not_found", f"no ticket {ticket_id}")
            events = (
                await tail(conn, thread_id=ticket.thread_id, limit=500) if ticket.thread_id else []
            )
            current = await repo.get_order(conn, ticket.order_id) if ticket.order_id else None
            chain = await verify_chain(conn)
        return schemas.TicketDetail(
            **summary(ticket).model_dump(),
            context=ticket.context,
            order_now=order_snapshot(current) if current is not None else None,
            resolution=(
                {
                    "resolved_by": ticket.resolved_by,
                    "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
                    "note": ticket.resolution_note,
                }
                if ticket.resolved_by
                else None
            ),
            audit=[
                jsonable_encoder({k: e[k] for k in ("seq", "ts", "event_type", "actor", "payload")})
                for e in events
            ],
            audit_chain=schemas.ChainStatus(
                ok=chain.ok, checked=chain.checked, problem=chain.problem
            ),
        )

    @router.post(
        "/v1/tickets/{ticket_id}/resolve",
        response_model=schemas.ResolutionResult,
        responses=error_responses,
        tags=["review"],
    )
    async def resolve(
        ticket_id: int,
        body: schemas.Resolution,
        access: Annotated[tuple[ServerRuntime, str], Depends(reviewer_access)],
    ) -> schemas.ResolutionResult:
        """Approve (refund through the exactly-once path) or deny an open ticket."""
        runtime, reviewer = access
        try:
            resolved = await review.resolve_ticket(
                review_desk(runtime),
                ticket_id,
                decision=body.decision,
                amount=body.amount,
                note=body.note,
                reviewer=reviewer,
            )
        except ReviewRefused as exc:
            raise refused(exc) from None
        return schemas.ResolutionResult(
            ticket=summary(resolved.ticket),
            refund=resolved.refund,
            customer_message=resolved.customer_message,
        )

    @router.get("/healthz", tags=["operations"])
    async def healthz(request: Request) -> JSONResponse:
        """Database and MoltPe reachability."""
        runtime = runtime_of(request)
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(5):
                async with runtime.services.storage.pool.connection() as conn:
                    await conn.execute("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:  # report, never raise, from a health check
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            async with asyncio.timeout(5):
                reachable = await runtime.services.moltpe.ping()
            checks["moltpe"] = "ok" if reachable else "unreachable"
        except Exception as exc:  # report, never raise, from a health check
            checks["moltpe"] = f"error: {type(exc).__name__}"
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", **checks},
            status_code=200 if healthy else 503,
        )

    @router.get("/metrics", tags=["operations"])
    async def metrics(request: Request) -> Response:
        """Prometheus metrics of this process, and the database's unsettled refunds."""
        runtime = runtime_of(request)
        async with runtime.services.storage.pool.connection() as conn:
            cur = await conn.execute(UNSETTLED, {"statuses": list(OPEN_REFUND_STATUSES)})
            row = await cur.fetchone()
        if row is not None:
            runtime.metrics.unsettled.set(int(row["n"]))
            runtime.metrics.oldest_unsettled.set(float(row["oldest"] or 0))
        return Response(
            runtime.metrics.render(),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    @router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC / "chat.html")

    @router.get("/review", include_in_schema=False)
    async def review_page() -> FileResponse:
        return FileResponse(STATIC / "review.html")

    return router


UNSETTLED = """
SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS oldest
  FROM refunds WHERE status = ANY(%(statuses)s)
"""


async def keep_reconciling(services: Services, settings: Settings) -> None:
    """Run the elected reconciler until cancelled; stand by and retry after a failure."""
    from wiring.reconciler import reconcile_forever

    while True:
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


# --- review ---------------------------------------------------------------------------


def summary(ticket: Ticket) -> schemas.TicketSummary:
    """A ticket's list entry."""
    return schemas.TicketSummary(
        id=ticket.id,
        reference=ticket.reference,
        status=ticket.status,
        reason=ticket.reason,
        customer_email=ticket.customer_email,
        order_id=ticket.order_id,
        thread_id=ticket.thread_id,
        created_at=ticket.created_at.isoformat(),
    )


def review_desk(runtime: ServerRuntime) -> ReviewDesk:
    """What the reviewer's workflow acts through, from the app's runtime."""

    async def post(thread_id: str, update: dict[str, Any]) -> None:
        await runtime.agent.aupdate_state(config_of(thread_id), update, as_node="respond")

    return ReviewDesk(
        storage=runtime.services.storage,
        refunds=runtime.services.refunds,
        leases=runtime.leases,
        settlement_eta=runtime.settings.settlement_eta,
        post=post,
        snapshot=order_snapshot,
    )


REFUSALS: dict[type[ReviewRefused], int] = {
    TicketNotFound: 404,
    ReviewConflict: 409,
    InvalidReview: 422,
}
"""The HTTP status of each way a resolution can be refused."""


def refused(exc: ReviewRefused) -> ApiError:
    """The error answer of a refused resolution."""
    status = next(code for kind, code in REFUSALS.items() if isinstance(exc, kind))
    return ApiError(status, exc.code, exc.message)
