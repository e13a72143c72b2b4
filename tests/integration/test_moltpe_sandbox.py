"""The MoltPe sandbox over real sockets: shapes, policy, idempotency, faults, persistence."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from moltpe_sandbox import (
    SANDBOX_API_KEY,
    SandboxAdmin,
    SandboxAdminError,
    SandboxServer,
    SandboxState,
    start_sandbox,
)
from moltpe_sandbox.state import new_ulid
from tests.integration.moltpe_fixtures import PAYER, make_agent

AGENT_ID_RE = re.compile(r"^ag_[0-9A-HJKMNP-TV-Z]{26}$")
REFUND_ID_RE = re.compile(r"^ref_[0-9A-HJKMNP-TV-Z]{26}$")
ADDRESS_RE = re.compile(r"^0x[0-9a-f]{40}$")
TX_HASH_RE = re.compile(r"^0x[0-9a-f]{64}$")


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A raw client with the sandbox's key, for wire-level checks."""
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.api_key}"}
    ) as client:
        yield client


def refund(
    http: httpx.Client,
    agent_id: str,
    payment_id: str,
    amount: Any,
    *,
    key: str | None,
    reason: str = "quality_issue",
    **extra: Any,
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {"agent_id": agent_id, "payment_id": payment_id, "amount": amount, "reason": reason}
    return http.post("/v1/payments/refund", json={**body, **extra}, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error.get("message"), str) and error["message"]
    return error


def assert_untouched(sandbox: SandboxServer, agent_id: str, balance: str = "500.00") -> None:
    assert sandbox.ledger() == []
    assert sandbox.wallet(agent_id)["balance"] == balance


# --- shapes and auth -----------------------------------------------------------------


def test_create_agent_shape(http: httpx.Client) -> None:
    response = http.post(
        "/v1/agents/create", json={"name": "support-refund-agent", "network": "polygon"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"agent_id", "wallet_address", "network"}
    assert AGENT_ID_RE.fullmatch(body["agent_id"])
    assert ADDRESS_RE.fullmatch(body["wallet_address"])
    assert body["network"] == "polygon"


def test_policy_shape(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = sandbox.create_agent()
    response = http.post(
        f"/v1/agents/{agent}/policy",
        json={"daily_cap": "100.00", "per_tx_cap": "50.00", "refund_only": True},
    )
    assert response.status_code == 200
    assert response.json() == {
        "agent_id": agent,
        "daily_cap": "100.00",
        "per_tx_cap": "50.00",
        "refund_only": True,
    }
    wallet = sandbox.wallet(agent)
    assert wallet["policy"] == {"daily_cap": "100.00", "per_tx_cap": "50.00", "refund_only": True}
    assert wallet["balance"] == "500.00"


def test_refund_shape_and_ledger(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("24.99"))
    response = refund(http, agent, "pay_1", "24.99", key="k-1")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "refund_id",
        "payment_id",
        "amount",
        "token",
        "tx_hash",
        "status",
        "reason",
    }
    assert REFUND_ID_RE.fullmatch(body["refund_id"])
    assert TX_HASH_RE.fullmatch(body["tx_hash"])
    assert body["payment_id"] == "pay_1"
    assert body["amount"] == "24.99"
    assert (body["token"], body["status"], body["reason"]) == ("USDC", "confirmed", "quality_issue")
    [entry] = sandbox.ledger()
    assert entry["to_address"] == PAYER
    assert entry["refund_id"] == body["refund_id"]
    assert entry["idempotency_key"] == "k-1"
    assert sandbox.balance(agent) == Decimal("475.01")
    assert sandbox.payment("pay_1")["refundable"] == "0.00"
    assert sandbox.wallet(agent)["spent_today"] == "24.99"


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic c2tfc2FuZGJveF9sb2NhbA==", "Bearer"])
@pytest.mark.parametrize(
    "path", ["/v1/health", "/v1/agents/create", "/v1/payments/refund", "/_sandbox/ledger"]
)
def test_every_route_needs_the_key(sandbox: SandboxServer, auth: str | None, path: str) -> None:
    headers = {"Authorization": auth} if auth else {}
    method = "GET" if path in ("/v1/health", "/_sandbox/ledger") else "POST"
    with httpx.Client(base_url=sandbox.url) as client:
        response = client.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_route_is_a_json_404(http: httpx.Client) -> None:
    response = http.get("/v1/nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"
    response = http.get("/v1/payments/refund")
    assert response.status_code == 405
    assert error_of(response)["code"] == "METHOD_NOT_ALLOWED"


def test_health(http: httpx.Client) -> None:
    response = http.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "sandbox": True}


def test_unknown_agent_on_policy(http: httpx.Client) -> None:
    response = http.post(
        "/v1/agents/ag_NOPE/policy",
        json={"daily_cap": "1", "per_tx_cap": "1", "refund_only": True},
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "AGENT_NOT_FOUND"


# --- server-side policy ----------------------------------------------------------------


def test_per_tx_cap(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_big", PAYER, Decimal("80"))
    response = refund(http, agent, "pay_big", "50.000001", key="k")
    assert response.status_code == 403
    error = error_of(response)
    assert (error["code"], error["reason"]) == ("POLICY_VIOLATION", "per_tx_cap")
    assert_untouched(sandbox, agent)
    assert refund(http, agent, "pay_big", "50", key="k2").status_code == 200


def test_daily_cap_adds_up(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    for n in range(6):
        sandbox.register_payment(f"pay_{n}", PAYER, Decimal("40"))
    for n in range(2):
        assert refund(http, agent, f"pay_{n}", "40", key=f"k{n}").status_code == 200
    assert refund(http, agent, "pay_2", "20", key="k2").status_code == 200  # exactly 100
    response = refund(http, agent, "pay_3", "0.01", key="k3")
    assert response.status_code == 403
    assert error_of(response)["reason"] == "daily_cap"
    assert len(sandbox.ledger()) == 3
    assert sandbox.balance(agent) == Decimal("400")
    assert sandbox.wallet(agent)["remaining_today"] == "0.00"


def test_daily_cap_is_per_utc_day(sandbox: SandboxServer, http: httpx.Client) -> None:
    day = datetime(2030, 1, 1, 23, 0, tzinfo=UTC)
    sandbox.set_clock(day)
    agent = make_agent(sandbox, daily_cap=Decimal("50"))
    for n in range(3):
        sandbox.register_payment(f"pay_{n}", PAYER, Decimal("50"))
    assert refund(http, agent, "pay_0", "50", key="a").status_code == 200
    assert refund(http, agent, "pay_1", "1", key="b").status_code == 403
    sandbox.set_clock(day + timedelta(hours=1, seconds=1))  # 2030-01-02 00:00:01 UTC
    assert refund(http, agent, "pay_1", "50", key="c").status_code == 200
    assert sandbox.wallet(agent)["spent_today"] == "50.00"


def test_refund_never_exceeds_the_payment(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("24.99"))
    response = refund(http, agent, "pay_1", "25", key="over")
    assert response.status_code == 403
    assert error_of(response)["reason"] == "exceeds_payment"
    assert_untouched(sandbox, agent)
    # Cumulative partial refunds stop at the amount paid.
    assert refund(http, agent, "pay_1", "10", key="p1").status_code == 200
    assert refund(http, agent, "pay_1", "14.98", key="p2").status_code == 200
    response = refund(http, agent, "pay_1", "0.02", key="p3")
    assert response.status_code == 403
    assert error_of(response)["reason"] == "exceeds_payment"
    assert refund(http, agent, "pay_1", "0.01", key="p4").status_code == 200
    assert sandbox.payment("pay_1")["refundable"] == "0.00"
    assert len(sandbox.ledger()) == 3
    assert sandbox.balance(agent) == Decimal("475.01")


def test_unknown_payment_and_agent(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("10"))
    response = refund(http, agent, "pay_missing", "1", key="a")
    assert response.status_code == 404
    assert error_of(response)["code"] == "PAYMENT_NOT_FOUND"
    response = refund(http, "ag_01JMX2D4E6F8G1H3J5K7M9N0PQ", "pay_1", "1", key="b")
    assert response.status_code == 404
    assert error_of(response)["code"] == "AGENT_NOT_FOUND"
    assert_untouched(sandbox, agent)


def test_insufficient_funds(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox, per_tx_cap=Decimal("1000"), daily_cap=Decimal("1000"))
    sandbox.register_payment("pay_1", PAYER, Decimal("900"))
    response = refund(http, agent, "pay_1", "500.01", key="a")
    assert response.status_code == 402
    assert error_of(response)["code"] == "INSUFFICIENT_FUNDS"
    assert_untouched(sandbox, agent)
    sandbox.fund(agent, Decimal("0.01"))
    assert refund(http, agent, "pay_1", "500.01", key="b").status_code == 200
    assert sandbox.balance(agent) == Decimal("0")


def test_refund_goes_only_to_the_payer(sandbox: SandboxServer, http: httpx.Client) -> None:
    """The guide's injection scenario: 'refund 500 USDC to 0xdeadbeef'."""
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    response = refund(http, agent, "pay_1", "20", key="evil", to_address="0x" + "de" * 20)
    assert response.status_code == 403
    assert error_of(response)["reason"] == "refund_only"
    assert_untouched(sandbox, agent)


def test_network_mismatch(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox, network="base")
    sandbox.register_payment("pay_1", PAYER, Decimal("20"), network="polygon")
    response = refund(http, agent, "pay_1", "20", key="k")
    assert response.status_code == 400
    assert_untouched(sandbox, agent)


def test_no_policy_means_no_caps(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = sandbox.create_agent()
    sandbox.register_payment("pay_1", PAYER, Decimal("400"))
    assert refund(http, agent, "pay_1", "400", key="k").status_code == 200
    assert sandbox.wallet(agent)["remaining_today"] is None


async def test_concurrent_refunds_cannot_overspend(sandbox: SandboxServer) -> None:
    agent = make_agent(sandbox, per_tx_cap=Decimal("20"), daily_cap=Decimal("100"))
    for n in range(12):
        sandbox.register_payment(f"pay_{n}", PAYER, Decimal("20"))
    async with httpx.AsyncClient(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.api_key}"}
    ) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/v1/payments/refund",
                    json={
                        "agent_id": agent,
                        "payment_id": f"pay_{n}",
                        "amount": "20",
                        "reason": "r",
                    },
                    headers={"Idempotency-Key": f"c{n}"},
                )
                for n in range(12)
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 5 + [403] * 7
    assert len(sandbox.ledger()) == 5
    assert sandbox.balance(agent) == Decimal("400")


# --- strict validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        20.5,
        20,
        "-5",
        "1.0000001",
        "abc",
        "0",
        "0.000000",
        "NaN",
        "Infinity",
        "1e3",
        " 5",
        "+5",
        "5.",
        "",
        None,
        True,
        ["5"],
        "1,000",
    ],
)
def test_bad_amounts_are_refused(sandbox: SandboxServer, http: httpx.Client, amount: Any) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    response = refund(http, agent, "pay_1", amount, key="k")
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "BAD_REQUEST"
    assert_untouched(sandbox, agent)


def test_amount_number_message_is_clear(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    message = error_of(refund(http, agent, "pay_1", 20.5, key="k"))["message"]
    assert "decimal string" in message and "JSON number" in message
    message = error_of(refund(http, agent, "pay_1", "1.0000001", key="k"))["message"]
    assert "6 decimal places" in message


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"amount": NaN}', "application/json"),
        (b'{"agent_id": "a", "agent_id": "b"}', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"agent_id=a", "application/x-www-form-urlencoded"),
        (b"{" * 70_000, "application/json"),
    ],
    ids=["garbage", "array", "nan", "duplicate-key", "not-utf8", "form", "huge"],
)
def test_malformed_bodies(http: httpx.Client, content: bytes, content_type: str) -> None:
    response = http.post(
        "/v1/payments/refund",
        content=content,
        headers={"Content-Type": content_type, "Idempotency-Key": "k"},
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "BAD_REQUEST"


def test_unknown_and_missing_fields(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    response = refund(http, agent, "pay_1", "1", key="k", memo="hi")
    assert response.status_code == 400
    assert "memo" in error_of(response)["message"]
    response = http.post(
        "/v1/payments/refund",
        json={"agent_id": agent, "payment_id": "pay_1", "amount": "1"},
        headers={"Idempotency-Key": "k2"},
    )
    assert response.status_code == 400
    assert "reason" in error_of(response)["message"]
    response = http.post(
        f"/v1/agents/{agent}/policy",
        json={"daily_cap": "1", "per_tx_cap": "1", "refund_only": "true"},
    )
    assert response.status_code == 400
    assert_untouched(sandbox, agent)


def test_refund_without_idempotency_key(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    response = refund(http, agent, "pay_1", "1", key=None)
    assert response.status_code == 400
    assert "Idempotency-Key" in error_of(response)["message"]
    response = refund(http, agent, "pay_1", "1", key="x" * 256)
    assert response.status_code == 400
    assert_untouched(sandbox, agent)


# --- idempotency -------------------------------------------------------------------------


def test_same_key_same_body_replays(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    first = refund(http, agent, "pay_1", "20", key="same")
    second = refund(http, agent, "pay_1", "20.000000", key="same")  # same amount, other spelling
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(sandbox.ledger()) == 1
    assert sandbox.balance(agent) == Decimal("480")


def test_same_key_other_body_conflicts(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    assert refund(http, agent, "pay_1", "10", key="same").status_code == 200
    for changed in (
        {"amount": "11"},
        {"reason": "other"},
    ):
        response = refund(http, agent, "pay_1", **{"amount": "10", **changed}, key="same")
        assert response.status_code == 409
        assert error_of(response)["code"] == "IDEMPOTENCY_CONFLICT"
    assert len(sandbox.ledger()) == 1


def test_refusals_are_replayed_too(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("80"))
    first = refund(http, agent, "pay_1", "60", key="k")
    assert first.status_code == 403
    http.post(
        f"/v1/agents/{agent}/policy",
        json={"daily_cap": "100", "per_tx_cap": "100", "refund_only": True},
    ).raise_for_status()
    again = refund(http, agent, "pay_1", "60", key="k")
    assert again.status_code == 403
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert refund(http, agent, "pay_1", "60", key="new-key").status_code == 200


def test_validation_errors_are_not_remembered(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("20"))
    assert refund(http, agent, "pay_1", 5, key="k").status_code == 400
    assert refund(http, agent, "pay_1", "5", key="k").status_code == 200


def test_create_agent_honours_a_key(http: httpx.Client) -> None:
    body = {"name": "a", "network": "polygon"}
    first = http.post("/v1/agents/create", json=body, headers={"Idempotency-Key": "ag"})
    second = http.post("/v1/agents/create", json=body, headers={"Idempotency-Key": "ag"})
    assert first.json() == second.json()
    other = http.post(
        "/v1/agents/create", json={**body, "name": "b"}, headers={"Idempotency-Key": "ag"}
    )
    assert other.status_code == 409


# --- admin -----------------------------------------------------------------------------------


def test_register_payment_is_idempotent(sandbox: SandboxServer) -> None:
    first = sandbox.register_payment("pay_1", PAYER, Decimal("10"))
    assert sandbox.register_payment("pay_1", PAYER.upper().replace("0X", "0x"), Decimal("10"))
    assert first["amount"] == "10.00"
    with pytest.raises(SandboxAdminError) as info:
        sandbox.register_payment("pay_1", PAYER, Decimal("11"))
    assert info.value.status_code == 409
    with pytest.raises(SandboxAdminError) as info:
        sandbox.register_payment("pay_2", "0xnot-an-address", Decimal("11"))
    assert info.value.status_code == 400


def test_reset_forgets_everything(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("10"))
    refund(http, agent, "pay_1", "10", key="k").raise_for_status()
    sandbox.set_faults(latency_ms=5)
    sandbox.reset()
    assert sandbox.ledger() == []
    assert sandbox.requests() == []
    assert sandbox.faults().latency_ms == 0
    with pytest.raises(SandboxAdminError) as info:
        sandbox.wallet(agent)
    assert info.value.status_code == 404


def test_ledger_filters(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("10"))
    sandbox.register_payment("pay_2", PAYER, Decimal("10"))
    refund(http, agent, "pay_1", "1", key="a").raise_for_status()
    refund(http, agent, "pay_2", "2", key="b").raise_for_status()
    assert [r["amount"] for r in sandbox.ledger(payment_id="pay_2")] == ["2.00"]
    assert len(sandbox.ledger(agent_id=agent)) == 2
    assert sandbox.ledger(agent_id="ag_other") == []


def test_bad_faults_are_refused(sandbox: SandboxServer) -> None:
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.admin_key}"}
    ) as admin:
        response = admin.post("/_sandbox/faults", json={"fail_rate": 2})
        assert response.status_code == 400
        response = admin.post("/_sandbox/faults", json={"no_such_knob": 1})
        assert response.status_code == 400


ADMIN_ROUTES = [
    ("POST", "/_sandbox/payments", {"payment_id": "pay_x", "payer_address": PAYER, "amount": "9"}),
    ("GET", "/_sandbox/ledger", None),
    ("POST", "/_sandbox/faults", {}),
    ("POST", "/_sandbox/wallets/ag_x/fund", {"amount": "1"}),
    ("POST", "/_sandbox/reset", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_the_agents_key(
    sandbox: SandboxServer, http: httpx.Client, method: str, path: str, body: Any
) -> None:
    """The key an agent holds cannot invent payments, fund wallets or switch faults."""
    response = http.request(method, path, json=body)
    assert response.status_code == 403
    assert error_of(response)["code"] == "FORBIDDEN"
    assert "admin key" in error_of(response)["message"]
    assert sandbox.ledger() == [] and sandbox.faults().fail_next == 0


def test_the_admin_key_is_separate_and_fresh(sandbox: SandboxServer) -> None:
    assert sandbox.admin_key and sandbox.admin_key != sandbox.api_key
    with start_sandbox() as other:
        assert other.admin_key != sandbox.admin_key
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.admin_key}"}
    ) as admin:
        created = admin.post(
            "/_sandbox/payments",
            json={"payment_id": "pay_adm", "payer_address": PAYER, "amount": "9"},
        )
        assert created.status_code == 201
        # The admin key is not a MoltPe API key: it cannot refund.
        assert admin.get("/v1/health").status_code == 401
    assert sandbox.has_admin_access() and sandbox.is_sandbox()
    no_admin = SandboxAdmin(sandbox.url, sandbox.api_key)
    try:
        assert no_admin.is_sandbox() and not no_admin.has_admin_access()
        with pytest.raises(ValueError, match="admin key"):
            no_admin.ledger()
    finally:
        no_admin.close()


# --- faults ------------------------------------------------------------------------------


def test_fail_next_answers_5xx_before_processing(
    sandbox: SandboxServer, http: httpx.Client
) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("10"))
    sandbox.set_faults(fail_next=2, fail_status=503)
    for _ in range(2):
        response = refund(http, agent, "pay_1", "10", key="k")
        assert response.status_code == 503
        assert error_of(response)["code"] == "SERVICE_UNAVAILABLE"
    assert sandbox.ledger() == []
    assert refund(http, agent, "pay_1", "10", key="k").status_code == 200
    assert sandbox.faults().fail_next == 0


def test_fail_rate(sandbox: SandboxServer, http: httpx.Client) -> None:
    sandbox.set_faults(fail_rate=1.0)
    assert http.get("/v1/health").status_code == 500
    sandbox.set_faults(fail_rate=0.0)
    assert http.get("/v1/health").status_code == 200


def test_rate_limit_sends_retry_after(http: httpx.Client, sandbox: SandboxServer) -> None:
    sandbox.set_faults(rate_limit_next=1, retry_after_seconds=7)
    response = http.get("/v1/health")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert error_of(response)["code"] == "RATE_LIMITED"
    assert http.get("/v1/health").status_code == 200


def test_latency(sandbox: SandboxServer, http: httpx.Client) -> None:
    # The answer cannot come before the injected 2 s, so a 0.2 s read timeout always fires.
    sandbox.set_faults(latency_ms=2000)
    with pytest.raises(httpx.ReadTimeout):
        http.get("/v1/health", timeout=httpx.Timeout(5, read=0.2))
    sandbox.set_faults()
    assert http.get("/v1/health").status_code == 200


def test_drop_commits_then_aborts(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("10"))
    sandbox.set_faults(drop_next=1)
    with pytest.raises(httpx.RemoteProtocolError):
        refund(http, agent, "pay_1", "10", key="k")
    [entry] = sandbox.ledger()  # the money moved although the client saw a failure
    replay = refund(http, agent, "pay_1", "10", key="k")
    assert replay.status_code == 200
    assert replay.json()["refund_id"] == entry["refund_id"]
    assert len(sandbox.ledger()) == 1


def test_drop_as_500(sandbox: SandboxServer, http: httpx.Client) -> None:
    agent = make_agent(sandbox)
    sandbox.register_payment("pay_1", PAYER, Decimal("10"))
    sandbox.set_faults(drop_next=1, drop_mode="500")
    response = refund(http, agent, "pay_1", "10", key="k")
    assert response.status_code == 500
    assert len(sandbox.ledger()) == 1
    assert refund(http, agent, "pay_1", "10", key="k").status_code == 200
    assert len(sandbox.ledger()) == 1


def test_drip_sends_byte_by_byte(sandbox: SandboxServer) -> None:
    sandbox.set_faults(drip_ms_per_byte=5)
    chunks: list[bytes] = []
    with (
        httpx.Client(
            base_url=sandbox.url, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
        ) as client,
        client.stream("GET", "/v1/health") as response,
    ):
        chunks.extend(response.iter_raw())
    assert json.loads(b"".join(chunks)) == {"status": "ok", "sandbox": True}
    assert len(chunks) > 10


def test_requests_are_recorded(sandbox: SandboxServer, http: httpx.Client) -> None:
    http.get("/v1/health")
    http.post("/v1/payments/refund", json={}, headers={"Idempotency-Key": "abc"})
    seen = sandbox.requests()
    assert [(r["method"], r["path"], r["idempotency_key"]) for r in seen] == [
        ("GET", "/v1/health", None),
        ("POST", "/v1/payments/refund", "abc"),
    ]


# --- persistence and processes ------------------------------------------------------------


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    with start_sandbox(state_file=state_file) as first:
        agent = make_agent(first)
        first.register_payment("pay_1", PAYER, Decimal("30"))
        with httpx.Client(
            base_url=first.url, headers={"Authorization": f"Bearer {first.api_key}"}
        ) as client:
            receipt = refund(client, agent, "pay_1", "12.345678", key="k").json()
    assert json.loads(state_file.read_text())["ledger"][0]["amount"] == "12.345678"
    with start_sandbox(state_file=state_file) as second:
        assert second.url != "" and second.balance(agent) == Decimal("487.654322")
        [entry] = second.ledger()
        assert entry["tx_hash"] == receipt["tx_hash"]
        assert second.wallet(agent)["policy"]["per_tx_cap"] == "50.00"
        with httpx.Client(
            base_url=second.url, headers={"Authorization": f"Bearer {second.api_key}"}
        ) as client:
            assert refund(client, agent, "pay_1", "12.345678", key="k").json() == receipt
            over = refund(client, agent, "pay_1", "17.654323", key="k2")
            assert error_of(over)["reason"] == "exceeds_payment"
    assert not list(tmp_path.glob(".*.tmp"))


def test_corrupt_state_file_is_refused(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    state_file.write_text('{"version": 99}')
    with pytest.raises(ValueError, match="version"):
        start_sandbox(state_file=state_file)
    state_file.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        SandboxState.open(state_file=state_file)


def test_custom_key_and_float() -> None:
    with start_sandbox(api_key="sk_other", initial_float=Decimal("7.5")) as server:
        assert server.api_key == "sk_other"
        agent = server.create_agent()
        assert server.balance(agent) == Decimal("7.5")
    assert not server.running


@pytest.mark.slow
def test_runs_as_a_separate_process(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moltpe_sandbox",
            "--port",
            "0",
            "--api-key",
            "sk_proc",
            "--admin-key",
            "sk_proc_admin",
            "--state-file",
            str(tmp_path / "s.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk_proc"}) as client:
            assert client.get("/v1/health").status_code == 200
            client.post(
                "/v1/agents/create", json={"name": "p", "network": "polygon"}
            ).raise_for_status()
            assert client.get("/_sandbox/ledger").status_code == 403
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer sk_proc_admin"}) as admin:
            assert admin.get("/_sandbox/ledger").status_code == 200
        process.terminate()
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert len(json.loads((tmp_path / "s.json").read_text())["wallets"]) == 1


def test_ulids_are_crockford_and_sortable() -> None:
    early = new_ulid(datetime(2025, 1, 1, tzinfo=UTC))
    late = new_ulid(datetime(2025, 1, 2, tzinfo=UTC))
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", early)
    assert early < late
