"""The review queue's views, search and paging, and taking a ticket, over the real API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from moltpe_sandbox import SandboxServer
from tests.e2e.server_fixtures import REVIEWER_TOKEN, LiveServer, start_live_server
from tests.helpers.api import REVIEW, escalate, page

DANA = REVIEW
ANA = {"Authorization": "Bearer ana-token"}


@pytest.fixture
async def two_reviewers(db_url: str, sandbox: SandboxServer) -> AsyncIterator[LiveServer]:
    """The service with reviewers dana and ana."""
    thread, live = await asyncio.to_thread(
        start_live_server,
        db_url,
        sandbox,
        reviewer_tokens=f"dana:{REVIEWER_TOKEN},ana:ana-token",
    )
    try:
        yield live
    finally:
        await asyncio.to_thread(thread.stop)


def refs(listed: dict[str, Any]) -> list[str]:
    return [t["reference"] for t in listed["tickets"]]


async def test_views_take_and_give_back_a_ticket(two_reviewers: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=two_reviewers.url, timeout=30) as http:
        bob = await escalate(http, "bob@example.com, I want 100 USDC back for ORD-2001")
        carol = await escalate(http, "carol@example.com ORD-3001 refund please")

        listed = await page(http, DANA)  # the open view by default, newest first
        assert listed["view"] == "open"
        assert refs(listed) == [carol["reference"], bob["reference"]]
        assert listed["counts"] == {"open": 2, "mine": 0, "resolved": 0}
        assert listed["next_offset"] is None
        assert (await page(http, DANA, view="mine"))["tickets"] == []

        # Dana takes Bob's ticket: it is hers, and nobody else's to resolve.
        taken = await http.post(f"/v1/tickets/{bob['id']}/claim", headers=DANA)
        assert taken.status_code == 200, taken.text
        assert taken.json()["assignee"] == "reviewer:dana"
        again = await http.post(f"/v1/tickets/{bob['id']}/claim", headers=DANA)
        assert again.status_code == 200  # taking your own ticket again changes nothing
        mine = await page(http, DANA, view="mine")
        assert refs(mine) == [bob["reference"]]
        assert mine["counts"] == {"open": 2, "mine": 1, "resolved": 0}
        assert (await page(http, ANA, view="mine"))["counts"]["mine"] == 0

        for refused in (
            await http.post(f"/v1/tickets/{bob['id']}/claim", headers=ANA),
            await http.post(f"/v1/tickets/{bob['id']}/release", headers=ANA),
            await http.post(
                f"/v1/tickets/{bob['id']}/resolve",
                json={"decision": "deny", "note": "not mine to decide"},
                headers=ANA,
            ),
        ):
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "ticket_claimed"
            assert "dana" in refused.json()["error"]["message"]
        assert two_reviewers.sandbox.ledger() == []

        # Ana takes it over (Dana is away), then gives it back.
        over = await http.post(
            f"/v1/tickets/{bob['id']}/claim", json={"take_over": True}, headers=ANA
        )
        assert over.status_code == 200 and over.json()["assignee"] == "reviewer:ana"
        assert refs(await page(http, ANA, view="mine")) == [bob["reference"]]
        assert (await page(http, DANA, view="mine"))["tickets"] == []
        back = await http.post(f"/v1/tickets/{bob['id']}/release", headers=ANA)
        assert back.status_code == 200 and back.json()["assignee"] is None

        # Resolved: the latest first, with who and when, and the amount refunded.
        denied = await http.post(
            f"/v1/tickets/{carol['id']}/resolve",
            json={"decision": "deny", "note": "outside the return policy"},
            headers=DANA,
        )
        assert denied.status_code == 200, denied.text
        approved = await http.post(
            f"/v1/tickets/{bob['id']}/resolve",
            json={"decision": "approve", "amount": "40", "note": "partial goodwill refund"},
            headers=ANA,
        )
        assert approved.status_code == 200, approved.text
        resolved = await page(http, DANA, view="resolved")
        assert refs(resolved) == [bob["reference"], carol["reference"]]
        first, second = resolved["tickets"]
        assert first["status"] == "approved" and first["resolved_by"] == "reviewer:ana"
        assert first["refund_amount"] == "40.00" and first["resolved_at"]
        assert second["status"] == "denied" and second["resolved_by"] == "reviewer:dana"
        assert second["refund_amount"] is None
        assert first["resolved_at"] > second["resolved_at"]
        assert resolved["counts"] == {"open": 0, "mine": 0, "resolved": 2}
        assert (await page(http, DANA, view="open"))["tickets"] == []
        gone = await http.post(f"/v1/tickets/{carol['id']}/claim", headers=DANA)
        assert gone.status_code == 409 and gone.json()["error"]["code"] == "ticket_not_open"

        # Every step is audited, with who took the ticket from whom.
        detail = (await http.get(f"/v1/tickets/{bob['id']}", headers=DANA)).json()
        steps = [
            (e["event_type"], e["actor"], e["payload"].get("taken_from"))
            for e in detail["audit"]
            if e["event_type"] in {"ticket_claimed", "ticket_released"}
        ]
        assert steps == [
            ("ticket_claimed", "reviewer:dana", None),
            ("ticket_claimed", "reviewer:ana", "reviewer:dana"),
            ("ticket_released", "reviewer:ana", None),
        ]
        words = [line["words"] for line in detail["trail"]]
        assert "Claimed by reviewer dana" in words
        assert "Taken over by reviewer ana from reviewer dana" in words
        assert "Released by reviewer ana for anyone to take" in words


async def test_one_box_finds_by_reference_order_or_email(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        bob = await escalate(http, "bob@example.com, I want 100 USDC back for ORD-2001")
        carol = await escalate(http, "carol@example.com ORD-3001 refund please")
        frank = await escalate(http, "frank@example.com ORD-6001 I want to speak to a human")

        async def found(q: str, **params: Any) -> list[str]:
            return refs(await page(http, DANA, q=q, **params))

        assert await found("carol@example.com") == [carol["reference"]]
        assert await found("  CAROL@Example.COM ") == [carol["reference"]]
        assert await found("bob@") == [bob["reference"]]
        assert await found("ORD-6001") == [frank["reference"]]
        assert await found("ord-20") == [bob["reference"]]
        assert await found(bob["reference"]) == [bob["reference"]]
        assert await found(bob["reference"].lower().replace("-", "")) == [bob["reference"]]
        # A bare number is a ticket id, and also part of an order id (2 is in ORD-2001).
        assert carol["id"] == 2
        assert await found("2") == [carol["reference"], bob["reference"]]
        assert await found("RT-2") == [carol["reference"]]
        assert await found("example.com") == [
            frank["reference"],
            carol["reference"],
            bob["reference"],
        ]
        # LIKE's wildcards are searched for as themselves.
        assert await found("%") == [] and await found("_") == []
        assert await found("nobody@example.com") == []

        # Search within a view; the counts say where the matches are.
        await http.post(
            f"/v1/tickets/{carol['id']}/resolve",
            json={"decision": "deny", "note": "too old"},
            headers=DANA,
        )
        assert await found("carol@example.com") == []
        assert await found("carol@example.com", view="resolved") == [carol["reference"]]
        counted = await page(http, DANA, q="carol@example.com")
        assert counted["counts"] == {"open": 0, "mine": 0, "resolved": 1}
        assert await found("carol", view="all") == [carol["reference"]]

        # Pages.
        first = await page(http, DANA, view="all", limit=2)
        assert refs(first) == [frank["reference"], carol["reference"]]
        assert first["next_offset"] == 2
        rest = await page(http, DANA, view="all", limit=2, offset=first["next_offset"])
        assert refs(rest) == [bob["reference"]] and rest["next_offset"] is None

        # The status filter of before still answers; a view and a status together do not.
        assert refs(await page(http, DANA, status="denied")) == [carol["reference"]]
        assert len((await page(http, DANA, status="all"))["tickets"]) == 3
        both = await http.get("/v1/tickets?view=open&status=open", headers=DANA)
        assert both.status_code == 422
        assert (await http.get("/v1/tickets?view=nope", headers=DANA)).status_code == 422
        assert (await http.get("/v1/tickets?q=" + "x" * 201, headers=DANA)).status_code == 422
        assert (await http.get("/v1/tickets?view=mine")).status_code == 401
