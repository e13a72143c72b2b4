"""What the nodes act through: storage, refunds, understanding, shared by a process.

This module only describes the services; building them (opening the pool, starting
the sandbox, creating the chat model, installing tracing) is the job of
:mod:`wiring.services`, which sits above every other package.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel

from core.limits import Limits
from core.settings import Settings
from graph.understanding import Understander
from persistence.runtime import Storage
from tools.moltpe import MoltPeClient
from tools.order_source import OrderSource
from tools.refunds import RefundService


@dataclass(slots=True)
class Services:
    """Everything the graph's nodes need, shared by all conversations of a process."""

    settings: Settings
    storage: Storage
    moltpe: MoltPeClient
    refunds: RefundService
    understander: Understander
    limits: Limits
    agent_id: str
    phraser: BaseChatModel | None = None
    """A chat model that may reword replies (never their facts); None: templates only."""
    sandbox: Any | None = None
    """The local MoltPe sandbox these services started or were given, if any."""
    order_source: OrderSource | None = None
    """Where the lookup finds orders missing from the agent's table (ORDERS_SOURCE_QUERY)."""
    resources: AsyncExitStack = field(default_factory=AsyncExitStack)
    """What was opened for these services (not what the caller passed in), closed by
    :meth:`aclose` newest first."""

    async def aclose(self) -> None:
        """Release what was opened for these services."""
        await self.resources.aclose()
