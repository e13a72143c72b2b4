"""The MoltPe client against the sandbox over real sockets, plus exact error shapes.

The retry matrix uses the sandbox's fault injection; ``httpx.MockTransport`` is used
only where an exact shape is needed (malformed 2xx bodies, transport exceptions).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from core.settings import Settings
from moltpe_sandbox import SandboxServer
from tests.integration.moltpe_fixtures import PAYER, make_agent
from tools.moltpe import (
    AgentNotFound,
    AgentWallet,
    APIError,
    BadRequest,
    Conflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidResponse,
    MoltPeClient,
    NotFound,
    OutcomeUnknown,
    PaymentNotFound,
    PolicyViolation,
    RefundReceipt,
    Unauthorized,
    Unavailable,
)

FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.05, "retry_after_cap": 0.05}
CLIENT_LOGGER = "tools.moltpe._client"


def retry_delays(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The waits the client chose before each retry, as it logged them ("0.30s")."""
    return [
        r.getMessage().rsplit("retrying in ", 1)[1]
        for r in caplog.records
        if r.name == CLIENT_LOGGER and "retrying in " in r.getMessage()
    ]


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[MoltPeClient]:
    async with MoltPeClient(sandbox.url, sandbox.api_key, deadline=5, **FAST) as moltpe:
        yield moltpe


@pytest.fixture
def agent(sandbox: SandboxServer) -> str:
    """The guide's refund agent with a 20 USDC payment to refund."""
    agent_id = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    sandbox.clear_requests()
    return agent_id


async def refund(
    client: MoltPeClient,
    agent_id: str,
    amount: str = "20",
    *,
    payment_id: str = "pay_1",
    key: str = "key-1",
) -> RefundReceipt:
    return await client.refund(
        agent_id=agent_id,
        payment_id=payment_id,
        amount=Decimal(amount),
        reason="quality_issue",
        idempotency_key=key,
    )


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- each call ---------------------------------------------------------------------------


async def test_create_agent_and_policy(client: MoltPeClient, sandbox: SandboxServer) -> None:
    agent = await client.create_agent("support-refund-agent", "polygon")
    assert isinstance(agent, AgentWallet)
    assert agent.agent_id.startswith("ag_") and len(agent.agent_id) == 29
    policy = await client.set_policy(
        agent.agent_id, daily_cap=Decimal("100.00"), per_tx_cap=Decimal("50"), refund_only=True
    )
    assert (policy.agent_id, policy.daily_cap, policy.per_tx_cap, policy.refund_only) == (
        agent.agent_id,
        Decimal("100"),
        Decimal("50"),
        True,
    )
    assert sandbox.wallet(agent.agent_id)["policy"]["daily_cap"] == "100.00"


async def test_refund(client: MoltPeClient, sandbox: SandboxServer, agent: str) -> None:
    receipt = await refund(client, agent, "19.999999")
    assert receipt.amount == Decimal("19.999999")
    assert receipt.payment_id == "pay_1"
    assert receipt.confirmed and receipt.token == "USDC"
    [entry] = sandbox.ledger()
    assert (entry["tx_hash"], entry["idempotency_key"]) == (receipt.tx_hash, "key-1")
    [seen] = sandbox.requests()
    assert seen["idempotency_key"] == "key-1"


async def test_same_key_returns_the_same_receipt(
    client: MoltPeClient, sandbox: SandboxServer, agent: str
) -> None:
    first = await refund(client, agent, "5")
    again = await refund(client, agent, "5")
    assert again == first
    assert len(sandbox.ledger()) == 1


async def test_ping(client: MoltPeClient) -> None:
    assert await client.ping() is True


async def test_ping_reports_outages_and_bad_keys(sandbox: SandboxServer) -> None:
    async with MoltPeClient(closed_port_url(), "k", timeout=1) as down:
        assert await down.ping() is False
    sandbox.set_faults(fail_next=1, fail_status=503)
    async with MoltPeClient(sandbox.url, sandbox.api_key) as up:
        assert await up.ping() is False
        assert await up.ping() is True
    async with MoltPeClient(sandbox.url, "sk_wrong") as wrong:
        with pytest.raises(Unauthorized):
            await wrong.ping()


# --- each refusal ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "reason"),
    [("50.01", "per_tx_cap"), ("20.01", "exceeds_payment")],
)
async def test_policy_violations(
    client: MoltPeClient, sandbox: SandboxServer, agent: str, amount: str, reason: str
) -> None:
    sandbox.register_payment("pay_big", PAYER, Decimal("60"))
    payment = "pay_big" if reason == "per_tx_cap" else "pay_1"
    with pytest.raises(PolicyViolation) as info:
        await refund(client, agent, amount, payment_id=payment)
    assert info.value.reason == reason
    assert info.value.code == "POLICY_VIOLATION"
    assert info.value.status_code == 403
    assert sandbox.ledger() == []
    assert sandbox.balance(agent) == Decimal("500")


async def test_daily_cap_violation(client: MoltPeClient, sandbox: SandboxServer) -> None:
    agent = make_agent(sandbox, daily_cap=Decimal("30"))
    for n in range(2):
        sandbox.register_payment(f"pay_{n}", PAYER, Decimal("20"))
    await refund(client, agent, "20", payment_id="pay_0", key="a")
    with pytest.raises(PolicyViolation) as info:
        await refund(client, agent, "10.01", payment_id="pay_1", key="b")
    assert info.value.reason == "daily_cap"
    assert len(sandbox.ledger()) == 1


async def test_insufficient_funds(client: MoltPeClient, sandbox: SandboxServer) -> None:
    agent = sandbox.create_agent()  # no caps: only the balance limits it
    sandbox.register_payment("pay_big", PAYER, Decimal("600"))
    with pytest.raises(InsufficientFunds) as info:
        await refund(client, agent, "500.01", payment_id="pay_big")
    assert info.value.status_code == 402
    assert sandbox.ledger() == []


async def test_payment_and_agent_not_found(client: MoltPeClient, agent: str) -> None:
    with pytest.raises(PaymentNotFound):
        await refund(client, agent, payment_id="pay_nope", key="a")
    with pytest.raises(AgentNotFound):
        await refund(client, "ag_01JMX2D4E6F8G1H3J5K7M9N0PQ", key="b")
    with pytest.raises(AgentNotFound):
        await client.set_policy(
            "ag_nope", daily_cap=Decimal("1"), per_tx_cap=Decimal("1"), refund_only=True
        )


async def test_conflict(client: MoltPeClient, sandbox: SandboxServer, agent: str) -> None:
    await refund(client, agent, "5", key="k")
    with pytest.raises(Conflict) as info:
        await refund(client, agent, "6", key="k")
    assert info.value.code == "IDEMPOTENCY_CONFLICT"
    assert len(sandbox.requests()) == 2  # a 409 is never retried
    assert len(sandbox.ledger()) == 1


async def test_bad_request(client: MoltPeClient, sandbox: SandboxServer) -> None:
    with pytest.raises(BadRequest) as info:
        await client.create_agent("x", "Not A Network!")
    assert info.value.status_code == 400
    assert "network" in info.value.message
    assert len(sandbox.requests()) == 1  # a 400 is never retried


async def test_unauthorized(sandbox: SandboxServer, agent: str) -> None:
    async with MoltPeClient(sandbox.url, "sk_wrong", **FAST) as wrong:
        with pytest.raises(Unauthorized) as info:
            await refund(wrong, agent)
    assert info.value.status_code == 401
    assert len(sandbox.requests()) == 1  # a 401 is never retried
    assert sandbox.ledger() == []


# --- retry matrix ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_retried_with_the_same_key(
    client: MoltPeClient, sandbox: SandboxServer, agent: str, status: int
) -> None:
    sandbox.set_faults(fail_next=2, fail_status=status)
    receipt = await refund(client, agent)
    seen = sandbox.requests()
    assert [r["idempotency_key"] for r in seen] == ["key-1"] * 3
    assert [r["refund_id"] for r in sandbox.ledger()] == [receipt.refund_id]


async def test_5xx_after_retries_is_outcome_unknown(sandbox: SandboxServer, agent: str) -> None:
    sandbox.set_faults(fail_next=100)
    async with MoltPeClient(sandbox.url, sandbox.api_key, max_retries=2, **FAST) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await refund(client, agent)
        assert (info.value.attempts, info.value.last_status) == (3, 500)
        assert info.value.idempotency_key == "key-1"
        with pytest.raises(Unavailable):  # idempotent: safe to call again
            await client.set_policy(
                agent, daily_cap=Decimal("1"), per_tx_cap=Decimal("1"), refund_only=True
            )
    assert len(sandbox.requests()) == 6


async def test_429_honours_retry_after(
    sandbox: SandboxServer, agent: str, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.set_faults(rate_limit_next=1, retry_after_seconds=1)
    options = {**FAST, "retry_after_cap": 0.3}
    async with MoltPeClient(sandbox.url, sandbox.api_key, **options) as client:
        with caplog.at_level(logging.INFO, logger=CLIENT_LOGGER):
            await refund(client, agent)
    assert retry_delays(caplog) == ["0.30s"]  # waited Retry-After (capped at 0.3 s)
    assert len(sandbox.requests()) == 2
    assert len(sandbox.ledger()) == 1


async def test_429_after_retries_is_unavailable(sandbox: SandboxServer, agent: str) -> None:
    sandbox.set_faults(rate_limit_next=100, retry_after_seconds=0)
    async with MoltPeClient(sandbox.url, sandbox.api_key, max_retries=2, **FAST) as client:
        with pytest.raises(Unavailable) as info:  # a 429 was never processed
            await refund(client, agent)
    assert (info.value.attempts, info.value.last_status) == (3, 429)
    assert sandbox.ledger() == []


async def test_retry_after_beyond_the_deadline_gives_up_at_once(
    sandbox: SandboxServer, agent: str, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.set_faults(rate_limit_next=1, retry_after_seconds=60)
    async with MoltPeClient(
        sandbox.url, sandbox.api_key, deadline=2, backoff_base=0.01, retry_after_cap=30
    ) as client:
        with (
            caplog.at_level(logging.INFO, logger=CLIENT_LOGGER),
            pytest.raises(Unavailable, match="the next retry would pass the deadline") as info,
        ):
            await refund(client, agent)
    assert info.value.attempts == 1
    assert retry_delays(caplog) == []  # did not sleep toward the 60 s
    assert len(sandbox.requests()) == 1


async def test_connection_refused_is_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    async with MoltPeClient(closed_port_url(), "k", max_retries=2, **FAST) as client:
        with (
            caplog.at_level(logging.INFO, logger=CLIENT_LOGGER),
            pytest.raises(Unavailable) as info,
        ):
            await client.refund(
                agent_id="ag_x",
                payment_id="pay_1",
                amount=Decimal("1"),
                reason="r",
                idempotency_key="k",
            )
    assert info.value.attempts == 3
    delays = retry_delays(caplog)  # two short backoffs, within FAST's cap
    assert len(delays) == 2 and all(float(d[:-1]) <= FAST["backoff_cap"] for d in delays)
    assert "ConnectError" in str(info.value)


async def test_drip_is_cut_by_the_overall_deadline(sandbox: SandboxServer, agent: str) -> None:
    # Each byte arrives well within the read timeout, so only the deadline can end it.
    sandbox.set_faults(drip_ms_per_byte=40)
    async with MoltPeClient(sandbox.url, sandbox.api_key, timeout=5, deadline=1, **FAST) as client:
        with pytest.raises(OutcomeUnknown, match="deadline") as info:
            await refund(client, agent)
        # The deadline, not the (longer) read timeout, ended the one attempt mid-answer.
        assert "overall deadline of 1s exceeded" in str(info.value)
        assert "attempt 1 was still waiting for an answer" in str(info.value)
        assert info.value.attempts == 1
        assert info.value.idempotency_key == "key-1"
        # Reconcile: the same key learns what happened.
        sandbox.set_faults()
        receipt = await refund(client, agent)
    [entry] = sandbox.ledger()
    assert entry["refund_id"] == receipt.refund_id


@pytest.mark.parametrize("mode", ["abort", "500"])
async def test_commit_then_drop_without_retries_is_outcome_unknown(
    sandbox: SandboxServer, agent: str, mode: str
) -> None:
    sandbox.set_faults(drop_next=1, drop_mode=mode)
    async with MoltPeClient(sandbox.url, sandbox.api_key, max_retries=0, **FAST) as client:
        with pytest.raises(OutcomeUnknown):
            await refund(client, agent)
        [entry] = sandbox.ledger()  # the money moved
        receipt = await refund(client, agent)  # reconcile with the same key
    assert receipt.refund_id == entry["refund_id"]
    assert len(sandbox.ledger()) == 1
    assert sandbox.balance(agent) == Decimal("480")


@pytest.mark.parametrize("mode", ["abort", "500"])
async def test_commit_then_drop_is_healed_by_the_retry(
    client: MoltPeClient, sandbox: SandboxServer, agent: str, mode: str
) -> None:
    sandbox.set_faults(drop_next=1, drop_mode=mode)
    receipt = await refund(client, agent)
    [entry] = sandbox.ledger()
    assert entry["refund_id"] == receipt.refund_id
    assert [r["idempotency_key"] for r in sandbox.requests()] == ["key-1", "key-1"]
    assert sandbox.balance(agent) == Decimal("480")


# --- validation before any request ------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [20.0, Decimal("-1"), Decimal("1.0000001"), Decimal("NaN"), Decimal("0"), 20, "20", None],
    ids=["float", "negative", "7-places", "nan", "zero", "int", "str", "none"],
)
async def test_bad_amounts_never_leave_the_process(
    client: MoltPeClient, sandbox: SandboxServer, agent: str, amount: Any
) -> None:
    with pytest.raises(InvalidAmount) as info:
        await client.refund(
            agent_id=agent,
            payment_id="pay_1",
            amount=amount,
            reason="r",
            idempotency_key="k",
        )
    assert isinstance(info.value, ValueError)
    assert "amount" in str(info.value)
    assert sandbox.requests() == []


async def test_bad_caps_never_leave_the_process(
    client: MoltPeClient, sandbox: SandboxServer, agent: str
) -> None:
    for caps in (
        {"daily_cap": 100.0, "per_tx_cap": Decimal("1")},
        {"daily_cap": Decimal("1"), "per_tx_cap": Decimal("-1")},
        {"daily_cap": Decimal("1.1234567"), "per_tx_cap": Decimal("1")},
    ):
        with pytest.raises(InvalidAmount):
            await client.set_policy(agent, refund_only=True, **caps)
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    "changes",
    [
        {"idempotency_key": ""},
        {"idempotency_key": "has space"},
        {"idempotency_key": "x" * 256},
        {"agent_id": ""},
        {"payment_id": "  "},
        {"reason": None},
        {"reason": ""},
    ],
)
async def test_bad_arguments_never_leave_the_process(
    client: MoltPeClient, sandbox: SandboxServer, changes: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {
        "agent_id": "ag_x",
        "payment_id": "pay_1",
        "amount": Decimal("1"),
        "reason": "r",
        "idempotency_key": "k",
    }
    with pytest.raises(ValueError):
        await client.refund(**{**arguments, **changes})
    assert sandbox.requests() == []


def test_constructor_validates() -> None:
    cases: tuple[tuple[tuple[str, str], dict[str, Any]], ...] = (
        (("", "k"), {}),
        (("ftp://x", "k"), {}),
        (("http://x", ""), {}),
        (("http://x", "bad key"), {}),
        (("http://x", "k"), {"deadline": 0}),
        (("http://x", "k"), {"max_retries": -1}),
    )
    for args, kwargs in cases:
        with pytest.raises(ValueError):
            MoltPeClient(*args, **kwargs)


async def test_from_settings(sandbox: SandboxServer) -> None:
    settings = Settings(
        _env_file=None,
        moltpe_base_url=sandbox.url,
        moltpe_api_key=SecretStr(sandbox.api_key),
        moltpe_deadline_seconds=7,
    )
    async with MoltPeClient.from_settings(settings) as client:
        assert client.base_url == sandbox.url
        assert await client.ping()
    no_key = Settings(_env_file=None, moltpe_api_key=None)
    with pytest.raises(ValueError, match="MOLTPE_API_KEY"):
        MoltPeClient.from_settings(no_key)
    async with MoltPeClient.from_settings(
        no_key, api_key_override=sandbox.api_key, base_url_override=sandbox.url
    ) as client:
        assert await client.ping()


# --- exact shapes through httpx.MockTransport ------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]
RECEIPT = {
    "refund_id": "ref_01JMX5F8H1K3M5N7P9Q1R3S5T7",
    "payment_id": "pay_1",
    "amount": "20.00",
    "token": "USDC",
    "tx_hash": "0x" + "a" * 64,
    "status": "confirmed",
    "reason": "r",
}


def mock_client(handler: Handler, **kwargs: Any) -> MoltPeClient:
    options: dict[str, Any] = {**FAST, "deadline": 2, **kwargs}
    return MoltPeClient(
        "https://api.moltpe.test", "sk_test", transport=httpx.MockTransport(handler), **options
    )


async def mock_refund(client: MoltPeClient) -> RefundReceipt:
    return await client.refund(
        agent_id="ag_1", payment_id="pay_1", amount=Decimal("20"), reason="r", idempotency_key="k"
    )


async def test_request_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=RECEIPT)

    async with mock_client(handler) as client:
        receipt = await mock_refund(client)
    assert receipt.amount == Decimal("20")
    [request] = seen
    assert request.method == "POST"
    assert request.url == "https://api.moltpe.test/v1/payments/refund"
    assert request.headers["Authorization"] == "Bearer sk_test"
    assert request.headers["Idempotency-Key"] == "k"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "agent_id": "ag_1",
        "payment_id": "pay_1",
        "amount": "20.00",
        "reason": "r",
    }


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        json.dumps({**RECEIPT, "amount": 20.0}).encode(),
        json.dumps({**RECEIPT, "tx_hash": "0x12"}).encode(),
        json.dumps({k: v for k, v in RECEIPT.items() if k != "refund_id"}).encode(),
        json.dumps({**RECEIPT, "amount": "19.99"}).encode(),  # not what was asked
        json.dumps({**RECEIPT, "payment_id": "pay_other"}).encode(),
    ],
    ids=["garbage", "float-amount", "bad-hash", "missing-id", "other-amount", "other-payment"],
)
async def test_malformed_2xx_refund_is_outcome_unknown(body: bytes) -> None:
    async with mock_client(lambda request: httpx.Response(200, content=body)) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await mock_refund(client)
    assert info.value.idempotency_key == "k"


async def test_outcome_unknown_counts_attempts() -> None:
    answers = [httpx.Response(503), httpx.Response(200, content=b"{}")]
    async with mock_client(lambda request: answers.pop(0)) as client:
        with pytest.raises(OutcomeUnknown) as info:
            await mock_refund(client)
    assert (info.value.attempts, info.value.last_status) == (2, 200)


async def test_malformed_2xx_elsewhere() -> None:
    async with mock_client(lambda request: httpx.Response(200, json={"ok": True})) as client:
        with pytest.raises(InvalidResponse):
            await client.set_policy(
                "ag_1", daily_cap=Decimal("1"), per_tx_cap=Decimal("1"), refund_only=True
            )
        with pytest.raises(OutcomeUnknown):
            await client.create_agent("a", "polygon")


async def test_policy_other_than_requested_is_invalid() -> None:
    answer = {"daily_cap": "1000.00", "per_tx_cap": "1.00", "refund_only": True}
    async with mock_client(lambda request: httpx.Response(200, json=answer)) as client:
        with pytest.raises(InvalidResponse, match="different policy"):
            await client.set_policy(
                "ag_1", daily_cap=Decimal("1"), per_tx_cap=Decimal("1"), refund_only=True
            )


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        (httpx.ReadTimeout("slow"), OutcomeUnknown),
        (httpx.RemoteProtocolError("peer closed"), OutcomeUnknown),
        (httpx.ReadError("reset"), OutcomeUnknown),
        (httpx.WriteTimeout("stuck"), OutcomeUnknown),
        (httpx.ConnectError("refused"), Unavailable),
        (httpx.ConnectTimeout("slow connect"), Unavailable),
        (httpx.PoolTimeout("pool"), Unavailable),
    ],
)
async def test_transport_errors(exception: Exception, expected: type[Exception]) -> None:
    keys: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("Idempotency-Key"))
        raise exception

    async with mock_client(handler, max_retries=2) as client:
        with pytest.raises(expected) as info:
            await mock_refund(client)
    assert keys == ["k", "k", "k"]
    assert type(exception).__name__ in str(info.value)


async def test_one_maybe_sent_attempt_taints_the_outcome() -> None:
    """A read timeout, then connection refused: the first attempt may have landed."""
    outcomes: list[Exception] = [httpx.ReadTimeout("slow"), httpx.ConnectError("refused")]

    def handler(request: httpx.Request) -> httpx.Response:
        raise outcomes.pop(0)

    async with mock_client(handler, max_retries=1) as client:
        with pytest.raises(OutcomeUnknown):
            await mock_refund(client)


async def test_retry_after_http_date(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[httpx.Request] = []
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": when})
        return httpx.Response(200, json=RECEIPT)

    async with mock_client(handler, retry_after_cap=0.2) as client:
        with caplog.at_level(logging.INFO, logger=CLIENT_LOGGER):
            await mock_refund(client)
    assert len(calls) == 2
    assert retry_delays(caplog) == ["0.20s"]  # the date, 30 s away, capped at 0.2 s


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, b"<html>not here</html>", NotFound),
        (418, b"", APIError),
        (
            422,
            json.dumps({"error": {"code": "INSUFFICIENT_FUNDS", "message": "m"}}).encode(),
            InsufficientFunds,
        ),
        (
            403,
            json.dumps(
                {"error": {"code": "POLICY_VIOLATION", "reason": "refund_only", "message": "m"}}
            ).encode(),
            PolicyViolation,
        ),
        (409, b"{}", Conflict),
        (401, b"", Unauthorized),
    ],
)
async def test_error_mapping(status: int, body: bytes, expected: type[APIError]) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, content=body)

    async with mock_client(handler) as client:
        with pytest.raises(expected) as info:
            await mock_refund(client)
    assert type(info.value) is expected
    assert info.value.status_code == status
    assert info.value.message
    assert calls == 1  # 4xx: never retried
