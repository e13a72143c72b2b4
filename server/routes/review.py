"""Review routes: a reviewer's tickets, one ticket in full, its resolution; the console.

The resolution itself is :mod:`tools.review`; these routes turn its refusals into the
API's error answers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse

from graph.facts import order_snapshot
from persistence import repo
from persistence.audit import tail, verify_chain
from persistence.models import Ticket
from server import schemas
from server.access import reviewer_access
from server.errors import ERROR_RESPONSES, ApiError
from server.routes import STATIC
from server.runtime import ServerRuntime
from server.turns import config_of
from tools import review
from tools.review import (
    ConversationPost,
    InvalidReview,
    ReviewConflict,
    ReviewDesk,
    ReviewRefused,
    TicketNotFound,
)

REFUSALS: dict[type[ReviewRefused], int] = {
    TicketNotFound: 404,
    ReviewConflict: 409,
    InvalidReview: 422,
}
"""The HTTP status of each way a resolution can be refused."""

router = APIRouter()


@router.get("/v1/me", response_model=schemas.Reviewer, responses=ERROR_RESPONSES, tags=["review"])
async def me(
    access: Annotated[tuple[ServerRuntime, str], Depends(reviewer_access)],
) -> schemas.Reviewer:
    """Who this reviewer token belongs to."""
    return schemas.Reviewer(reviewer=access[1])


@router.get(
    "/v1/tickets", response_model=schemas.TicketList, responses=ERROR_RESPONSES, tags=["review"]
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
    responses=ERROR_RESPONSES,
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
        events = await tail(conn, thread_id=ticket.thread_id, limit=500) if ticket.thread_id else []
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
        audit_chain=schemas.ChainStatus(ok=chain.ok, checked=chain.checked, problem=chain.problem),
    )


@router.post(
    "/v1/tickets/{ticket_id}/resolve",
    response_model=schemas.ResolutionResult,
    responses=ERROR_RESPONSES,
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


@router.get("/review", include_in_schema=False)
async def review_page() -> FileResponse:
    """The review console."""
    return FileResponse(STATIC / "review.html")


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

    async def post(thread_id: str, update: ConversationPost) -> None:
        await runtime.agent.aupdate_state(config_of(thread_id), update, as_node="respond")

    return ReviewDesk(
        storage=runtime.services.storage,
        refunds=runtime.services.refunds,
        leases=runtime.leases,
        settlement_eta=runtime.settings.settlement_eta,
        post=post,
        snapshot=order_snapshot,
    )


def refused(exc: ReviewRefused) -> ApiError:
    """The error answer of a refused resolution."""
    status = next(code for kind, code in REFUSALS.items() if isinstance(exc, kind))
    return ApiError(status, exc.code, exc.message)
