"""Order routes: a merchant's backend creates or updates one order with a service token.

``POST /v1/orders`` and ``PUT /v1/orders/{order_id}`` apply one order exactly as
``refund-agent orders import`` applies a row (:func:`tools.order_import.upsert_order`):
validated column by column, inserted, updated or unchanged, payment facts frozen once the
order has refunds, audited. Both need a token from ``SERVICE_TOKENS``, even when the
customer endpoints are open. Amounts are read from the JSON text as decimals, never floats.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from server.access import service_access
from server.errors import ERROR_RESPONSES, ApiError
from server.runtime import ServerRuntime
from tools.order_import import InvalidOrder, OrderConflict, parse_order, upsert_order

router = APIRouter()

ORDER_BODY_BYTES = 16 * 1024
"""The largest order a backend may send (one order, a few hundred bytes in practice)."""
ORDER_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": [
                        "id",
                        "customer_email",
                        "amount_usdc",
                        "created_at",
                        "payment_id",
                        "payer_address",
                    ],
                    "properties": {
                        "id": {"type": "string"},
                        "customer_email": {"type": "string"},
                        "amount_usdc": {"type": "string", "example": "45.00"},
                        "created_at": {"type": "string", "example": "2026-01-31T12:00:00Z"},
                        "payment_id": {"type": "string"},
                        "payer_address": {"type": "string"},
                        "network": {"type": "string"},
                        "description": {"type": "string"},
                        "currency": {"type": "string", "enum": ["USDC"]},
                        "customer_name": {"type": "string"},
                    },
                }
            }
        },
    }
}
"""The body's documented columns (docs/ORDERS.md) for the API reference."""


@router.post(
    "/v1/orders",
    responses={**ERROR_RESPONSES, 201: {"description": "Inserted."}},
    openapi_extra=ORDER_DOC,
    tags=["orders"],
)
async def post_order(
    request: Request, runtime: Annotated[ServerRuntime, Depends(service_access)]
) -> JSONResponse:
    """Create an order, or apply it again (idempotent): 201 inserted, else 200."""
    data = await order_body(request)
    return await apply(runtime, data)


@router.put(
    "/v1/orders/{order_id}",
    responses={**ERROR_RESPONSES, 201: {"description": "Inserted."}},
    openapi_extra=ORDER_DOC,
    tags=["orders"],
)
async def put_order(
    order_id: str, request: Request, runtime: Annotated[ServerRuntime, Depends(service_access)]
) -> JSONResponse:
    """Create or update the order ``order_id`` (the body's ``id`` may be left out)."""
    data = await order_body(request)
    if data.setdefault("id", order_id) != order_id:
        raise ApiError(422, "invalid_order", "id: the body's id differs from the path's")
    return await apply(runtime, data)


async def order_body(request: Request) -> dict[str, Any]:
    """The JSON object of one order, numbers as decimals."""
    raw = await request.body()
    if len(raw) > ORDER_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"an order is at most {ORDER_BODY_BYTES} bytes")
    try:
        data = json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise ApiError(422, "invalid_request", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "the body must be one order, a JSON object")
    return data


async def apply(runtime: ServerRuntime, data: dict[str, Any]) -> JSONResponse:
    """Validate and upsert one order; register a new payment with a local sandbox."""
    services = runtime.services
    try:
        record = parse_order(data, default_network=runtime.settings.moltpe_network)
    except InvalidOrder as exc:
        raise ApiError(422, "invalid_order", str(exc)) from None
    try:
        result = await upsert_order(services.storage.audit, record, actor="api")
    except OrderConflict as exc:
        raise ApiError(409, "order_conflict", str(exc)) from None
    if result.payment_changed and services.sandbox is not None:
        await asyncio.to_thread(
            services.sandbox.register_payment,
            record.payment_id,
            record.payer_address,
            record.amount_usdc,
            record.network,
        )
    return JSONResponse(
        {"outcome": result.outcome, "changed": list(result.changed), "order": record.as_dict()},
        status_code=201 if result.outcome == "inserted" else 200,
    )
