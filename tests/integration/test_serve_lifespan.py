"""serve's start-up and shutdown: what it starts, it stops, in reverse order."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

import server.app
from graph.services import Services
from server.app import create_app
from tests.e2e.server_fixtures import live_settings
from tests.integration.moltpe_fixtures import SandboxServer


def settings_for(db_url: str, sandbox: SandboxServer, **extra: Any) -> Any:
    agent_id = sandbox.create_agent(per_tx_cap=Decimal("50"), daily_cap=Decimal("100"))
    return live_settings(db_url, sandbox, agent_id, **extra)


async def test_a_failed_start_up_closes_what_it_had_opened(
    db_url: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Services] = []
    real = server.app.create_services

    async def spy(settings: Any) -> Services:
        services = await real(settings)
        opened.append(services)
        return services

    async def broken(pool: Any) -> Any:
        raise RuntimeError("the checkpointer could not start")

    monkeypatch.setattr(server.app, "create_services", spy)
    monkeypatch.setattr(server.app, "open_checkpointer", broken)
    app = create_app(settings=settings_for(db_url, sandbox))
    with pytest.raises(RuntimeError, match="checkpointer could not start"):
        async with app.router.lifespan_context(app):
            pass
    [services] = opened
    assert services.storage.pool.closed


async def test_shutdown_stops_the_background_loops_and_the_pool(
    db_url: str, sandbox: SandboxServer, tmp_path: Any
) -> None:
    settings = settings_for(
        db_url,
        sandbox,
        reconcile_interval_seconds=0.05,
        audit_log_file=str(tmp_path / "audit.jsonl"),
    )
    app = create_app(settings=settings)
    async with app.router.lifespan_context(app):
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert {"reconciler", "audit-chain"} <= names
        pool = app.state.runtime.services.storage.pool
    names = {task.get_name() for task in asyncio.all_tasks() if not task.done()}
    assert not {"reconciler", "audit-chain"} & names
    assert pool.closed
