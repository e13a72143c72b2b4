"""The HTTP API over a real socket: conversations, streaming, review, auth and limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from moltpe_sandbox import SandboxServer
from tests.e2e.server_fixtures import LiveServer, start_live_server
from tests.helpers.api import REVIEW, converse


@pytest.fixture
async def http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        yield client


async def test_a_refund_conversation(http: httpx.AsyncClient, sandbox: SandboxServer) -> None:
    thread, body = await converse(http, "refund 20 USDC on ORD-1001", "alice@example.com")
    assert body["thread_id"] == thread
    assert body["outcome"]["kind"] == "refunded" and body["outcome"]["amount"] == "20.00"
    assert body["outcome"]["tx_hash"] in body["reply"]
    assert [e["tx_hash"] for e in sandbox.ledger()] == [body["outcome"]["tx_hash"]]
    view = (await http.get(f"/v1/conversations/{thread}")).json()
    assert [m["role"] for m in view["messages"]] == ["customer", "agent", "customer", "agent"]
    assert view["outcome"]["kind"] == "refunded"
    assert view["refund"]["status"] == "confirmed"


async def test_a_retried_message_is_answered_once(
    http: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    thread = (await http.post("/v1/conversations")).json()["thread_id"]
    url = f"/v1/conversations/{thread}/messages"
    body = {"text": "alice@example.com ORD-1001 refund 20 USDC please"}
    first = await http.post(url, json=body, headers={"Idempotency-Key": "msg-1"})
    retry = await http.post(url, json=body, headers={"Idempotency-Key": "msg-1"})
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(sandbox.ledger()) == 1
    view = (await http.get(f"/v1/conversations/{thread}")).json()
    assert len(view["messages"]) == 2
    # Without the key the same words are a new message: the very amount refunded before,
    # asked again, is stated back (a message sent twice is likelier than a second
    # request) and paid on a yes.
    again = await http.post(url, json=body)
    assert again.json()["outcome"]["for"] == ["confirmation"]
    assert len(sandbox.ledger()) == 1
    yes = await http.post(url, json={"text": "yes"})
    assert yes.json()["outcome"]["kind"] == "refunded"
    assert len(sandbox.ledger()) == 2


async def test_a_retried_streamed_message_replays_the_reply_as_one_event(
    http: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    thread = (await http.post("/v1/conversations")).json()["thread_id"]
    url = f"/v1/conversations/{thread}/messages"
    body = {"text": "alice@example.com ORD-1001 refund 20 USDC please"}
    first = await http.post(url, json=body, headers={"Idempotency-Key": "msg-s"})
    retry = await http.post(
        url, json=body, headers={"Idempotency-Key": "msg-s", "Accept": "text/event-stream"}
    )
    assert retry.headers["content-type"].startswith("text/event-stream")
    assert retry.headers["Idempotent-Replayed"] == "true"
    name, data, end = retry.text.split("\n", 2)
    assert (name, end) == ("event: reply", "\n")  # one event, LF line ends
    assert json.loads(data.removeprefix("data: ")) == first.json()
    assert len(sandbox.ledger()) == 1


async def test_a_backend_authenticated_customer(http: httpx.AsyncClient) -> None:
    _, body = await converse(
        http, "please refund ORD-1002", "yes please", customer_email="Alice@Example.com"
    )
    assert body["outcome"]["kind"] == "refunded" and body["outcome"]["amount"] == "12.50"


async def test_a_turn_streams_node_progress_then_the_reply(http: httpx.AsyncClient) -> None:
    thread = (await http.post("/v1/conversations")).json()["thread_id"]
    events: list[tuple[str, Any]] = []
    async with http.stream(
        "POST",
        f"/v1/conversations/{thread}/messages",
        json={"text": "alice@example.com ORD-1001 refund 20 USDC"},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((event or "", json.loads(line.removeprefix("data: "))))
    nodes = [data["node"] for name, data in events if name == "node"]
    assert nodes == ["understand", "lookup", "decide", "refund", "respond"]
    name, last = events[-1]
    assert name == "reply" and last["outcome"]["kind"] == "refunded"
    # The lease was released: the next message is accepted.
    again = await http.post(f"/v1/conversations/{thread}/messages", json={"text": "thanks"})
    assert again.status_code == 200


async def test_review_flow_approve(http: httpx.AsyncClient, sandbox: SandboxServer) -> None:
    thread, body = await converse(http, "bob@example.com, I want 100 USDC back for ORD-2001")
    assert body["outcome"]["kind"] == "escalated"
    reference = body["outcome"]["ticket"]

    assert (await http.get("/v1/tickets")).status_code == 401
    wrong = await http.get("/v1/tickets", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    assert (await http.get("/v1/me", headers=REVIEW)).json() == {"reviewer": "dana"}

    tickets = (await http.get("/v1/tickets?status=open", headers=REVIEW)).json()["tickets"]
    [ticket] = [t for t in tickets if t["reference"] == reference]
    detail = (await http.get(f"/v1/tickets/{ticket['id']}", headers=REVIEW)).json()
    assert detail["context"]["order"]["id"] == "ORD-2001"
    assert "over_per_tx_cap" in detail["context"]["decision"]["reasons"]
    assert detail["audit_chain"]["ok"] is True
    assert "escalation" in [e["event_type"] for e in detail["audit"]]

    # Beyond the per-refund cap: refused until the reviewer confirms they saw the warning.
    beyond = await http.post(
        f"/v1/tickets/{ticket['id']}/resolve",
        json={"decision": "approve", "amount": "100", "note": "loyal customer"},
        headers=REVIEW,
    )
    assert beyond.status_code == 409, beyond.text
    assert beyond.json()["error"]["code"] == "beyond_limits"
    assert "per-refund cap of 50.00 USDC" in beyond.json()["error"]["message"]
    assert sandbox.ledger() == []
    before = (await http.get(f"/v1/conversations/{thread}")).json()

    # Confirmed, MoltPe's own cap (50) refuses 100 even for a person: the ticket stays
    # open, and the customer is told on their thread.
    refused = await http.post(
        f"/v1/tickets/{ticket['id']}/resolve",
        json={
            "decision": "approve",
            "amount": "100",
            "note": "loyal customer",
            "confirm_beyond_limits": True,
        },
        headers=REVIEW,
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["refund"]["status"] == "failed"
    assert refused.json()["refund"]["error_code"] == "POLICY_VIOLATION"
    assert refused.json()["ticket"]["status"] == "open"
    told = refused.json()["customer_message"]
    assert reference in told and "did not go through" in told
    assert sandbox.ledger() == []
    view = (await http.get(f"/v1/conversations/{thread}")).json()
    assert len(view["messages"]) == len(before["messages"]) + 1
    assert view["messages"][-1] == {"role": "agent", "text": told}
    assert view["ticket"]["reference"] == reference
    assert view["ticket"].get("status", "open") == "open"

    approved = await http.post(
        f"/v1/tickets/{ticket['id']}/resolve",
        json={"decision": "approve", "amount": "40", "note": "partial goodwill refund"},
        headers=REVIEW,
    )
    assert approved.status_code == 200, approved.text
    result = approved.json()
    assert result["ticket"]["status"] == "approved"
    assert result["refund"]["status"] == "confirmed" and result["refund"]["amount"] == "40.00"
    tx = result["refund"]["tx_hash"]
    assert [e["tx_hash"] for e in sandbox.ledger()] == [tx]

    view = (await http.get(f"/v1/conversations/{thread}")).json()
    assert view["outcome"]["kind"] == "review_approved"
    assert view["ticket"]["status"] == "approved"
    assert tx in view["messages"][-1]["text"]

    again = await http.post(
        f"/v1/tickets/{ticket['id']}/resolve",
        json={"decision": "deny", "note": "double click"},
        headers=REVIEW,
    )
    assert again.status_code == 409
    detail = (await http.get(f"/v1/tickets/{ticket['id']}", headers=REVIEW)).json()
    assert detail["resolution"]["resolved_by"] == "reviewer:dana"
    assert detail["context"]["order"]["refunded_usdc"] == "0.00"  # as at escalation
    assert detail["order_now"]["refunded_usdc"] == "40.00"
    assert "ticket_resolved" in [e["event_type"] for e in detail["audit"]]
    # Both of the reviewer's refund attempts are counted, as the agent's are.
    metrics = (await http.get("/metrics")).text
    assert 'refund_agent_refunds_total{outcome="failed"} 1.0' in metrics
    assert 'refund_agent_refunds_total{outcome="confirmed"} 1.0' in metrics


async def test_review_flow_deny(http: httpx.AsyncClient) -> None:
    thread, body = await converse(http, "carol@example.com ORD-3001 refund please")
    assert body["outcome"]["kind"] == "escalated"
    tickets = (await http.get("/v1/tickets", headers=REVIEW)).json()["tickets"]
    ticket_id = tickets[0]["id"]
    denied = await http.post(
        f"/v1/tickets/{ticket_id}/resolve",
        json={"decision": "deny", "note": "outside the return policy"},
        headers=REVIEW,
    )
    assert denied.json()["ticket"]["status"] == "denied"
    view = (await http.get(f"/v1/conversations/{thread}")).json()
    assert view["outcome"] == {"kind": "review_denied", "ticket": tickets[0]["reference"]}
    assert "outside the return policy" in view["messages"][-1]["text"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "invalid_request"),
        ({"text": 5}, 422, "invalid_request"),
        ({"text": "hi", "admin": True}, 422, "invalid_request"),
        ({"text": "x" * 5000}, 413, "message_too_large"),
    ],
)
async def test_bad_messages_get_clear_errors(
    http: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    thread = (await http.post("/v1/conversations")).json()["thread_id"]
    answer = await http.post(f"/v1/conversations/{thread}/messages", json=body)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


async def test_not_json_and_huge_bodies(http: httpx.AsyncClient) -> None:
    thread = (await http.post("/v1/conversations")).json()["thread_id"]
    url = f"/v1/conversations/{thread}/messages"
    garbage = await http.post(
        url, content=b"\xff\x00not json", headers={"Content-Type": "application/json"}
    )
    assert garbage.status_code == 422
    huge = await http.post(url, content=b"{" + b" " * 400_000 + b"}")
    assert huge.status_code == 413
    missing = await http.post("/v1/conversations/nope/messages", json={"text": "hi"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad_start = await http.post("/v1/conversations", json={"customer_email": "not-an-email"})
    assert bad_start.status_code == 422


async def test_health_metrics_and_openapi(http: httpx.AsyncClient) -> None:
    await converse(http, "alice@example.com ORD-1001 refund 20 USDC")
    health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "database": "ok",
        "moltpe": "ok",
        "llm": "off",
        "llm_detail": "no OPENAI_API_KEY: messages are understood by the offline rules",
    }
    metrics = (await http.get("/metrics")).text
    assert 'refund_agent_refunds_total{outcome="confirmed"} 1.0' in metrics
    assert "refund_agent_turn_seconds_bucket" in metrics
    spec = (await http.get("/openapi.json")).json()
    assert {"/v1/conversations", "/v1/tickets/{ticket_id}/resolve", "/healthz"} <= set(
        spec["paths"]
    )
    for page in ("/", "/review"):
        answer = await http.get(page)
        assert answer.status_code == 200
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


async def test_rate_limits_and_service_tokens(db_url: str, sandbox: SandboxServer) -> None:
    thread_server, live = await asyncio.to_thread(
        start_live_server,
        db_url,
        sandbox,
        rate_limit_per_conversation=2,
        service_tokens="backend-secret",
    )
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            assert (await http.post("/v1/conversations")).status_code == 401
            auth = {"Authorization": "Bearer backend-secret"}
            thread = (await http.post("/v1/conversations", headers=auth)).json()["thread_id"]
            url = f"/v1/conversations/{thread}/messages"
            for _ in range(2):
                ok = await http.post(url, json={"text": "hello"}, headers=auth)
                assert ok.status_code == 200
            limited = await http.post(url, json={"text": "hello"}, headers=auth)
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
    finally:
        await asyncio.to_thread(thread_server.stop)
