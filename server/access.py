"""Who may call what: service and reviewer tokens, rate limits, the customer's message.

Each access check is a FastAPI dependency that answers with the app's shared runtime.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError

from persistence import repo
from server import schemas
from server.errors import ApiError
from server.runtime import ServerRuntime, runtime_of

MAX_BODY_BYTES = 256 * 1024
RATE_WINDOW_SECONDS = 60
PRUNE_EVERY = 500


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def customer_read_access(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ServerRuntime:
    """Customer reads: a service token when configured (not rate limited: pages poll)."""
    runtime = runtime_of(request)
    allowed = runtime.settings.service_token_set()
    if allowed and bearer(authorization) not in allowed:
        raise ApiError(401, "unauthorized", "a valid service token is required")
    return runtime


async def customer_access(
    request: Request, runtime: Annotated[ServerRuntime, Depends(customer_read_access)]
) -> ServerRuntime:
    """Customer writes: the service token check and the per-IP rate limit."""
    client = request.client.host if request.client else "unknown"
    await rate_limit(runtime, f"ip:{client}", runtime.settings.rate_limit_per_ip)
    return runtime


async def service_access(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ServerRuntime:
    """Backend-only endpoints (orders): a service token, always; 401 when none is configured."""
    runtime = runtime_of(request)
    allowed = runtime.settings.service_token_set()
    if not allowed:
        raise ApiError(401, "unauthorized", "set SERVICE_TOKENS to use this endpoint")
    if bearer(authorization) not in allowed:
        raise ApiError(401, "unauthorized", "a valid service token is required")
    return runtime


async def reviewer_access(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> tuple[ServerRuntime, str]:
    """Review endpoints: the reviewer's name from their token, else 401."""
    runtime = runtime_of(request)
    token = bearer(authorization)
    name = runtime.settings.reviewers().get(token or "") if token else None
    if name is None:
        raise ApiError(401, "unauthorized", "a valid reviewer token is required")
    return runtime, name


async def rate_limit(runtime: ServerRuntime, bucket: str, limit: int) -> None:
    """Count a request against a fixed one-minute window shared by all processes."""
    runtime.hits += 1
    async with runtime.services.storage.pool.connection() as conn:
        allowed, retry_after = await repo.hit_rate_limit(
            conn, bucket, limit=limit, window_seconds=RATE_WINDOW_SECONDS
        )
        if runtime.hits % PRUNE_EVERY == 0:
            await repo.prune_rate_limits(conn)  # old windows would otherwise pile up
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; try again in {retry_after} seconds",
            {"Retry-After": str(retry_after)},
        )


async def admit_message(
    request: Request, runtime: ServerRuntime, thread_id: str, key: str | None
) -> repo.Admission:
    """A customer's message at the door, in one round trip.

    The per-address rate limit counted, the conversation and the answer kept under
    ``key`` read. 429 when over the limit (before anything else is looked at, as
    :func:`customer_access` would); the caller answers 404 for a missing conversation.
    """
    client = request.client.host if request.client else "unknown"
    runtime.hits += 1
    async with runtime.services.storage.pool.connection() as conn:
        admission = await repo.hit_and_read_conversation(
            conn,
            f"ip:{client}",
            limit=runtime.settings.rate_limit_per_ip,
            window_seconds=RATE_WINDOW_SECONDS,
            thread_id=thread_id,
            key=key,
        )
        if runtime.hits % PRUNE_EVERY == 0:
            await repo.prune_rate_limits(conn)  # old windows would otherwise pile up
    if not admission.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; try again in {admission.retry_after} seconds",
            {"Retry-After": str(admission.retry_after)},
        )
    return admission


async def lease_turn(runtime: ServerRuntime, thread_id: str) -> str:
    """Count a customer message against its conversation's limit and lease the turn.

    One statement does both: 429 when over the limit, 409 while a turn is running.
    """
    runtime.hits += 1
    allowed, retry_after, lease = await runtime.leases.take_within_limit(
        thread_id,
        bucket=f"thread:{thread_id}",
        limit=runtime.settings.rate_limit_per_conversation,
        window_seconds=RATE_WINDOW_SECONDS,
    )
    if runtime.hits % PRUNE_EVERY == 0:
        async with runtime.services.storage.pool.connection() as conn:
            await repo.prune_rate_limits(conn)  # old windows would otherwise pile up
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests; try again in {retry_after} seconds",
            {"Retry-After": str(retry_after)},
        )
    if lease is None:
        raise ApiError(409, "turn_in_progress", "the previous message is still being answered")
    return lease


async def read_message(request: Request, runtime: ServerRuntime) -> str:
    """The customer's text, with size limits answered by 413 and shape errors by 422."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "message_too_large", "the message is too large")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "message_too_large", "the message is too large")
    try:
        body = schemas.CustomerMessage.model_validate_json(raw)
    except ValueError as exc:
        raise RequestValidationError(getattr(exc, "errors", lambda: [])()) from None
    limit = runtime.settings.max_message_chars
    if len(body.text) > limit:
        raise ApiError(413, "message_too_large", f"messages are limited to {limit} characters")
    return body.text
