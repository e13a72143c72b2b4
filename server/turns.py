"""Customer turns through the graph: run, or streamed as server-sent events.

A turn runs under the conversation's lease (:mod:`server.leases`); its answer is kept
under the client's ``Idempotency-Key`` (by the graph's last node, in the transaction of
the turn's audit trail) so that a retry is answered once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from typing import Any, Final

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from sse_starlette import EventSourceResponse, ServerSentEvent

from graph.context import Context
from graph.facts import outcome_of
from graph.types import TurnAnswer
from persistence import repo
from persistence.checkpoint import prune_superseded
from server.errors import ApiError
from server.runtime import ServerRuntime
from wiring import tracing

# The service's logger: its lines keep the name operators already filter on.
logger = logging.getLogger("server.app")

THREAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


async def load_conversation(runtime: ServerRuntime, thread_id: str) -> dict[str, Any]:
    """The conversation row, or 404."""
    if not THREAD_ID.fullmatch(thread_id):
        raise ApiError(404, "not_found", "no such conversation")
    async with runtime.services.storage.pool.connection() as conn:
        row = await repo.get_conversation(conn, thread_id)
    if row is None:
        raise ApiError(404, "not_found", "no such conversation")
    return row


def admitted_conversation(
    thread_id: str, admission: repo.Admission
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The conversation row (or 404) and the kept answer read at the door."""
    if not THREAD_ID.fullmatch(thread_id) or admission.conversation is None:
        raise ApiError(404, "not_found", "no such conversation")
    return admission.conversation, admission.kept_answer


def config_of(thread_id: str) -> RunnableConfig:
    """The LangGraph config of a conversation."""
    return RunnableConfig(
        configurable={"thread_id": thread_id},
        run_name="refund-agent turn",
        metadata={"thread_id": thread_id},
    )


def traced(runtime: ServerRuntime, thread_id: str, context: Context) -> RunnableConfig:
    """The turn's config, with LangSmith tracing (PII masked) when it is on."""
    return tracing.with_tracing(config_of(thread_id), runtime.settings, channel=context.channel)


async def state_of(runtime: ServerRuntime, thread_id: str) -> dict[str, Any]:
    """The conversation's current graph state."""
    snapshot = await runtime.agent.aget_state(config_of(thread_id))
    return dict(snapshot.values)


async def release(runtime: ServerRuntime, thread_id: str, token: str) -> None:
    """End the turn's lease (and its renewals)."""
    await runtime.leases.release(thread_id, token)


async def run_turn(
    runtime: ServerRuntime, thread_id: str, text: str, context: Context
) -> TurnAnswer:
    """One customer turn through the graph."""
    started = time.perf_counter()
    turn: Any = {"messages": [HumanMessage(text)]}
    values: dict[str, Any] = {}
    async for chunk in runtime.agent.astream(
        turn,
        traced(runtime, thread_id, context),
        context=context,
        stream_mode="updates",
        durability="exit",
    ):
        merge_updates(values, chunk)
    runtime.metrics.observe_turn(values, time.perf_counter() - started)
    await after_turn(runtime, thread_id, values)
    return {"reply": values.get("reply", ""), "thread_id": thread_id, "outcome": outcome_of(values)}


def merge_updates(values: dict[str, Any], chunk: Any) -> list[str]:
    """Fold one ``updates`` chunk of the stream into ``values``; return the nodes in it.

    What the turn set (reply, outcome, turn, refund, ...) is then known without reading
    the checkpoint back after the run.
    """
    nodes: list[str] = []
    for node, update in chunk.items():
        nodes.append(node)
        if isinstance(update, dict):
            values.update(update)
    return nodes


async def after_turn(runtime: ServerRuntime, thread_id: str, values: dict[str, Any]) -> None:
    """Every ``CHECKPOINT_PRUNE_EVERY`` turns, delete the superseded checkpoints.

    Runs while the turn still holds the conversation's lease, so no other write of the
    thread races it.
    """
    every = runtime.settings.checkpoint_prune_every
    turn = values.get("turn")
    saver = runtime.agent.checkpointer
    if isinstance(turn, int) and turn % every == 0 and isinstance(saver, AsyncPostgresSaver):
        await prune_superseded(saver, thread_id)


SSE_LINE_END: Final = "\n"
"""Line end of the event stream (sse-starlette's default is CRLF; pages and clients
written against this service split on LF, which every SSE reader accepts)."""


def sse(event: str, data: Any) -> ServerSentEvent:
    """One server-sent event: its name, and its data as one line of JSON."""
    return ServerSentEvent(json.dumps(data, ensure_ascii=False), event=event, sep=SSE_LINE_END)


def event_stream(
    events: AsyncIterable[ServerSentEvent] | Iterator[ServerSentEvent],
    headers: Mapping[str, str] | None = None,
) -> EventSourceResponse:
    """A ``text/event-stream`` response of ``events``.

    sse-starlette stops iterating when the client goes away (a turn streamed by
    :func:`stream_turn` still finishes in its own task) and sends a comment line every
    15 seconds while a turn is quiet, so proxies do not close a slow model's stream.
    """
    return EventSourceResponse(events, headers=headers, sep=SSE_LINE_END)


async def stream_turn(
    runtime: ServerRuntime,
    thread_id: str,
    text: str,
    context: Context,
    key: str | None,
    lease: str,
) -> AsyncIterator[ServerSentEvent]:
    """One customer turn as server-sent events: node progress, then the reply.

    The turn runs in its own task: a client that disconnects stops receiving events, but
    the turn still finishes, is checkpointed and answered (and its lease released), so a
    message is never half-handled.
    """
    events: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()

    async def turn() -> None:
        started = time.perf_counter()
        message: Any = {"messages": [HumanMessage(text)]}
        values: dict[str, Any] = {}
        try:
            async for chunk in runtime.agent.astream(
                message,
                traced(runtime, thread_id, context),
                context=context,
                stream_mode="updates",
                durability="exit",
            ):
                for node in merge_updates(values, chunk):
                    events.put_nowait(("node", {"node": node}))
            runtime.metrics.observe_turn(values, time.perf_counter() - started)
            result: TurnAnswer = {
                "reply": values.get("reply", ""),
                "thread_id": thread_id,
                "outcome": outcome_of(values),
            }
            # The answer is kept under ``key`` by the turn's last node.
            events.put_nowait(("reply", result))
            await after_turn(runtime, thread_id, values)
        except Exception:
            logger.exception("turn failed in conversation %s", thread_id)
            events.put_nowait(
                (
                    "error",
                    {
                        "error": {
                            "code": "internal",
                            "message": "something went wrong; please try again",
                        }
                    },
                )
            )
        finally:
            await release(runtime, thread_id, lease)
            events.put_nowait(None)

    task = asyncio.create_task(turn(), name=f"turn-{thread_id}")
    runtime.background.add(task)
    task.add_done_callback(runtime.background.discard)
    while (item := await events.get()) is not None:
        yield sse(*item)
