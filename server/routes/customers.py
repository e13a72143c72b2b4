"""Customer routes: start a conversation, send a message, read the transcript; the chat."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import FileResponse, JSONResponse
from langchain_core.messages import HumanMessage

from graph.context import Context
from graph.facts import message_text, outcome_of
from graph.graph import message_digest
from graph.types import TicketRef
from persistence import repo, transcripts
from server import schemas, turns
from server.access import (
    admit_message,
    customer_access,
    customer_read_access,
    lease_turn,
    read_message,
)
from server.errors import ERROR_RESPONSES, ApiError
from server.routes import STATIC
from server.runtime import ServerRuntime

# The service's logger: its lines keep the name operators already filter on.
logger = logging.getLogger("server.app")


router = APIRouter()


@router.post(
    "/v1/conversations",
    status_code=201,
    response_model=schemas.Conversation,
    responses=ERROR_RESPONSES,
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
        **ERROR_RESPONSES,
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
    runtime: Annotated[ServerRuntime, Depends(customer_read_access)],
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
    # The per-address limit, the conversation and a kept answer: one round trip. A
    # malformed id (a NUL, say) is looked up as no id at all: counted, then 404.
    known_shape = turns.THREAD_ID.fullmatch(thread_id) is not None
    admission = await admit_message(request, runtime, thread_id if known_shape else "", key)
    text = await read_message(request, runtime)
    conversation, earlier = turns.admitted_conversation(thread_id, admission)
    streaming = "text/event-stream" in request.headers.get("accept", "")
    if key is not None:
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
                return turns.event_stream(iter([turns.sse("reply", earlier)]), headers=headers)
            return JSONResponse(earlier, headers=headers)
    lease = await lease_turn(runtime, thread_id)
    context = Context(customer_email=conversation["customer_email"], channel="web", request_id=key)
    if streaming:
        return turns.event_stream(turns.stream_turn(runtime, thread_id, text, context, key, lease))
    try:
        # The answer is kept under ``key`` by the turn's last node, in the transaction of
        # its audit trail.
        result = await turns.run_turn(runtime, thread_id, text, context)
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
        await turns.release(runtime, thread_id, lease)
    return schemas.TurnResult(**result)


@router.get(
    "/v1/conversations/{thread_id}",
    response_model=schemas.ConversationView,
    responses=ERROR_RESPONSES,
    tags=["customers"],
)
async def get_conversation(
    thread_id: str, runtime: Annotated[ServerRuntime, Depends(customer_read_access)]
) -> schemas.ConversationView:
    """The transcript, the current outcome, and the latest ticket with its status."""
    await turns.load_conversation(runtime, thread_id)
    values = await turns.state_of(runtime, thread_id)
    ticket: TicketRef | None = values.get("ticket")
    if ticket and ticket.get("id") is not None:
        async with runtime.services.storage.pool.connection() as conn:
            row = await repo.get_ticket(conn, int(ticket["id"]))
        if row is not None:
            ticket = {**ticket, "status": row.status}
    async with runtime.services.storage.pool.connection() as conn:
        stored = await transcripts.latest(conn, thread_id)
    lines = [
        schemas.TranscriptLine(
            role="customer" if line.role == "customer" else "agent", text=line.text
        )
        for line in stored.lines
    ]
    if not lines:  # a conversation from before the transcript table: its state has it all
        for message in values.get("messages", []):
            role = "customer" if isinstance(message, HumanMessage) else "agent"
            lines.append(schemas.TranscriptLine(role=role, text=message_text(message)))
    return schemas.ConversationView(
        thread_id=thread_id,
        messages=lines,
        outcome=outcome_of(values),
        ticket=ticket,
        refund=values.get("refund"),
    )


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def chat_page() -> FileResponse:
    """The web chat."""
    return FileResponse(STATIC / "chat.html")
