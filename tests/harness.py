"""Drive conversations through the compiled graph in tests."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from graph.context import Context
from graph.graph import build_builder
from graph.services import Services


class Chat:
    """Send customer messages to the agent and read its replies and outcomes."""

    def __init__(
        self,
        services: Services,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
    ) -> None:
        self.services = services

        self.graph = build_builder(services).compile(checkpointer=checkpointer or InMemorySaver())

    def new_thread(self) -> str:
        return uuid.uuid4().hex

    async def say(
        self,
        thread: str,
        text: str,
        *,
        customer_email: str | None = None,
        config_extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        config: Any = {"configurable": {"thread_id": thread}, **(config_extra or {})}
        result: dict[str, Any] = await self.graph.ainvoke(
            {"messages": [{"role": "user", "content": text}]},
            config,
            context=Context(customer_email=customer_email),
            durability="exit",
        )
        return result

    async def state(self, thread: str) -> dict[str, Any]:
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread}})
        return dict(snapshot.values)


def with_model(services: Services, model: BaseChatModel) -> Services:
    """A copy of ``services`` that understands (and phrases) with ``model``.

    The model is asked about every message, even one the rules read fully: these tests
    are about what a model (honest or lying) can do with each message.
    """
    from dataclasses import replace

    from graph.understanding import LLMUnderstander

    return replace(
        services,
        understander=LLMUnderstander(model, 5.0, every_message=True),
        phraser=model,
        resources=AsyncExitStack(),
    )
