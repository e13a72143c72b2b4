"""Pytest fixtures for the MoltPe sandbox, importable from any conftest or test module.

``sandbox_server`` starts one in-memory sandbox per test session (one per xdist
worker); ``sandbox`` hands it to a test after a reset, so every test starts with no
wallets, payments, refunds, idempotency keys, faults or recorded requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from moltpe_sandbox import SandboxServer, start_sandbox

PAYER = "0x" + "ab" * 20
"""A payer address for registered payments."""


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One running sandbox for the whole session."""
    with start_sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The session's sandbox, reset to empty for this test."""
    sandbox_server.reset()
    return sandbox_server


def make_agent(
    server: SandboxServer,
    *,
    per_tx_cap: Decimal = Decimal("50"),
    daily_cap: Decimal = Decimal("100"),
    network: str = "polygon",
) -> str:
    """Create a refund agent with the guide's policy (50 per refund, 100 a day)."""
    return server.create_agent(network=network, per_tx_cap=per_tx_cap, daily_cap=daily_cap)
