"""Review routes: the queue's views, one ticket in full, taking and resolving it; the console.

The workflow itself is :mod:`tools.review` (the trail's words :mod:`tools.audit_words`);
these routes turn its refusals into the API's error answers.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse
from langchain_core.messages import AnyMessage, HumanMessage

from core.money import format_usdc
from graph.facts import message_text, order_snapshot
from persistence import repo, transcripts
from persistence.audit import trail_of, verify_chain
from persistence.models import Ticket
from server import schemas
from server.access import reviewer_access
from server.errors import ERROR_RESPONSES, ApiError
from server.routes import STATIC
from server.runtime import ServerRuntime
from server.turns import config_of, state_of
from tools import review
from tools.audit_words import plain_trail
from tools.review import (
    AUTHOR_KEY,
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
logger = logging.getLogger(__name__)


@router.get("/v1/me", response_model=schemas.Reviewer, responses=ERROR_RESPONSES, tags=["review"])
async def me(
    access: Annotated[tuple[ServerRuntime, str], Depends(reviewer_access)],
) -> schemas.Reviewer:
    """Who this reviewer token belongs to."""
    return schemas.Reviewer(reviewer=access[1])


CONVERSATION_LINES = 200
"""The most messages of a conversation a ticket shows (the latest)."""
TRAIL_EVENTS = 500
"""The most audit events a ticket shows (the latest)."""
AUDIT_FIELDS = (
    "seq",
    "ts",
    "event_type",
    "actor",
    "thread_id",
    "order_id",
    "payload",
    "prev_hash",
    "hash",
    "pending_id",
)
"""What a ticket shows of each audit event (the customer's email is on the ticket); an event
not chained yet has no seq and hashes, only its pending id."""


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
    """One ticket in full: context, both sides of the conversation, the trail, the budget.

    The conversation is read as it is now (the agent's replies and the reviewer's message
    included), else as the ticket recorded it at escalation. The audit trail covers the
    conversation and what happened to the order elsewhere, in plain words first (``trail``)
    with the events behind each line (``audit``). ``budget`` is the policy's per-refund cap
    and what is left of today's refund budget, for the warning before an approval.
    """
    runtime, _ = access
    limits = runtime.services.limits
    async with runtime.services.storage.pool.connection() as conn:
        ticket = await repo.get_ticket(conn, ticket_id)
        if ticket is None:
            raise ApiError(404, "not_found", f"no ticket {ticket_id}")
        events = await trail_of(
            conn, thread_id=ticket.thread_id, order_id=ticket.order_id, limit=TRAIL_EVENTS
        )
        current = await repo.get_order(conn, ticket.order_id) if ticket.order_id else None
        budget = await review.todays_budget(conn, limits)
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
        conversation=await conversation_of(runtime, ticket),
        trail=[
            schemas.TrailLine(**line.to_json())
            for line in plain_trail(events, limits, thread_id=ticket.thread_id)
        ],
        audit=[jsonable_encoder({k: e[k] for k in AUDIT_FIELDS}) for e in events],
        audit_chain=schemas.ChainStatus(ok=chain.ok, checked=chain.checked, problem=chain.problem),
        budget=schemas.Budget(**budget.to_json()),
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
    """Approve (refund through the exactly-once path) or deny an open ticket.

    An approval beyond the per-refund cap or what is left of today's budget answers 409
    ``beyond_limits`` unless ``confirm_beyond_limits`` is true. When MoltPe refuses or
    fails the refund, the ticket stays open and the customer is told on their thread.
    """
    runtime, reviewer = access
    try:
        resolved = await review.resolve_ticket(
            review_desk(runtime),
            ticket_id,
            decision=body.decision,
            amount=body.amount,
            note=body.note,
            reviewer=reviewer,
            confirm_beyond_limits=body.confirm_beyond_limits,
        )
    except ReviewRefused as exc:
        raise refused(exc) from None
    if resolved.attempted and resolved.refund is not None:
        # Every refund is counted, whoever approved it (the agent's in observe_turn).
        runtime.metrics.refunds.labels(resolved.refund["status"]).inc()
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


async def conversation_of(runtime: ServerRuntime, ticket: Ticket) -> schemas.TicketConversation:
    """Both sides of the ticket's conversation: as it is now, else as it was at escalation."""
    messages: list[AnyMessage] = []
    if ticket.thread_id:
        try:
            async with runtime.services.storage.pool.connection() as conn:
                stored = await transcripts.latest(conn, ticket.thread_id, CONVERSATION_LINES)
            if stored.lines:
                return schemas.TicketConversation(
                    source="conversation",
                    messages=[
                        schemas.ConversationLine(role=line.role, text=line.text, author=line.author)
                        for line in stored.lines
                    ],
                    omitted=stored.omitted,
                )
            # A conversation from before the transcript table: its state has it all.
            messages = list((await state_of(runtime, ticket.thread_id)).get("messages") or [])
        except Exception:  # the escalation's copy below still tells the story
            logger.exception("could not read the conversation of %s", ticket.reference)
    if not messages:
        recorded = ticket.context.get("transcript") or []
        lines = [
            schemas.ConversationLine(
                role="customer" if line.get("role") == "customer" else "agent",
                text=str(line.get("text") or ""),
            )
            for line in recorded
            if isinstance(line, dict)
        ]
        return schemas.TicketConversation(source="ticket", messages=lines)
    shown = messages[-CONVERSATION_LINES:]
    return schemas.TicketConversation(
        source="conversation",
        messages=[conversation_line(m) for m in shown],
        omitted=len(messages) - len(shown),
    )


def conversation_line(message: AnyMessage) -> schemas.ConversationLine:
    """One message as a reviewer reads it: the customer's, the agent's or a reviewer's."""
    text = message_text(message)
    if isinstance(message, HumanMessage):
        return schemas.ConversationLine(role="customer", text=text)
    author = (getattr(message, "response_metadata", None) or {}).get(AUTHOR_KEY)
    if author:
        return schemas.ConversationLine(role="reviewer", text=text, author=str(author))
    return schemas.ConversationLine(role="agent", text=text)


def review_desk(runtime: ServerRuntime) -> ReviewDesk:
    """What the reviewer's workflow acts through, from the app's runtime."""

    async def post(thread_id: str, update: ConversationPost) -> None:
        await runtime.agent.aupdate_state(config_of(thread_id), update, as_node="respond")
        lines = [
            transcripts.Line(
                role="reviewer" if author else "agent",
                text=message_text(m),
                author=str(author) if author else None,
            )
            for m in update["messages"]
            for author in [(m.response_metadata or {}).get(AUTHOR_KEY)]
        ]
        async with runtime.services.storage.pool.connection() as conn:
            await transcripts.append(conn, thread_id, lines)

    return ReviewDesk(
        storage=runtime.services.storage,
        refunds=runtime.services.refunds,
        leases=runtime.leases,
        settlement_eta=runtime.settings.settlement_eta,
        limits=runtime.services.limits,
        post=post,
        snapshot=order_snapshot,
    )


def refused(exc: ReviewRefused) -> ApiError:
    """The error answer of a refused resolution."""
    status = next(code for kind, code in REFUSALS.items() if isinstance(exc, kind))
    return ApiError(status, exc.code, exc.message)
