"""What the app shares between requests, kept on ``app.state`` for the routes to reach."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from langgraph.graph.state import CompiledStateGraph

from core.settings import Settings
from graph.services import Services
from server.leases import Leases
from server.metrics import Metrics
from wiring.llm_check import LLMStatus


@dataclass
class ServerRuntime:
    """What the app shares between requests."""

    settings: Settings
    services: Services
    agent: CompiledStateGraph[Any, Any, Any, Any]
    metrics: Metrics
    leases: Leases
    llm: LLMStatus | None = None
    """What the LLM check at start-up found (None: not checked, e.g. services given)."""
    hits: int = 0
    """Rate-limited requests counted by this process (old windows are pruned now and then)."""
    background: set[asyncio.Task[None]] = field(default_factory=set)
    """Turns still running after their client went away."""


def runtime_of(request: Request) -> ServerRuntime:
    """The app's shared runtime (a dependency of the routes)."""
    runtime: ServerRuntime = request.app.state.runtime
    return runtime


async def current_runtime(request: Request) -> ServerRuntime:
    """:func:`runtime_of` as an async dependency (a sync one would hop to a thread)."""
    return runtime_of(request)
