"""A refund the turn could not settle is told on the conversation once the reconciler settles it.

Found by fault injection: with MoltPe's answers lost during the turn, the refund stayed
unsettled until the reconciler re-sent it, and the customer's conversation never heard.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from moltpe_sandbox import SandboxServer
from persistence.db import connect
from tests.e2e.server_fixtures import LiveServer, start_live_server
from tests.helpers.waiting import wait_until


@pytest.fixture
def reconciling_server(db_url: str, sandbox: SandboxServer) -> Iterator[LiveServer]:
    """The service with a reconciler that re-sends refunds unsettled for a second."""
    thread, live = start_live_server(
        db_url,
        sandbox,
        reconcile_interval_seconds=0.1,
        reconcile_after_seconds=1.0,
        moltpe_max_retries=0,  # a lost answer leaves the turn not knowing
    )
    try:
        yield live
    finally:
        thread.stop()


async def test_the_customer_is_told_once_in_their_language(
    reconciling_server: LiveServer, sandbox: SandboxServer
) -> None:
    live = reconciling_server
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        thread = (await http.post("/v1/conversations")).json()["thread_id"]
        # MoltPe pays and its answer is lost (the service does not retry, see above).
        sandbox.set_faults(drop_next=1)
        said = await http.post(
            f"/v1/conversations/{thread}/messages",
            json={
                "text": "Hola, quiero un reembolso de 20 USDC del pedido ORD-1001, "
                "mi correo es alice@example.com"
            },
        )
        assert said.status_code == 200, said.text
        if said.json()["outcome"]["kind"] == "asked":  # the amount was stated back
            said = await http.post(f"/v1/conversations/{thread}/messages", json={"text": "sí"})
        # Nobody knows whether it paid: a person is asked to look, the customer is told so.
        outcome = said.json()["outcome"]
        assert outcome["kind"] == "escalated", said.json()
        assert "refund_outcome_unknown" in outcome["reasons"]

        async def told() -> list[str]:
            view = (await http.get(f"/v1/conversations/{thread}")).json()
            agent = [m["text"] for m in view["messages"] if m["role"] == "agent"]
            return [text for text in agent if "Hash de la transacción: 0x" in text]

        [notice] = await wait_until(told, what="the customer told of the settled refund")
    [payment] = sandbox.ledger(agent_id=live.agent_id)  # paid once
    assert "20,00 USDC" in notice and "ORD-1001" in notice and payment["tx_hash"] in notice
    async with await connect(live.db_url, live.settings) as conn:
        cur = await conn.execute(
            "SELECT status, notice_due, customer_told_at FROM refunds WHERE thread_id = %s",
            (thread,),
        )
        [row] = await cur.fetchall()
    assert row["status"] == "confirmed" and row["notice_due"] and row["customer_told_at"]
    async with await connect(live.db_url, live.settings) as conn:
        cur = await conn.execute(
            "SELECT payload FROM audit_log WHERE event_type = 'customer_told' AND thread_id = %s",
            (thread,),
        )
        [event] = await cur.fetchall()  # the notice is in the audit trail, once
    assert event["payload"]["status"] == "confirmed"
    assert event["payload"]["tx_hash"] == payment["tx_hash"]
    # Later rounds of the reconciler do not tell it again.
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        await http.post(f"/v1/conversations/{thread}/messages", json={"text": "gracias"})
        view = (await http.get(f"/v1/conversations/{thread}")).json()
    assert sum("Hash de la transacción" in m["text"] for m in view["messages"]) == 1
