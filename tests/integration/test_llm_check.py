"""``check_llm`` against the local OpenAI-compatible stub and a port nobody listens on."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from moltpe_sandbox import SandboxServer
from tests.e2e.server_fixtures import start_live_server
from tests.openai_stub import OpenAIStub, start_openai_stub
from wiring.llm_check import check_llm, settings_that_work

KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with start_openai_stub(api_key=KEY) as running:
        yield running


def settings_for(base_url: str | None, key: str | None = KEY, **extra: Any) -> Settings:
    return Settings(_env_file=None, openai_api_key=key, openai_base_url=base_url, **extra)  # type: ignore[call-arg]


def closed_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_off_without_a_key() -> None:
    status = await check_llm(settings_for(None, key=None))
    assert status.state == "off" and not status.configured and not status.usable


async def test_ok_with_the_stub(stub: OpenAIStub) -> None:
    status = await check_llm(settings_for(stub.base_url, openai_model="stub-model"))
    assert status.state == "ok", status.message
    assert status.usable and status.model == "stub-model"
    [request] = stub.requests
    assert request["model"] == "stub-model" and request["max_completion_tokens"] == 1


async def test_a_wrong_key_is_unauthorized(stub: OpenAIStub) -> None:
    status = await check_llm(settings_for(stub.base_url, key="sk-wrong-key-000000"))
    assert status.state == "unauthorized"
    assert "HTTP 401" in status.message and "Incorrect API key" in status.message
    assert "sk-wrong-key-000000" not in status.message
    assert stub.requests == []


async def test_an_unreachable_endpoint() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    status = await check_llm(settings_for(url), deadline_seconds=3)
    assert status.state == "unreachable"
    assert url in status.message and not status.usable


@pytest.mark.parametrize(
    ("code", "body", "expected"),
    [
        (404, {"error": {"message": "The model `x` does not exist"}}, "does not exist"),
        (429, {"error": {"message": "You exceeded your current quota"}}, "quota"),
        (500, "upstream exploded", "HTTP 500"),
        (200, "<html>a login page</html>", "not like an OpenAI-compatible endpoint"),
    ],
)
async def test_other_failures_are_errors(code: int, body: Any, expected: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(code, text=body)
        return httpx.Response(code, json=body)

    status = await check_llm(
        settings_for("http://llm.invalid/v1"), transport=httpx.MockTransport(answer)
    )
    assert status.state == "error"
    assert expected in status.message


def test_serve_checks_the_llm_at_start_up_and_reports_it_in_healthz(
    stub: OpenAIStub,
    db_url: str,
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="server.app")
    thread, live = start_live_server(
        db_url, sandbox, openai_api_key="sk-wrong-key-000000", openai_base_url=stub.base_url
    )
    try:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            health = http.get("/healthz").json()
            # A broken LLM is reported, and the service stays healthy on the offline rules.
            assert health["status"] == "ok" and health["llm"] == "unauthorized"
            assert "HTTP 401" in health["llm_detail"]
            assert "sk-wrong-key-000000" not in health["llm_detail"]
            thread_id = http.post("/v1/conversations").json()["thread_id"]
            turn = http.post(
                f"/v1/conversations/{thread_id}/messages",
                json={"text": "alice@example.com ORD-1001 refund 20 USDC"},
            )
            assert turn.json()["outcome"]["kind"] == "refunded"
    finally:
        thread.stop()
    assert stub.requests == []  # the rules answered: no message waited for the model
    [warning] = [r for r in caplog.records if "the LLM does not work" in r.getMessage()]
    assert "unauthorized" in warning.getMessage() and "offline rules" in warning.getMessage()


async def test_start_up_settings_drop_a_broken_llm_and_keep_a_working_one(
    stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wiring.llm_check")
    broken = settings_for(stub.base_url, key="sk-wrong-key-000000")
    used, status = await settings_that_work(broken)
    assert status.state == "unauthorized" and used.openai_api_key is None
    assert any("using the offline rules" in r.getMessage() for r in caplog.records)
    working = settings_for(stub.base_url, openai_model="stub-model")
    used, status = await settings_that_work(working)
    assert status.usable and used is working
    off = settings_for(None, key=None)
    assert (await settings_that_work(off))[0] is off
