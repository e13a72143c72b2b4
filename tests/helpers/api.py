"""Talking to the live HTTP service as a customer or a reviewer."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.server_fixtures import REVIEWER_TOKEN

REVIEW = {"Authorization": f"Bearer {REVIEWER_TOKEN}"}  # reviewer dana


async def converse(
    http: httpx.AsyncClient, *texts: str, **start: Any
) -> tuple[str, dict[str, Any]]:
    """Start a conversation, send ``texts`` one by one; the thread and the last answer."""
    created = await http.post("/v1/conversations", json=start or None)
    assert created.status_code == 201, created.text
    thread = created.json()["thread_id"]
    body: dict[str, Any] = {}
    for text in texts:
        answer = await http.post(f"/v1/conversations/{thread}/messages", json={"text": text})
        assert answer.status_code == 200, answer.text
        body = answer.json()
    return thread, body


async def page(http: httpx.AsyncClient, who: dict[str, str], **params: Any) -> dict[str, Any]:
    """One page of the review queue as reviewer ``who`` sees it."""
    answer = await http.get("/v1/tickets", params=params, headers=who)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def escalate(http: httpx.AsyncClient, *texts: str) -> dict[str, Any]:
    """A conversation that ends with a ticket; the ticket's list entry."""
    _, body = await converse(http, *texts)
    assert body["outcome"]["kind"] == "escalated", body
    listed = await page(http, REVIEW, view="open", q=body["outcome"]["ticket"])
    [ticket] = listed["tickets"]
    return ticket


async def ticket_of(http: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    """The queue entry of the ticket with ``reference``, whatever its status."""
    tickets = (await http.get("/v1/tickets?status=all", headers=REVIEW)).json()["tickets"]
    [ticket] = [t for t in tickets if t["reference"] == reference]
    return ticket
