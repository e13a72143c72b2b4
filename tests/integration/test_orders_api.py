"""``POST /v1/orders`` and ``PUT /v1/orders/{id}``: a backend's orders, with a service token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from moltpe_sandbox import SandboxServer
from tests.e2e.server_fixtures import LiveServer, start_live_server

TOKEN = "backend-secret-0123456789"
BACKEND = {"Authorization": f"Bearer {TOKEN}"}
ORDER: dict[str, Any] = {
    "id": "ORD-7701",
    "customer_email": "Zoe@Shop.Example",
    "amount_usdc": "30.00",
    "created_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat(),
    "payment_id": "pay_shop_77",
    "payer_address": "0x" + "ab" * 20,
    "description": "Desk lamp",
}


@pytest.fixture
def backend_server(db_url: str, sandbox: SandboxServer) -> Iterator[LiveServer]:
    thread, live = start_live_server(db_url, sandbox, service_tokens=TOKEN)
    try:
        yield live
    finally:
        thread.stop()


async def test_orders_need_a_service_token_even_when_the_chat_is_open(
    live_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        answer = await http.post("/v1/orders", json=ORDER, headers=BACKEND)
        assert answer.status_code == 401
        assert "SERVICE_TOKENS" in answer.json()["error"]["message"]
        # The customer endpoints stay open (the demo web chat).
        assert (await http.post("/v1/conversations")).status_code == 201


async def test_a_backend_creates_updates_and_refunds_an_order(
    backend_server: LiveServer, sandbox: SandboxServer
) -> None:
    async with httpx.AsyncClient(base_url=backend_server.url, timeout=30) as http:
        wrong = await http.post("/v1/orders", json=ORDER, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401

        created = await http.post("/v1/orders", json=ORDER, headers=BACKEND)
        assert created.status_code == 201, created.text
        assert created.json()["outcome"] == "inserted"
        assert created.json()["order"]["customer_email"] == "zoe@shop.example"
        again = await http.post("/v1/orders", json=ORDER, headers=BACKEND)
        assert again.status_code == 200 and again.json()["outcome"] == "unchanged"

        # PUT: the id from the path; a JSON number is read as a decimal, not a float.
        changed = {k: v for k, v in ORDER.items() if k != "id"}
        changed |= {"description": "Desk lamp, brass"}
        raw = httpx.Request("PUT", "/", json=changed).content.decode()
        raw = raw.replace('"30.00"', "30.1")
        updated = await http.put(
            "/v1/orders/ORD-7701",
            content=raw,
            headers={**BACKEND, "Content-Type": "application/json"},
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["outcome"] == "updated"
        assert set(updated.json()["changed"]) == {"amount_usdc", "description"}
        assert updated.json()["order"]["amount_usdc"] == "30.10"

        bad = await http.put(
            "/v1/orders/ORD-7702",
            json={**ORDER, "id": "ORD-7702", "amount_usdc": "12,5O"},
            headers=BACKEND,
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "invalid_order"
        assert "amount_usdc" in bad.json()["error"]["message"]
        other = await http.put("/v1/orders/ORD-7702", json=ORDER, headers=BACKEND)
        assert other.status_code == 422 and "id" in other.json()["error"]["message"]
        not_json = await http.post("/v1/orders", content=b"{", headers=BACKEND)
        assert not_json.status_code == 422

        # MoltPe knows the shop's payment (the real one does; here the sandbox is told).
        sandbox.register_payment(
            ORDER["payment_id"], ORDER["payer_address"], Decimal("30.1"), "polygon"
        )
        start = await http.post(
            "/v1/conversations", json={"customer_email": "zoe@shop.example"}, headers=BACKEND
        )
        thread = start.json()["thread_id"]
        turn = await http.post(
            f"/v1/conversations/{thread}/messages",
            json={"text": "please refund 10 USDC on ORD-7701"},
            headers=BACKEND,
        )
        assert turn.status_code == 200, turn.text
        assert turn.json()["outcome"]["kind"] == "refunded", turn.json()
        assert [e["payment_id"] for e in sandbox.ledger()] == ["pay_shop_77"]

        # Payment facts are frozen once the order has a refund.
        frozen = await http.put(
            "/v1/orders/ORD-7701", json={**ORDER, "amount_usdc": "99"}, headers=BACKEND
        )
        assert frozen.status_code == 409, frozen.text
        assert frozen.json()["error"]["code"] == "order_conflict"
