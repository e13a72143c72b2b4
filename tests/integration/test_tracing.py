"""LangSmith tracing: one masked trace per turn, posted to a local stand-in LangSmith."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tracers.langchain import wait_for_all_tracers
from langsmith import run_trees as ls_run_trees
from langsmith import utils as ls_utils

from core.settings import Settings
from tests.harness import Chat
from tests.integration.langsmith_capture import CaptureServer
from tests.integration.moltpe_fixtures import PAYER
from wiring import tracing

EMAIL = "alice@example.com"
ORDER = "ORD-1001"
CUSTOMER_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
BEARER = "tok_8f14e45fceea167a5a36dedd4bea2543"
LANGSMITH_KEY = "lsv2_test_key"
PROJECT = "refund-agent-tests"
NODES = {"understand", "lookup", "decide", "refund", "respond"}
PLACEHOLDERS = (
    tracing.EMAIL,
    tracing.ORDER_ID,
    tracing.WALLET,
    tracing.TX_HASH,
    tracing.SECRET,
)


def _reset_langsmith() -> None:
    """Forget what langsmith and this project cached about tracing."""
    tracing.shutdown(wait_seconds=5)
    ls_utils.get_env_var.cache_clear()
    ls_utils.get_tracer_project.cache_clear()


def _langsmith_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if "tracing_control_thread" in t.name or "_tracing_sub_thread" in t.name
    ]


@pytest.fixture
def langsmith_clean() -> Iterator[None]:
    """No tracing state in, none out; the client's background threads have ended."""
    _reset_langsmith()
    yield
    _reset_langsmith()
    for key in [k for k in os.environ if k.startswith(("LANGSMITH_", "LANGCHAIN_"))]:
        del os.environ[key]
    ls_utils.get_env_var.cache_clear()
    deadline = time.monotonic() + 5
    while _langsmith_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _langsmith_threads(), "langsmith background threads outlived the client"


@pytest.fixture
def capture(request: pytest.FixtureRequest) -> Iterator[CaptureServer]:
    """A stand-in LangSmith; it announces zstd compression unless parametrized "plain"."""
    with CaptureServer(zstd=getattr(request, "param", "zstd") == "zstd") as server:
        yield server


@pytest.fixture
def traced(capture: CaptureServer, langsmith_clean: None) -> CaptureServer:
    """Tracing on, pointed at the capture server."""
    os.environ["LANGSMITH_TRACING"] = "true"
    os.environ["LANGSMITH_ENDPOINT"] = capture.url
    os.environ["LANGSMITH_API_KEY"] = LANGSMITH_KEY
    os.environ["LANGSMITH_PROJECT"] = PROJECT
    return capture


def bodies(capture: CaptureServer) -> str:
    """Everything the client sent, decoded, as one lower-case text."""
    return "\n".join(r.body.decode("utf-8", "replace") for r in capture.requests()).lower()


def metadata_of(run: dict[str, Any]) -> dict[str, Any]:
    return dict((run.get("extra") or {}).get("metadata") or {})


# --- masking, no I/O ---------------------------------------------------------------------


def test_mask_pii_masks_every_string_at_any_depth() -> None:
    deep: Any = {"text": f"reach me at {EMAIL}"}
    for _ in range(30):
        deep = {"nested": [deep]}
    data = {
        "thread_id": "a1b2c3",
        "messages": [
            {"type": "human", "content": [{"type": "text", "text": f"{EMAIL} {ORDER}"}]},
            ("order #2001", f"to {PAYER}"),
        ],
        "headers": {"authorization": "Bearer abcdefghijkl", "x": f"Bearer {BEARER}"},
        "api_key": "short1",
        EMAIL: "email as a key",
        "deep": deep,
        "count": 3,
        "none": None,
    }
    masked = tracing.mask_pii(data)
    text = repr(masked)
    for raw in (EMAIL, ORDER, "2001", PAYER, BEARER, "abcdefghijkl", "short1"):
        assert raw not in text
    assert masked["thread_id"] == "a1b2c3"
    assert masked["messages"][0]["content"][0]["text"] == "[EMAIL] [ORDER_ID]"
    assert masked["messages"][1] == ("[ORDER_ID]", "to [WALLET]")
    assert masked["headers"] == {"authorization": "[SECRET]", "x": "Bearer [SECRET]"}
    assert masked["[EMAIL]"] == "email as a key"
    assert masked["count"] == 3 and masked["none"] is None
    assert data["messages"][0]["content"][0]["text"] == f"{EMAIL} {ORDER}"  # not mutated


def test_mask_text_keeps_ordinary_text() -> None:
    text = "Refund 20 USDC for my 3 orders of earbuds, a token of thanks, bearer of news"
    assert tracing.mask_text(text) == text
    tx = "0x" + "ab" * 32
    assert tracing.mask_text(f"tx {tx} to {PAYER}.") == "tx [TX_HASH] to [WALLET]."
    url = "postgresql://agent:hunter2@db.internal:5432/refunds"
    assert tracing.mask_text(url) == "postgresql://agent:[SECRET]@db.internal:5432/refunds"


def test_too_deep_nesting_fails_closed() -> None:
    deep: Any = EMAIL
    for _ in range(tracing.MAX_DEPTH + 5):
        deep = [deep]
    assert EMAIL not in repr(tracing.mask_pii(deep))


# --- tracing off ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "false"])
async def test_tracing_off_posts_nothing_and_builds_no_client(
    chat: Chat, settings: Settings, capture: CaptureServer, langsmith_clean: None, value: str | None
) -> None:
    if value is not None:
        os.environ["LANGSMITH_TRACING"] = value
    os.environ["LANGSMITH_ENDPOINT"] = capture.url
    os.environ["LANGSMITH_API_KEY"] = LANGSMITH_KEY
    thread = chat.new_thread()
    extra = tracing.trace_config(settings, thread_id=thread)
    assert extra == {}
    assert tracing.with_tracing({"configurable": {"thread_id": thread}}, settings) == {
        "configurable": {"thread_id": thread}
    }
    r = await chat.say(thread, f"refund 20 USDC on {ORDER}, I'm {EMAIL}", config_extra=extra)
    assert r["outcome"]["kind"] == "refunded"
    tracing.flush()
    assert tracing.active_client() is None
    assert getattr(ls_run_trees, "_CLIENT", None) is None
    assert capture.requests() == []


# --- tracing on ----------------------------------------------------------------------------


@pytest.mark.parametrize("capture", ["zstd", "plain"], indirect=True)
async def test_each_turn_is_one_masked_trace(
    chat: Chat, settings: Settings, traced: CaptureServer
) -> None:
    thread = chat.new_thread()
    r1 = await chat.say(
        thread,
        f"Hi, refund 20 USDC on {ORDER} please. I'm {EMAIL}",
        config_extra=tracing.trace_config(settings, thread_id=thread, channel="web", turn=1),
    )
    assert r1["outcome"]["kind"] == "refunded"
    tx = r1["outcome"]["tx_hash"]
    config2 = tracing.with_tracing({"configurable": {"thread_id": thread}}, settings, turn=2)
    r2 = await chat.say(
        thread,
        f"Thanks! My wallet is {PAYER}, my key {CUSTOMER_KEY}, "
        f"header Authorization: Bearer {BEARER}. Write to {EMAIL} about {ORDER}.",
        config_extra={k: v for k, v in config2.items() if k != "configurable"},
    )
    assert r2["reply"]
    await tracing.aflush()

    runs = list(traced.runs().values())
    assert runs, "no runs arrived"
    roots = [r for r in runs if not r.get("parent_run_id")]
    assert [r["name"] for r in roots] == [tracing.TRACE_RUN_NAME] * 2
    # one trace per turn, and nothing outside them (no second, unmasked tracer)
    assert {r["trace_id"] for r in runs} == {r["id"] for r in roots}
    assert all(r.get("session_name") == PROJECT for r in roots)
    first, second = sorted(roots, key=lambda r: metadata_of(r)["turn"])
    assert metadata_of(first)["thread_id"] == thread
    assert metadata_of(first)["channel"] == "web" and metadata_of(first)["turn"] == 1
    assert metadata_of(second)["thread_id"] == thread and metadata_of(second)["turn"] == 2
    first_names = {r["name"] for r in runs if r["trace_id"] == first["id"]}
    assert first_names >= NODES
    for run in runs:
        assert run.get("end_time"), f"run {run['name']} never finished"

    sent = bodies(traced)
    for raw in (EMAIL, ORDER, PAYER, tx, CUSTOMER_KEY, BEARER, LANGSMITH_KEY, "sk_sandbox_local"):
        assert raw.lower() not in sent, f"{raw} left the process"
    for placeholder in PLACEHOLDERS:
        assert placeholder.lower() in sent
    assert thread in sent
    # the customer's words arrived, masked, inside the message objects of the state
    assert "i'm [email]" in sent


async def test_langchains_own_env_tracer_uses_the_masking_client(
    settings: Settings, traced: CaptureServer
) -> None:
    assert tracing.install(settings)
    assert getattr(ls_run_trees, "_CLIENT", None) is tracing.active_client()

    def reply(messages: list[HumanMessage]) -> AIMessage:
        return AIMessage(content=f"Refunded {ORDER} for {EMAIL} to {PAYER}")

    chain = RunnableLambda(reply).with_config(run_name="stray-chain")
    question = HumanMessage(content=[{"type": "text", "text": f"I'm {EMAIL}, {ORDER}"}])
    await chain.ainvoke([question])  # no callbacks: LangChain adds its env tracer
    await tracing.aflush()

    [run] = traced.runs().values()
    assert run["name"] == "stray-chain"
    sent = bodies(traced)
    for raw in (EMAIL, ORDER, PAYER):
        assert raw.lower() not in sent
    assert "[email]" in sent and "[order_id]" in sent and "[wallet]" in sent


async def test_a_failing_anonymizer_sends_nothing_and_the_turn_goes_on(
    chat: Chat, settings: Settings, traced: CaptureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("masking broke")

    monkeypatch.setattr(tracing, "mask_text", broken)
    thread = chat.new_thread()
    r = await chat.say(
        thread,
        f"refund 20 USDC on {ORDER}, I'm {EMAIL}",
        config_extra=tracing.trace_config(settings, thread_id=thread),
    )
    assert r["outcome"]["kind"] == "refunded"
    await tracing.aflush()
    assert traced.run_events() == []
    assert EMAIL not in bodies(traced)


async def test_a_client_that_cannot_be_built_switches_tracing_off(
    chat: Chat, settings: Settings, traced: CaptureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_client(**kwargs: Any) -> Any:
        raise RuntimeError("no client today")

    monkeypatch.setattr(tracing, "Client", no_client)
    thread = chat.new_thread()
    assert tracing.trace_config(settings, thread_id=thread) == {}
    assert not ls_utils.tracing_is_enabled()  # LangChain's env tracer is off too
    r = await chat.say(thread, f"refund 20 USDC on {ORDER}, I'm {EMAIL}")
    assert r["outcome"]["kind"] == "refunded"
    # LangChain's tracer runs inline, so a client would exist by now; flushing any default
    # client there is makes the "nothing was sent" below mean it (no guessed sleep).
    await asyncio.to_thread(wait_for_all_tracers)
    assert getattr(ls_run_trees, "_CLIENT", None) is None  # no unmasked default client
    assert traced.requests() == []
    tracing.shutdown()
    assert ls_utils.tracing_is_enabled()  # shutdown undoes the switch


async def test_pii_kept_when_masking_is_switched_off(chat: Chat, traced: CaptureServer) -> None:
    plain = Settings(_env_file=None, trace_hide_pii=False)  # type: ignore[call-arg]
    thread = chat.new_thread()
    await chat.say(
        thread,
        f"refund 20 USDC on {ORDER}, I'm {EMAIL}",
        config_extra=tracing.trace_config(plain, thread_id=thread),
    )
    await tracing.aflush()
    assert EMAIL in bodies(traced)
