"""The sandbox's HTTP face: MoltPe's API under ``/v1`` and admin calls under ``/_sandbox``.

Status codes and error codes (every error body is
``{"error": {"code": ..., "reason"?: ..., "message": ...}}``):

============  ======================  ==================================================
HTTP status   code                    when
============  ======================  ==================================================
400           BAD_REQUEST             malformed body: not a JSON object, wrong
                                      Content-Type, unknown fields, an amount that is a
                                      JSON number, negative, zero, non-numeric or with
                                      more than 6 places; a refund without
                                      ``Idempotency-Key``; network mismatch
401           UNAUTHORIZED            missing or wrong bearer key (every route)
403           FORBIDDEN               admin: the MoltPe API key sent to ``/_sandbox/``
                                      (admin routes need the separate admin key)
402           INSUFFICIENT_FUNDS      the wallet's balance is below the amount
403           POLICY_VIOLATION        ``reason``: ``per_tx_cap``, ``daily_cap``,
                                      ``exceeds_payment`` (total refunded would pass the
                                      payment's amount), ``refund_only`` (a destination
                                      was named)
404           AGENT_NOT_FOUND         unknown ``agent_id``
404           PAYMENT_NOT_FOUND       unknown ``payment_id``
404/405       NOT_FOUND,              unknown route or method
              METHOD_NOT_ALLOWED
409           IDEMPOTENCY_CONFLICT    ``Idempotency-Key`` reused with another body
409           PAYMENT_CONFLICT        admin: payment id registered with other data
429           RATE_LIMITED            fault injection, with ``Retry-After``
5xx           INTERNAL_ERROR,         fault injection
              SERVICE_UNAVAILABLE
============  ======================  ==================================================

Idempotency: ``POST /v1/payments/refund`` requires an ``Idempotency-Key`` header
(stricter than MoltPe needs; the product always sends one); ``POST
/v1/agents/create`` honours one when given. The first answer that comes out of
processing, a success or a refusal computed from the ledger (402, 403, 404), is
stored with a fingerprint of the request and replayed, with the header
``Idempotent-Replayed: true``, to every later request with the same key and the
same body; the same key with a different body (or on another endpoint) is 409.
Answers given before processing started (400 validation, 401, injected 429/5xx)
are not stored, so the request can be retried with its key. A refund with no
policy set is bound by no caps, but still only goes to the payer.

Two keys: MoltPe's API (``/v1``) takes the API key, the one an agent holds; the admin
routes (``/_sandbox``: register payments, fund wallets, faults, clock, reset) take a
separate admin key and refuse the API key with 403, so an agent holding its key cannot
invent payments to refund or switch off the faults a test relies on.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from core.money import MAX_USDC, USDC_PLACES, USDC_QUANTUM
from moltpe_sandbox.faults import Faults
from moltpe_sandbox.state import (
    ADDRESS_RE,
    SANDBOX_API_KEY,
    Policy,
    SandboxError,
    SandboxState,
    StoredResponse,
    bad_request,
    new_admin_key,
)

__all__ = ["DroppedConnection", "create_app"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 64 * 1024
MAX_KEY_LENGTH: Final = 255
PLAIN_DECIMAL_RE: Final = re.compile(r"^\d+(\.\d+)?$")
NETWORK_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
DESTINATION_FIELDS: Final = frozenset(
    {"to", "to_address", "destination", "recipient", "address", "wallet_address"}
)
REPLAY_HEADER: Final = "Idempotent-Replayed"


class DroppedConnection(Exception):
    """Raised on purpose to cut a connection mid-response (the ``drop_next`` fault)."""


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for each deliberately dropped answer."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def install_log_filter() -> None:
    """Silence uvicorn's error log for :class:`DroppedConnection` (idempotent)."""
    uvicorn_error = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in uvicorn_error.filters):
        uvicorn_error.addFilter(_QuietDrops())


class _AbortAfterHeaders(Response):
    """Sends a 200 status line and headers promising a body, then kills the connection."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        raise DroppedConnection("sandbox fault: refund committed, answer dropped")


@dataclass
class _Runtime:
    state: SandboxState
    api_key: str
    admin_key: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    faults: Faults = field(default_factory=Faults)
    requests: list[dict[str, Any]] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)

    async def persist(self) -> None:
        if self.state.state_file is not None:
            await asyncio.to_thread(self.state.save)


def create_app(
    *,
    state: SandboxState | None = None,
    api_key: str = SANDBOX_API_KEY,
    admin_key: str | None = None,
) -> FastAPI:
    """Build the sandbox's ASGI app.

    Args:
        state: The ledger to serve (a fresh in-memory one when omitted).
        api_key: The bearer key MoltPe's API (``/v1``) requires.
        admin_key: The bearer key the admin routes (``/_sandbox``) require; a fresh
            random one when omitted (read it from the server that serves the app).

    Returns:
        A FastAPI app; serve it with uvicorn.
    """
    if not api_key:
        raise ValueError("the sandbox needs a non-empty API key")
    admin_key = admin_key if admin_key is not None else new_admin_key()
    if not admin_key or admin_key == api_key:
        raise ValueError("the sandbox's admin key must be non-empty and differ from the API key")
    rt = _Runtime(state=state or SandboxState(), api_key=api_key, admin_key=admin_key)
    install_log_filter()

    app = FastAPI(
        title="MoltPe sandbox",
        description="A local, MoltPe-compatible server enforcing MoltPe's spending rules.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    # --- responses -----------------------------------------------------------------

    def respond(
        status: int,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        api: bool = True,
    ) -> Response:
        content = json.dumps(body, separators=(",", ":")).encode()
        delay_ms = rt.faults.drip_ms_per_byte
        if api and delay_ms > 0:
            return StreamingResponse(
                _drip(content, delay_ms / 1000),
                status_code=status,
                headers={**(headers or {}), "Content-Length": str(len(content))},
                media_type="application/json",
            )
        return Response(content, status, headers=headers, media_type="application/json")

    def replay(stored: StoredResponse) -> Response:
        return respond(stored.status, stored.body, headers={REPLAY_HEADER: "true"})

    @app.exception_handler(SandboxError)
    async def _sandbox_error(request: Request, exc: SandboxError) -> Response:
        return respond(
            exc.status, exc.body(), headers=exc.headers, api=request.url.path.startswith("/v1/")
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
        return respond(
            exc.status_code,
            {"error": {"code": code, "message": str(exc.detail)}},
            headers=dict(exc.headers or {}),
            api=False,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return respond(400, bad_request(f"invalid request: {exc.errors()}").body(), api=False)

    # --- gates ---------------------------------------------------------------------

    def bearer(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None

    def unauthorized() -> SandboxError:
        return SandboxError(
            401,
            "UNAUTHORIZED",
            "missing or wrong API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def authenticate(request: Request) -> None:
        token = bearer(request)
        if token is None or not hmac.compare_digest(token.encode(), rt.api_key.encode()):
            raise unauthorized()

    async def api_gate(request: Request) -> None:
        rt.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "idempotency_key": request.headers.get("idempotency-key"),
                "at": rt.state.now().isoformat(),
            }
        )
        authenticate(request)
        faults = rt.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.take_rate_limit():
            raise SandboxError(
                429,
                "RATE_LIMITED",
                "too many requests; retry later",
                headers={"Retry-After": str(faults.retry_after_seconds)},
            )
        if faults.take_failure(rt.rng):
            status = faults.fail_status
            code = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_ERROR"
            raise SandboxError(status, code, "sandbox fault: injected server error")

    async def admin_gate(request: Request) -> None:
        token = bearer(request)
        if token is not None and hmac.compare_digest(token.encode(), rt.admin_key.encode()):
            return
        if token is not None and hmac.compare_digest(token.encode(), rt.api_key.encode()):
            raise SandboxError(
                403,
                "FORBIDDEN",
                "the MoltPe API key cannot use the sandbox's admin routes: send the admin "
                "key (printed when the sandbox starts)",
            )
        raise unauthorized()

    api = APIRouter(prefix="/v1", dependencies=[Depends(api_gate)])
    admin = APIRouter(prefix="/_sandbox", dependencies=[Depends(admin_gate)])

    # --- MoltPe API ----------------------------------------------------------------

    @api.get("/health")
    async def health() -> Response:
        """Reachability check (a sandbox/compatibility path)."""
        return respond(200, {"status": "ok", "sandbox": True})

    @api.post("/agents/create")
    async def create_agent(request: Request) -> Response:
        """Create an agent and its wallet, funded with the initial float."""
        body = await read_object(request)
        only_fields(body, {"name", "network"})
        name = take_text(body, "name", max_length=100)
        network = take_network(body, "network")
        key = idempotency_key(request)
        fingerprint = _fingerprint("create_agent", {"name": name, "network": network})
        async with rt.lock:
            if key is not None and (stored := rt.state.recall(key, fingerprint)):
                return replay(stored)
            answer = rt.state.create_agent(name, network).public()
            if key is not None:
                rt.state.remember(key, StoredResponse(fingerprint, 200, answer))
            await rt.persist()
        return respond(200, answer)

    @api.post("/agents/{agent_id}/policy")
    async def set_policy(agent_id: str, request: Request) -> Response:
        """Replace an agent's spending policy."""
        body = await read_object(request)
        only_fields(body, {"daily_cap", "per_tx_cap", "refund_only"})
        policy = Policy(
            daily_cap=take_amount(body, "daily_cap", allow_zero=True),
            per_tx_cap=take_amount(body, "per_tx_cap", allow_zero=True),
            refund_only=take_bool(body, "refund_only"),
        )
        async with rt.lock:
            rt.state.set_policy(agent_id, policy)
            await rt.persist()
        return respond(200, {"agent_id": agent_id, **policy.to_json()})

    @api.post("/payments/refund")
    async def refund(request: Request) -> Response:
        """Refund (part of) a payment to its original payer, under the policy."""
        body = await read_object(request)
        destination_fields = DESTINATION_FIELDS & body.keys()
        only_fields(body, {"agent_id", "payment_id", "amount", "reason"} | destination_fields)
        agent_id = take_text(body, "agent_id", max_length=100)
        payment_id = take_text(body, "payment_id", max_length=100)
        amount = take_amount(body, "amount", allow_zero=False)
        reason = take_text(body, "reason", max_length=500)
        destination = (
            ",".join(str(body[name]) for name in sorted(destination_fields))
            if destination_fields
            else None
        )
        key = idempotency_key(request)
        if key is None:
            raise bad_request("an Idempotency-Key header is required on refunds")
        fingerprint = _fingerprint(
            "refund",
            {
                "agent_id": agent_id,
                "payment_id": payment_id,
                "amount": str(amount),
                "reason": reason,
                "destination": destination,
            },
        )
        async with rt.lock:
            if stored := rt.state.recall(key, fingerprint):
                return replay(stored)
            try:
                receipt = rt.state.refund(
                    agent_id=agent_id,
                    payment_id=payment_id,
                    amount=amount,
                    reason=reason,
                    idempotency_key=key,
                    destination=destination,
                )
            except SandboxError as refusal:
                rt.state.remember(key, StoredResponse(fingerprint, refusal.status, refusal.body()))
                await rt.persist()
                raise
            answer = receipt.receipt()
            rt.state.remember(key, StoredResponse(fingerprint, 200, answer))
            await rt.persist()
        if rt.faults.take_drop():
            logger.info("sandbox fault: dropping the answer to refund %s", answer["refund_id"])
            if rt.faults.drop_mode == "500":
                return respond(
                    500,
                    {"error": {"code": "INTERNAL_ERROR", "message": "sandbox fault"}},
                )
            return _AbortAfterHeaders()
        return respond(200, answer)

    # --- admin ---------------------------------------------------------------------

    @admin.post("/payments")
    async def register_payment(request: Request) -> Response:
        """Register a payment that refunds may return (idempotent for the same data)."""
        body = await read_object(request)
        only_fields(body, {"payment_id", "payer_address", "amount", "network"})
        payment_id = take_text(body, "payment_id", max_length=100)
        if not ID_RE.fullmatch(payment_id):
            raise bad_request("payment_id may hold letters, digits and _ . : - only")
        payer = take_text(body, "payer_address", max_length=42)
        if not ADDRESS_RE.fullmatch(payer):
            raise bad_request("payer_address must be 0x followed by 40 hex digits")
        amount = take_amount(body, "amount", allow_zero=False)
        network = take_network(body, "network") if "network" in body else "polygon"
        async with rt.lock:
            _payment, new = rt.state.register_payment(
                payment_id=payment_id, payer_address=payer, amount=amount, network=network
            )
            if new:
                await rt.persist()
            view = rt.state.payment_view(payment_id)
        return respond(201 if new else 200, view, api=False)

    @admin.get("/payments/{payment_id}")
    async def get_payment(payment_id: str) -> Response:
        """A payment with how much was refunded and how much still can be."""
        return respond(200, rt.state.payment_view(payment_id), api=False)

    @admin.get("/ledger")
    async def ledger(agent_id: str | None = None, payment_id: str | None = None) -> Response:
        """Every confirmed refund, oldest first, optionally filtered."""
        refunds = [
            r.to_json()
            for r in rt.state.ledger
            if (agent_id is None or r.agent_id == agent_id)
            and (payment_id is None or r.payment_id == payment_id)
        ]
        return respond(200, {"refunds": refunds}, api=False)

    @admin.get("/wallets/{agent_id}")
    async def wallet(agent_id: str) -> Response:
        """A wallet's balance, policy and today's spend."""
        return respond(200, rt.state.wallet_view(agent_id), api=False)

    @admin.post("/wallets/{agent_id}/fund")
    async def fund(agent_id: str, request: Request) -> Response:
        """Add USDC to a wallet."""
        body = await read_object(request)
        only_fields(body, {"amount"})
        amount = take_amount(body, "amount", allow_zero=False)
        async with rt.lock:
            rt.state.fund(agent_id, amount)
            await rt.persist()
            view = rt.state.wallet_view(agent_id)
        return respond(200, view, api=False)

    @admin.get("/faults")
    async def get_faults() -> Response:
        """The faults in force, with what is left of each counter."""
        return respond(200, rt.faults.model_dump(mode="json"), api=False)

    @admin.post("/faults")
    async def set_faults(request: Request) -> Response:
        """Replace the faults (``{}`` clears them all)."""
        body = await read_object(request)
        try:
            rt.faults = Faults.model_validate(body)
        except ValidationError as exc:
            raise bad_request(f"invalid faults: {_pydantic_summary(exc)}") from None
        return respond(200, rt.faults.model_dump(mode="json"), api=False)

    @admin.get("/requests")
    async def requests_seen() -> Response:
        """Every ``/v1`` request received since the last reset, oldest first."""
        return respond(200, {"requests": rt.requests}, api=False)

    @admin.delete("/requests")
    async def forget_requests() -> Response:
        """Forget the recorded ``/v1`` requests (only them)."""
        rt.requests.clear()
        return respond(200, {"ok": True}, api=False)

    @admin.post("/clock")
    async def set_clock(request: Request) -> Response:
        """Freeze the sandbox's clock at ``now`` (ISO 8601 with offset), or unfreeze (null)."""
        body = await read_object(request)
        only_fields(body, {"now"})
        raw = body.get("now")
        frozen: datetime | None = None
        if raw is not None:
            try:
                frozen = datetime.fromisoformat(raw) if isinstance(raw, str) else None
            except ValueError:
                frozen = None
            if frozen is None or frozen.tzinfo is None:
                raise bad_request("now must be an ISO 8601 time with a UTC offset, or null")
        async with rt.lock:
            rt.state.frozen_now = frozen
            await rt.persist()
        return respond(
            200, {"now": rt.state.now().isoformat(), "frozen": frozen is not None}, api=False
        )

    @admin.post("/reset")
    async def reset() -> Response:
        """Forget all wallets, payments, refunds, idempotency keys, faults and requests."""
        async with rt.lock:
            rt.state.reset()
            rt.faults = Faults()
            rt.requests.clear()
            await rt.persist()
        return respond(200, {"ok": True}, api=False)

    app.include_router(api)
    app.include_router(admin)
    return app


# --- request parsing -------------------------------------------------------------------


async def read_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, strictly.

    Raises:
        SandboxError: 400 for a wrong Content-Type, a body over 64 KiB, invalid
            UTF-8 or JSON, duplicate keys, NaN/Infinity, or a non-object.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise bad_request("Content-Type must be application/json")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise bad_request(f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constants,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad_request(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise bad_request("request body must be a JSON object")
    return data


def only_fields(body: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Refuse fields outside ``allowed``."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(unknown)}")


def take_text(body: dict[str, Any], name: str, *, max_length: int) -> str:
    """A required, non-blank string field of at most ``max_length`` characters."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{name} is required and must be a non-empty string")
    if len(value) > max_length:
        raise bad_request(f"{name} is longer than {max_length} characters")
    if not value.isprintable():
        raise bad_request(f"{name} contains control characters")
    return value


def take_network(body: dict[str, Any], name: str) -> str:
    """A network name such as ``polygon`` or ``base-sepolia``."""
    value = take_text(body, name, max_length=32)
    if not NETWORK_RE.fullmatch(value):
        raise bad_request(f"{name} must be a lower-case network name such as 'polygon'")
    return value


def take_bool(body: dict[str, Any], name: str) -> bool:
    """A required JSON boolean (not 0/1, not a string)."""
    value = body.get(name)
    if not isinstance(value, bool):
        raise bad_request(f"{name} is required and must be true or false")
    return value


def take_amount(body: dict[str, Any], name: str, *, allow_zero: bool) -> Decimal:
    """A required USDC amount written as a plain decimal string, e.g. ``"24.99"``.

    Refuses JSON numbers, signs, exponents, blanks, NaN, more than 6 decimal places,
    negatives, zero (unless ``allow_zero``) and absurdly large values.
    """
    value = body.get(name)
    if value is None:
        raise bad_request(f'{name} is required, as a decimal string such as "24.99"')
    if isinstance(value, bool) or not isinstance(value, str):
        raise bad_request(
            f'{name} must be a decimal string such as "24.99", not a JSON '
            f"{'number' if isinstance(value, int | float) else type(value).__name__}"
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise bad_request(f"{name} is not a number: {value[:40]!r}") from None
    if not number.is_finite():
        raise bad_request(f"{name} must be a finite number")
    if number < 0 or value.lstrip().startswith("-"):
        raise bad_request(f"{name} must not be negative")
    if not PLAIN_DECIMAL_RE.fullmatch(value):
        raise bad_request(f'{name} must be written as plain digits such as "24.99"')
    _, _, fraction = value.partition(".")
    if len(fraction) > USDC_PLACES:
        raise bad_request(f"{name} has more than {USDC_PLACES} decimal places (USDC has 6)")
    if number == 0 and not allow_zero:
        raise bad_request(f"{name} must be greater than zero")
    if number > MAX_USDC:
        raise bad_request(f"{name} is larger than any refund could be")
    return number.quantize(USDC_QUANTUM)


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, if sent: 1-255 visible ASCII characters.

    Raises:
        SandboxError: 400 when malformed.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise bad_request(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} visible ASCII characters")
    return key


def _fingerprint(operation: str, fields: dict[str, Any]) -> str:
    return json.dumps({"op": operation, **fields}, sort_keys=True, separators=(",", ":"))


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _pydantic_summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )


async def _drip(content: bytes, delay: float) -> AsyncIterator[bytes]:
    for index in range(len(content)):
        await asyncio.sleep(delay)
        yield content[index : index + 1]
