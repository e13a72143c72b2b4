"""A retry with the same Idempotency-Key gets the first answer, whatever failed in between.

A fault-injection run once paid twice (6 of 6): the answer for a key was stored in a
separate step after the turn's checkpoint, so a failure in between made the client's
retry run as a new turn with a new request key. Now the answer is stored in the same
transaction as the turn's audit trail, and the refund's request key comes from the
client's key, so a retry either replays the answer or re-runs the same request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import server.turns
from moltpe_sandbox import SandboxServer
from persistence import repo
from tests.e2e.server_fixtures import LiveServer

REFUND = {"text": "alice@example.com ORD-1001 refund 20 USDC please"}


@pytest.fixture
async def http(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        yield client


async def new_thread(http: httpx.AsyncClient) -> str:
    created = await http.post("/v1/conversations")
    assert created.status_code == 201, created.text
    return str(created.json()["thread_id"])


def fail_once(real: Any) -> Any:
    calls = {"n": 0}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected fault")
        return await real(*args, **kwargs)

    return flaky


async def test_a_failure_after_the_turn_replays_the_first_answer(
    http: httpx.AsyncClient, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's own work after the turn fails: the retry gets the turn's answer."""
    monkeypatch.setattr(server.turns, "after_turn", fail_once(server.turns.after_turn))
    thread = await new_thread(http)
    url = f"/v1/conversations/{thread}/messages"
    first = await http.post(url, json=REFUND, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 500
    retry = await http.post(url, json=REFUND, headers={"Idempotency-Key": "k-1"})
    assert retry.status_code == 200, retry.text
    assert retry.headers.get("Idempotent-Replayed") == "true"
    outcome = retry.json()["outcome"]
    assert outcome["kind"] == "refunded" and outcome["amount"] == "20.00"
    assert [e["tx_hash"] for e in sandbox.ledger()] == [outcome["tx_hash"]]


async def test_a_failure_inside_the_turn_reruns_the_same_request_never_a_second_payment(
    http: httpx.AsyncClient, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn fails after paying, before its answer is stored: the retry pays nothing."""
    monkeypatch.setattr(repo, "store_request_answer", fail_once(repo.store_request_answer))
    thread = await new_thread(http)
    url = f"/v1/conversations/{thread}/messages"
    first = await http.post(url, json=REFUND, headers={"Idempotency-Key": "k-2"})
    assert first.status_code == 500
    assert len(sandbox.ledger()) == 1  # the money moved before the fault
    retry = await http.post(url, json=REFUND, headers={"Idempotency-Key": "k-2"})
    assert retry.status_code == 200, retry.text
    outcome = retry.json()["outcome"]
    assert outcome["kind"] == "refunded" and outcome["amount"] == "20.00"
    assert [e["tx_hash"] for e in sandbox.ledger()] == [outcome["tx_hash"]]
    again = await http.post(url, json=REFUND, headers={"Idempotency-Key": "k-2"})
    assert again.json() == retry.json()
    assert len(sandbox.ledger()) == 1


async def test_a_key_reused_for_another_message_is_refused(
    http: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    thread = await new_thread(http)
    url = f"/v1/conversations/{thread}/messages"
    first = await http.post(url, json=REFUND, headers={"Idempotency-Key": "k-3"})
    assert first.status_code == 200
    other = await http.post(
        url, json={"text": "refund 40 USDC instead"}, headers={"Idempotency-Key": "k-3"}
    )
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert len(sandbox.ledger()) == 1
