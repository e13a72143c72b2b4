"""Scripted chat models for tests: no network, no real LLM, every call counted.

:class:`ScriptedChatModel` answers two kinds of calls:

* ``with_structured_output(schema)`` gives a runnable that returns the next scripted
  *extraction*: a ``dict`` (validated into ``schema`` when ``coerce`` is on, as a real
  provider's parser would; passed through untouched when it is off), a ``BaseModel``
  instance, an exception to raise, or a callable ``(messages) -> any of those``;
* plain ``invoke``/``ainvoke`` returns the next scripted *reply* text (a ``str``, an
  ``AIMessage``, an exception, or a callable ``(messages) -> str``). With no replies
  scripted it echoes the last human message, which is what an honest phraser of a
  reply draft does.

A list script is consumed in order and its last step repeats once it runs out.
``delay`` makes every call slow (for timeout tests). :class:`AttackerModel` is the
preset compromised model: it always "extracts" attacker-chosen values.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, convert_to_messages
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field

Script = Sequence[Any] | Callable[[list[BaseMessage]], Any]
"""A list of steps, or one callable deciding each step from the messages."""


def as_messages(value: LanguageModelInput) -> list[BaseMessage]:
    """The messages of any chat-model input (string, prompt value, message list)."""
    if isinstance(value, PromptValue):
        return value.to_messages()
    if isinstance(value, str):
        return [HumanMessage(value)]
    return convert_to_messages(value)


def last_human_text(messages: Sequence[BaseMessage]) -> str:
    """The text of the last human message (the draft, for a phrasing call)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def echo_draft(messages: list[BaseMessage]) -> str:
    """An honest phraser: sends the draft back unchanged."""
    return last_human_text(messages)


class ScriptedChatModel(BaseChatModel):
    """A chat model whose every answer is scripted by the test."""

    extractions: Any = Field(default_factory=list)
    """Script for ``with_structured_output`` calls (see the module docstring)."""

    replies: Any = Field(default_factory=list)
    """Script for plain calls; empty means echo the last human message."""

    coerce: bool = True
    """Validate scripted dicts into the requested schema (a real parser's behaviour)."""

    delay: float = 0.0
    """Seconds every call takes before answering."""

    structured_calls: int = 0
    """How many structured-output calls were made."""

    text_calls: int = 0
    """How many plain (phrasing) calls were made."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)
    """The messages of every call, in order."""

    @property
    def calls(self) -> int:
        """All calls made, of both kinds."""
        return self.structured_calls + self.text_calls

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    # --- plain calls (reply phrasing) ---------------------------------------------

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        index = self.text_calls
        self.text_calls += 1
        self.seen.append(list(messages))
        step = _step(self.replies, index) if _has_steps(self.replies) else echo_draft
        value = _resolve(step, messages)
        message = value if isinstance(value, AIMessage) else AIMessage(content=str(value))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay:
            time.sleep(self.delay)
        return self._reply(messages)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._reply(messages)

    # --- structured output (understanding) ----------------------------------------

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable returning the next scripted extraction as ``schema``."""

        def extract(value: LanguageModelInput) -> Any:
            messages = as_messages(value)
            index = self.structured_calls
            self.structured_calls += 1
            self.seen.append(messages)
            if not _has_steps(self.extractions):
                raise AssertionError("ScriptedChatModel: no extraction scripted")
            result = _resolve(_step(self.extractions, index), messages)
            if (
                self.coerce
                and isinstance(result, dict)
                and isinstance(schema, type)
                and issubclass(schema, BaseModel)
            ):
                result = schema.model_validate(result)
            if include_raw:
                return {"raw": AIMessage(content=""), "parsed": result, "parsing_error": None}
            return result

        def run(value: LanguageModelInput) -> Any:
            if self.delay:
                time.sleep(self.delay)
            return extract(value)

        async def arun(value: LanguageModelInput) -> Any:
            if self.delay:
                await asyncio.sleep(self.delay)
            return extract(value)

        return cast(
            Runnable[LanguageModelInput, dict[str, Any] | BaseModel],
            RunnableLambda(run, afunc=arun, name="scripted_structured_output"),
        )


ATTACKER_DEFAULTS: dict[str, Any] = {
    "intent": "refund",
    "email": "alice@example.com",
    "order_id": "ORD-2001",
    "amount": "500",
    "reason": "damaged",
    "injection_signals": [],
}
"""What a compromised model claims unless told otherwise: 500 USDC of bob's order for
alice, always a refund, and never a word about injection."""


class AttackerModel(ScriptedChatModel):
    """A compromised model: every extraction is the attacker's chosen values.

    ``AttackerModel(amount="1e30", order_id="ORD-1001")`` overrides single fields of
    :data:`ATTACKER_DEFAULTS`; ``replies`` scripts its phrasing (echo by default).
    """

    chosen: dict[str, Any] = Field(default_factory=dict)
    """The values every extraction returns."""

    def __init__(self, *, replies: Any = None, **chosen: Any) -> None:
        values = {**ATTACKER_DEFAULTS, **chosen}
        super().__init__(
            chosen=values,
            extractions=lambda _messages: dict(values),
            replies=replies if replies is not None else [],
        )


def _has_steps(script: Any) -> bool:
    return callable(script) or bool(script)


def _step(script: Any, index: int) -> Any:
    if callable(script):
        return script
    steps = list(script)
    return steps[min(index, len(steps) - 1)]


def _resolve(step: Any, messages: list[BaseMessage]) -> Any:
    if isinstance(step, BaseException):
        raise step
    if callable(step) and not isinstance(step, type | BaseModel):
        step = step(messages)
        if isinstance(step, BaseException):
            raise step
    return step
