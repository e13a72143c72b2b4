"""Resolving a ticket over the API: it pays at most once, one reviewer wins, all is audited.

Approving after an unknown outcome reconciles the agent's attempt instead of paying
again; two reviewers resolving at once get one 200 and one 409; a refused approval is
an audit event; the reviewer's message to the customer waits for a running turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from moltpe_sandbox import SandboxServer
from persistence import repo
from persistence.audit import tail
from persistence.db import connect
from tests.e2e.server_fixtures import LiveServer, start_live_server
from tests.helpers.api import REVIEW, converse, ticket_of
from tests.helpers.waiting import wait_until


async def resolved_events(db_url: str, thread: str) -> list[dict[str, Any]]:
    """The conversation's ``ticket_resolved`` audit events."""
    async with await connect(db_url) as conn:
        events = await tail(conn, thread_id=thread)
    return [e for e in events if e["event_type"] == "ticket_resolved"]


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
            # The ticket is resolved (its event committed) before the message is posted,
            # and posting needs the lease this test holds: the request is now blocked.
            await wait_until(
                lambda: resolved_events(live_server.db_url, thread),
                what="the denial to be recorded",
            )
            assert not deny.done()
            view = (await http.get(f"/v1/conversations/{thread}")).json()
            assert "not eligible" not in view["messages"][-1]["text"]
            await repo.release_conversation(conn, thread, lease)
        assert (await deny).status_code == 200
        view = (await http.get(f"/v1/conversations/{thread}")).json()
    assert "not eligible" in view["messages"][-1]["text"]
