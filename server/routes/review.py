"""Review routes: the queue's views, one ticket in full, taking and resolving it; the console.

The workflow itself is :mod:`tools.review`; these routes turn its refusals into the
API's error answers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse

from core.money import format_usdc
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
from tools.review import InvalidReview, ReviewConflict, ReviewDesk, ReviewRefused, TicketNotFound

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
    view: Annotated[
        Literal["open", "mine", "resolved", "all"] | None,
        Query(description="open; mine (open and taken by you); resolved; all."),
    ] = None,
    status: Annotated[
        Literal["open", "approved", "denied", "closed", "all"] | None,
        Query(description="One status instead of a view."),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="A ticket reference or id, order id or email."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> schemas.TicketList:
    """A page of the review queue: one view (``open`` by default) or one status, searched.

    ``mine`` is the open tickets the signed-in reviewer took; ``resolved`` lists the latest
    resolved first, with who resolved each and when. ``q`` finds tickets by reference or
    id (``RT-000042``, ``42``), order id or customer email, in part and ignoring case.
    ``counts`` says how many match in each view; ``next_offset`` pages on.
    """
    runtime, reviewer = access
    if view is not None and status is not None:
        raise ApiError(422, "invalid_request", "give a view or a status, not both")
    if status == "all":
        view, status = "all", None
    if view is None and status is None:
        view = "open"
    actor = review.actor_of(reviewer)
    async with runtime.services.storage.pool.connection() as conn:
        rows = await repo.search_tickets(
            conn, view=view, status=status, assignee=actor, q=q, limit=limit + 1, offset=offset
        )
        counts = await repo.count_ticket_views(conn, assignee=actor, q=q)
    return schemas.TicketList(
        tickets=[summary(row.ticket, refund_amount=row.refund_amount) for row in rows[:limit]],
        view=view,
        counts=counts,
        next_offset=offset + limit if len(rows) > limit else None,
    )


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
    "/v1/tickets/{ticket_id}/claim",
    response_model=schemas.TicketSummary,
    responses=ERROR_RESPONSES,
    tags=["review"],
)
async def claim(
    ticket_id: int,
    access: Annotated[tuple[ServerRuntime, str], Depends(reviewer_access)],
    body: schemas.Claim | None = None,
) -> schemas.TicketSummary:
    """Take an open ticket as yours (it shows under ``view=mine``); 409 if another has it.

    ``{"take_over": true}`` takes it from the reviewer who has it; both are audited.
    Others cannot resolve a ticket while it is yours.
    """
    runtime, reviewer = access
    take_over = body.take_over if body is not None else False
    try:
        ticket = await review.claim_ticket(
            runtime.services.storage, ticket_id, reviewer, take_over=take_over
        )
    except ReviewRefused as exc:
        raise refused(exc) from None
    return summary(ticket)


@router.post(
    "/v1/tickets/{ticket_id}/release",
    response_model=schemas.TicketSummary,
    responses=ERROR_RESPONSES,
    tags=["review"],
)
async def release(
    ticket_id: int, access: Annotated[tuple[ServerRuntime, str], Depends(reviewer_access)]
) -> schemas.TicketSummary:
    """Give back an open ticket you took, for anyone to take (audited)."""
    runtime, reviewer = access
    try:
        ticket = await review.release_ticket(runtime.services.storage, ticket_id, reviewer)
    except ReviewRefused as exc:
        raise refused(exc) from None
    return summary(ticket)


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


def summary(ticket: Ticket, refund_amount: Decimal | None = None) -> schemas.TicketSummary:
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
        assignee=ticket.assignee if ticket.status == "open" else None,
        assigned_at=(
            ticket.assigned_at.isoformat()
            if ticket.assigned_at and ticket.status == "open"
            else None
        ),
        resolved_by=ticket.resolved_by,
        resolved_at=ticket.resolved_at.isoformat() if ticket.resolved_at else None,
        refund_amount=format_usdc(refund_amount) if refund_amount is not None else None,
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


def refused(exc: ReviewRefused) -> ApiError:
    """The error answer of a refused resolution."""
    status = next(code for kind, code in REFUSALS.items() if isinstance(exc, kind))
    return ApiError(status, exc.code, exc.message)
