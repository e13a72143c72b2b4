"""Review and streaming defects found in review, each pinned by a test."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from moltpe_sandbox import SandboxServer
from persistence import repo
from persistence.audit import tail
from persistence.db import connect
from tests.e2e.server_fixtures import LiveServer, start_live_server
from tests.integration.test_server_api import REVIEW, converse


async def ticket_of(http: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    tickets = (await http.get("/v1/tickets?status=all", headers=REVIEW)).json()["tickets"]
    [ticket] = [t for t in tickets if t["reference"] == reference]
    return ticket


async def test_approving_after_an_unknown_outcome_pays_nothing_more(
    db_url: str, sandbox: SandboxServer
) -> None:
    thread_server, live = await asyncio.to_thread(
        start_live_server, db_url, sandbox, moltpe_max_retries=0
    )
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            sandbox.set_faults(drop_next=1, drop_mode="abort")  # MoltPe pays, the answer is lost
            _, body = await converse(http, "alice@example.com ORD-1001 refund 20 USDC")
            assert body["outcome"]["kind"] == "escalated"
            assert body["outcome"]["reasons"] == ["refund_outcome_unknown"]
            assert len(sandbox.ledger()) == 1
            ticket = await ticket_of(http, body["outcome"]["ticket"])
            approved = await http.post(
                f"/v1/tickets/{ticket['id']}/resolve",
                json={"decision": "approve", "note": "customer says it never arrived"},
                headers=REVIEW,
            )
            assert approved.status_code == 200, approved.text
            result = approved.json()
            assert result["ticket"]["status"] == "approved"
            assert result["refund"]["tx_hash"] == sandbox.ledger()[0]["tx_hash"]
            assert len(sandbox.ledger()) == 1  # the agent's refund, reconciled: not a second
    finally:
        await asyncio.to_thread(thread_server.stop)


async def test_two_reviewers_cannot_both_resolve(live_server: LiveServer) -> None:
    live_server.sandbox.set_faults(latency_ms=800)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        _, body = await converse(http, "bob@example.com ORD-2001 I want 100 USDC back")
        ticket = await ticket_of(http, body["outcome"]["ticket"])
        url = f"/v1/tickets/{ticket['id']}/resolve"
        approve, deny = await asyncio.gather(
            http.post(
                url, json={"decision": "approve", "amount": "40", "note": "a"}, headers=REVIEW
            ),
            http.post(url, json={"decision": "deny", "note": "b"}, headers=REVIEW),
        )
    statuses = sorted([approve.status_code, deny.status_code])
    assert statuses == [200, 409], (approve.text, deny.text)
    loser = approve if approve.status_code == 409 else deny
    assert loser.json()["error"]["code"] in {"ticket_busy", "ticket_not_open"}
    assert len(live_server.sandbox.ledger()) <= 1


async def test_a_refused_approval_is_audited(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        thread, body = await converse(http, "carol@example.com ORD-3001 refund please")
        ticket = await ticket_of(http, body["outcome"]["ticket"])
        refused = await http.post(
            f"/v1/tickets/{ticket['id']}/resolve",
            json={"decision": "approve", "amount": "31", "note": "more than paid"},
            headers=REVIEW,
        )
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "exceeds_order"
    async with await connect(live_server.db_url) as conn:
        events = await tail(conn, thread_id=thread)
    [event] = [e for e in events if e["event_type"] == "ticket_resolved"]
    assert event["payload"]["result"] == "refused"
    assert event["payload"]["code"] == "exceeds_order"
    assert event["actor"] == "reviewer:dana"


async def test_the_reviewers_message_waits_for_a_running_turn(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        thread, body = await converse(http, "bob@example.com ORD-2001 I want 100 USDC back")
        ticket = await ticket_of(http, body["outcome"]["ticket"])
        async with await connect(live_server.db_url) as conn:
            lease = await repo.take_conversation(conn, thread, 30)  # a turn is running
            assert lease is not None
            deny = asyncio.create_task(
                http.post(
                    f"/v1/tickets/{ticket['id']}/resolve",
                    json={"decision": "deny", "note": "not eligible"},
                    headers=REVIEW,
                )
            )
            await asyncio.sleep(0.5)
            assert not deny.done()  # waiting for the turn's lease
            await repo.release_conversation(conn, thread, lease)
        assert (await deny).status_code == 200
        view = (await http.get(f"/v1/conversations/{thread}")).json()
    assert "not eligible" in view["messages"][-1]["text"]


async def test_a_disconnected_stream_still_finishes_the_turn(
    live_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        thread = (await http.post("/v1/conversations")).json()["thread_id"]
        live_server.sandbox.set_faults(latency_ms=500)
        async with http.stream(
            "POST",
            f"/v1/conversations/{thread}/messages",
            json={"text": "alice@example.com ORD-1001 refund 20 USDC"},
            headers={"Accept": "text/event-stream"},
        ) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    assert json.loads(line[6:])["node"] == "understand"
                    break  # the customer closes the page
        for _ in range(100):
            view = (await http.get(f"/v1/conversations/{thread}")).json()
            if view["outcome"].get("kind") == "refunded":
                break
            await asyncio.sleep(0.1)
        assert view["outcome"]["kind"] == "refunded"
        assert [m["role"] for m in view["messages"]] == ["customer", "agent"]
        again = await http.post(f"/v1/conversations/{thread}/messages", json={"text": "thanks"})
        assert again.status_code == 200  # the lease was released by the finished turn
    assert len(live_server.sandbox.ledger()) == 1


async def test_nul_characters_get_clear_answers(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        bad_email = await http.post("/v1/conversations", json={"customer_email": "a\u0000b@x.com"})
        assert bad_email.status_code == 422
        assert bad_email.json()["error"]["code"] == "invalid_request"
        bad_thread = await http.post("/v1/conversations/ab%00c/messages", json={"text": "hi"})
        assert bad_thread.status_code == 404
        _, body = await converse(http, "alice@example.com\u0000 ORD-1001 refund 20 USDC\u0000")
        assert body["outcome"]["kind"] == "refunded"
