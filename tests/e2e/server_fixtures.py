"""A live HTTP service on a real socket: seeded throwaway database, fresh sandbox wallet."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from core.settings import Settings
from moltpe_sandbox import SandboxServer
from persistence.runtime import open_storage
from persistence.seed import apply_seed, load_seed_file
from server.app import create_app
from server.runner import ServerThread

REVIEWER_TOKEN = "review-token"
REVIEWER = "dana"


@dataclass
class LiveServer:
    """A running service and what it runs on."""

    url: str
    settings: Settings
    sandbox: SandboxServer
    agent_id: str
    db_url: str


def seed_database(db_url: str, settings: Settings) -> None:
    async def work() -> None:
        storage = await open_storage(settings, url=db_url)
        try:
            async with storage.pool.connection() as conn:
                await apply_seed(conn, load_seed_file())
        finally:
            await storage.close()

    asyncio.run(work())


def live_settings(db_url: str, sandbox: SandboxServer, agent_id: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "moltpe_base_url": sandbox.url,
        "moltpe_api_key": sandbox.api_key,
        "moltpe_agent_id": agent_id,
        "moltpe_max_retries": 1,
        "reviewer_tokens": f"{REVIEWER}:{REVIEWER_TOKEN}",
        "db_pool_max_size": 5,
        "body_read_seconds": 2.0,  # the slow-body test waits this long
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def start_live_server(
    db_url: str, sandbox: SandboxServer, **extra: Any
) -> tuple[ServerThread, LiveServer]:
    agent_id = sandbox.create_agent(per_tx_cap=Decimal("50"), daily_cap=Decimal("100"))
    for order in load_seed_file().orders:
        sandbox.register_payment(order.payment_id, order.payer_address, order.amount_usdc)
    settings = live_settings(db_url, sandbox, agent_id, **extra)
    seed_database(db_url, settings)
    thread = ServerThread(create_app(settings=settings)).start()
    return thread, LiveServer(thread.url, settings, sandbox, agent_id, db_url)


@pytest.fixture
def live_server(db_url: str, sandbox: SandboxServer) -> Iterator[LiveServer]:
    """The HTTP service with reviewer token ``dana:review-token`` and default limits."""
    thread, live = start_live_server(db_url, sandbox)
    try:
        yield live
    finally:
        thread.stop()
