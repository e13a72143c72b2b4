"""A customer who closes the page mid-stream still gets the turn finished and recorded."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.e2e.server_fixtures import LiveServer
from tests.helpers.waiting import wait_until


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

        async def finished() -> dict[str, Any] | None:
            view: dict[str, Any] = (await http.get(f"/v1/conversations/{thread}")).json()
            return view if view["outcome"].get("kind") == "refunded" else None

        view = await wait_until(finished, what="the abandoned turn to finish")
        assert [m["role"] for m in view["messages"]] == ["customer", "agent"]
        again = await http.post(f"/v1/conversations/{thread}/messages", json={"text": "thanks"})
        assert again.status_code == 200  # the lease was released by the finished turn
    assert len(live_server.sandbox.ledger()) == 1
