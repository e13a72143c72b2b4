"""``langgraph dev`` serves the graph from langgraph.json; a conversation runs over its API."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from persistence import repo
from persistence.runtime import Storage

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def dev_server(db_url: str, seeded: Storage, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    log = (tmp_path / "langgraph-dev.log").open("w")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOLTPE_", "OPENAI_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(DATABASE_URL=db_url, LANGSMITH_TRACING="false", LANGGRAPH_CLI_NO_ANALYTICS="1")
    proc = subprocess.Popen(  # noqa: ASYNC220  (starting it is instant; waiting is async)
        [
            "uv",
            "run",
            "--no-sync",
            "langgraph",
            "dev",
            "--no-browser",
            "--no-reload",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(240):
                if proc.poll() is not None:
                    break
                try:
                    if (await http.get(f"{url}/ok", timeout=1)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
            else:
                pytest.fail("langgraph dev did not start within 60 s")
        if proc.poll() is not None:
            pytest.fail("langgraph dev exited:\n" + (tmp_path / "langgraph-dev.log").read_text())
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait)
        log.close()


async def test_a_conversation_runs_through_langgraph_dev(dev_server: str, seeded: Storage) -> None:
    async with get_client(url=dev_server) as client:
        await converse(client, seeded)


async def converse(client: LangGraphClient, seeded: Storage) -> None:
    thread = await client.threads.create()
    first = await client.runs.wait(
        thread["thread_id"],
        "refund_agent",
        input={"messages": [{"role": "user", "content": "I'd like 20 USDC back on ORD-1001"}]},
    )
    assert isinstance(first, dict)
    assert first["outcome"] == {"kind": "asked", "for": ["email"]}
    second = await client.runs.wait(
        thread["thread_id"],
        "refund_agent",
        input={"messages": [{"role": "user", "content": "it's alice@example.com"}]},
    )
    assert isinstance(second, dict)
    assert second["outcome"]["kind"] == "refunded"
    assert second["outcome"]["tx_hash"] in second["reply"]
    async with seeded.pool.connection() as conn:
        [refund] = [r for r in await repo.list_refunds(conn) if r.order_id == "ORD-1001"]
    assert refund.status == "confirmed" and refund.thread_id == thread["thread_id"]
    # The server's own checkpointer kept the conversation.
    state = await client.threads.get_state(thread["thread_id"])
    assert len(state["values"]["messages"]) == 4
