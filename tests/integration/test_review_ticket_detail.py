"""One ticket as a reviewer reads it: both sides of the conversation, the audit trail in
plain words over the technical events, and the budget an approval is checked against."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from persistence import repo
from persistence.db import connect
from tests.e2e.server_fixtures import LiveServer
from tests.helpers.api import REVIEW as DANA
from tests.helpers.api import converse, escalate

HASH = re.compile(r"^[0-9a-f]{64}$")


async def chained_detail(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """The ticket's detail once the chainer has given every event of it a seq.

    Events are committed unchained and linked into the hash chain just after, off the
    writers' path; until then the detail lists them with ``seq`` null.
    """
    for _ in range(100):
        detail: dict[str, Any] = (await http.get(url, headers=DANA)).json()
        if all(e["seq"] is not None for e in detail["audit"]):
            return detail
        await asyncio.sleep(0.05)
    raise AssertionError("the chainer left events unchained for 5 seconds")


async def test_both_sides_the_trail_in_words_and_the_budget(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        # Bob is refunded 10 in one chat, then asks for 100 more in another.
        first_thread, paid = await converse(http, "bob@example.com ORD-2001 refund 10 USDC")
        assert paid["outcome"]["kind"] == "refunded", paid
        ticket = await escalate(http, "bob@example.com, I want 100 USDC back for ORD-2001")
        url = f"/v1/tickets/{ticket['id']}"
        detail = await chained_detail(http, url)

        # The conversation as it is: the customer's words and the agent's reply, in order.
        conversation = detail["conversation"]
        assert conversation["source"] == "conversation" and conversation["omitted"] == 0
        assert [m["role"] for m in conversation["messages"]] == ["customer", "agent"]
        assert "100 USDC back" in conversation["messages"][0]["text"]
        assert ticket["reference"] in conversation["messages"][1]["text"]

        # Today's budget as the policy reads it: 10 of 100 spent; 50 per refund.
        assert detail["budget"] == {
            "per_refund_cap": "50.00",
            "daily_cap": "100.00",
            "spent_today": "10.00",
            "remaining_today": "90.00",
        }

        # The trail in words: this chat, and what happened to the order in the other one.
        words = [line["words"] for line in detail["trail"]]
        earlier = next(
            line
            for line in detail["trail"]
            if line["words"].startswith("Refund of 10.00 USDC paid by MoltPe")
        )
        assert "approved by the policy gate" in earlier["words"]
        assert earlier["elsewhere"] is True and earlier["tone"] == "ok"
        assert (
            f"Escalated ({ticket['reference']}): over the 50.00 USDC per-refund cap; more than "
            "is left of today's 100.00 USDC refund budget"
        ) in words
        assert "Order found and it belongs to this customer" in words
        assert (
            "The agent answered message 1: read it, checked the order, applied the policy, "
            "passed it to a person, replied"
        ) in words
        assert any(w.startswith("Policy gate sent it to a person: over the 50.00") for w in words)
        # The technical record behind every line: type, actor, hashes and payload.
        audit = {e["seq"]: e for e in detail["audit"]}
        assert all(seq in audit for line in detail["trail"] for seq in line["seqs"])
        assert sorted(s for line in detail["trail"] for s in line["seqs"]) == sorted(audit)
        assert all(HASH.match(e["hash"]) and HASH.match(e["prev_hash"]) for e in audit.values())
        others = [e for e in audit.values() if e["thread_id"] == first_thread]
        assert others and "node" not in {e["event_type"] for e in others}
        assert "refund_confirmed" in {e["event_type"] for e in others}

        # MoltPe refuses 100 for a person too; then 40 is approved.
        refused = await http.post(
            f"{url}/resolve",
            json={
                "decision": "approve",
                "amount": "100",
                "note": "loyal customer",
                "confirm_beyond_limits": True,
            },
            headers=DANA,
        )
        assert refused.json()["refund"]["error_code"] == "POLICY_VIOLATION"
        approved = await http.post(
            f"{url}/resolve",
            json={"decision": "approve", "amount": "40", "note": "partial goodwill refund"},
            headers=DANA,
        )
        tx = approved.json()["refund"]["tx_hash"]
        detail = await chained_detail(http, url)

        # The reviewer's message reached the customer, and shows as the reviewer's.
        last = detail["conversation"]["messages"][-1]
        assert last["role"] == "reviewer" and last["author"] == "reviewer:dana"
        assert tx in last["text"]
        words = [line["words"] for line in detail["trail"]]
        assert any(
            w.startswith("MoltPe refused the refund of 100.00 USDC under its wallet policy")
            for w in words
        )
        assert (
            "Approval by reviewer dana: MoltPe did not complete the refund (POLICY_VIOLATION); "
            "the ticket stays open"
        ) in words
        assert (
            'Refund of 40.00 USDC approved by reviewer dana (note: "partial goodwill refund")'
            in (words)
        )
        [escalated] = [line for line in detail["trail"] if line["words"].startswith("Escalated")]
        assert escalated["tone"] == "warn" and escalated["elsewhere"] is False
        assert detail["budget"]["spent_today"] == "50.00"
        assert detail["budget"]["remaining_today"] == "50.00"


async def test_words_for_a_denial_and_the_window(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        ticket = await escalate(http, "carol@example.com ORD-3001 refund please")
        url = f"/v1/tickets/{ticket['id']}"
        denied = await http.post(
            f"{url}/resolve",
            json={"decision": "deny", "note": "outside the return policy"},
            headers=DANA,
        )
        assert denied.status_code == 200, denied.text
        detail = await chained_detail(http, url)
    words = [line["words"] for line in detail["trail"]]
    assert f"Escalated ({ticket['reference']}): outside the 30-day window" in words
    assert 'Request denied by reviewer dana (note: "outside the return policy")' in words
    roles = [m["role"] for m in detail["conversation"]["messages"]]
    assert roles[0] == "customer" and roles[-1] == "reviewer" and "agent" in roles


async def test_a_ticket_without_its_conversation_shows_the_escalations_copy(
    live_server: LiveServer,
) -> None:
    transcript = [
        {"role": "customer", "text": "refund ORD-1001 please"},
        {"role": "agent", "text": "Which email did you order with?"},
        {"role": "customer", "text": "alice@example.com, and I want a person"},
    ]
    async with await connect(live_server.db_url) as conn:
        ticket, _ = await repo.create_ticket(
            conn,
            request_key="elsewhere:1",
            customer_email="alice@example.com",
            order_id="ORD-1001",
            reason="customer_requested_human",
            thread_id=None,
            context={"transcript": transcript, "reasons": ["customer_requested_human"]},
        )
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        detail = (await http.get(f"/v1/tickets/{ticket.id}", headers=DANA)).json()
    assert detail["conversation"]["source"] == "ticket"
    assert detail["conversation"]["messages"] == [
        {"role": line["role"], "text": line["text"], "author": None} for line in transcript
    ]
    assert detail["budget"]["remaining_today"] == "100.00"
