"""Counting language-model calls and tokens with a LangChain callback handler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult


@dataclass(slots=True)
class Usage:
    """Model calls and tokens."""

    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def add(self, other: Usage) -> None:
        """Add ``other`` into this one."""
        self.calls += other.calls
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.total_tokens += other.total_tokens

    def as_dict(self) -> dict[str, int]:
        """JSON-able counts."""
        return {
            "calls": self.calls,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }


class UsageCounter(BaseCallbackHandler):
    """Counts every chat-model call of a run and the tokens it reports.

    Pass it in a run's ``config={"callbacks": [counter]}``; LangChain hands it down to
    every model call made inside the graph's nodes (understanding and phrasing).
    Tokens come from the ``usage_metadata`` of the returned ``AIMessage`` (or the
    provider's ``token_usage`` when a model sets no usage metadata).
    """

    run_inline = True
    """Called in the event loop's thread, not a worker thread: counts need no lock."""

    def __init__(self) -> None:
        super().__init__()
        self.usage = Usage()

    def on_llm_end(
        self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None, **_: Any
    ) -> None:
        """Count one finished call and its tokens."""
        self.usage.calls += 1
        found = False
        for generations in response.generations:
            for generation in generations:
                message = generation.message if isinstance(generation, ChatGeneration) else None
                if isinstance(message, AIMessage) and message.usage_metadata:
                    meta = message.usage_metadata
                    self.usage.input_tokens += meta.get("input_tokens", 0)
                    self.usage.output_tokens += meta.get("output_tokens", 0)
                    self.usage.total_tokens += meta.get("total_tokens", 0)
                    found = True
        if not found:
            token_usage = (response.llm_output or {}).get("token_usage") or {}
            self.usage.input_tokens += int(token_usage.get("prompt_tokens", 0) or 0)
            self.usage.output_tokens += int(token_usage.get("completion_tokens", 0) or 0)
            self.usage.total_tokens += int(token_usage.get("total_tokens", 0) or 0)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **_: Any,
    ) -> None:
        """Count a failed call (its tokens are unknown)."""
        self.usage.calls += 1
        self.usage.errors += 1
