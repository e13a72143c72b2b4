"""A local OpenAI-compatible chat-completions server for tests (no network, no real LLM).

``POST /v1/chat/completions`` answers the two kinds of calls the agent makes through
langchain-openai's ``ChatOpenAI``:

* structured output: ``with_structured_output(LLMExtraction)`` defaults to
  ``method="json_schema"``; langchain-openai sends the pydantic class as
  ``response_format`` to the OpenAI SDK's ``chat.completions.parse``, which posts
  ``response_format={"type": "json_schema", "json_schema": {"name", "schema",
  "strict"}}`` and parses the message *content* as JSON. The stub answers with the
  JSON of ``extract(messages, schema)``. (``tools`` with a forced ``tool_choice`` — the
  ``function_calling`` method — is answered with a tool call carrying the same JSON.)
* plain chat (reply phrasing): the text of ``reply(messages)``; by default the last
  user message back, which is what an honest phraser of a draft does.

Every answer carries ``usage`` token counts (about four characters a token), so
callers can check tokens are counted. The default ``extract`` is a decent model:
the offline rules' reading of the customer message found between ``<<<`` and ``>>>``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.serving import ServerThread
from graph.understanding import understand_with_rules

Messages = list[dict[str, Any]]
Extract = Callable[[Messages, dict[str, Any]], dict[str, Any]]
Reply = Callable[[Messages], str]


def message_text(message: dict[str, Any]) -> str:
    """The text of an OpenAI chat message (string or content parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages: Messages) -> str:
    """The last user message's text."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def customer_message(messages: Messages) -> str:
    """The customer's words inside the understanding prompt (between ``<<<`` and ``>>>``)."""
    text = last_user_text(messages)
    start, end = text.find("<<<\n"), text.rfind("\n>>>")
    return text[start + 4 : end] if start != -1 and end > start else text


def rules_extract(messages: Messages, schema: dict[str, Any]) -> dict[str, Any]:
    """A decent model's extraction: the offline rules' reading of the customer message."""
    understood = understand_with_rules(customer_message(messages))
    return {
        "intent": understood.intent,
        "email": understood.email,
        "order_id": understood.order_id,
        "amount": str(understood.amount) if understood.amount is not None else None,
        "reason": understood.reason,
        "injection_signals": list(understood.injection_signals),
    }


def echo_reply(messages: Messages) -> str:
    """An honest phraser: the draft (last user message) unchanged."""
    return last_user_text(messages)


def tokens(text: str) -> int:
    """A rough token count."""
    return max(1, len(text) // 4)


class OpenAIStub:
    """A running stub. Use :func:`start_openai_stub` (or ``with``).

    Attributes:
        url: Root URL, e.g. ``http://127.0.0.1:54321``.
        base_url: What ``OPENAI_BASE_URL`` should be (``url + "/v1"``).
        requests: Every request body received, in order.
        usage: Tokens reported so far: ``prompt_tokens``, ``completion_tokens``.
    """

    def __init__(
        self,
        *,
        extract: Extract = rules_extract,
        reply: Reply = echo_reply,
        host: str = "127.0.0.1",
        api_key: str | None = None,
    ) -> None:
        self.api_key = api_key
        """When set, requests without ``Authorization: Bearer <api_key>`` get a 401."""
        self.requests: list[dict[str, Any]] = []
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self._runner = ServerThread(
            create_app(self, extract, reply),
            host=host,
            lifespan="off",
            name="openai-stub",
            graceful_seconds=1,
        )
        self.url = self._runner.url
        self.base_url = self.url + "/v1"

    @property
    def calls(self) -> int:
        """Completions answered."""
        return len(self.requests)

    def start(self) -> Self:
        """Start serving (unless it already is); return once it accepts connections."""
        if not self._runner.running:
            self._runner.start(10)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        self._runner.stop(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def create_app(stub: OpenAIStub, extract: Extract, reply: Reply) -> FastAPI:
    """The stub's FastAPI app, recording into ``stub``."""
    app = FastAPI()
    ids = itertools.count(1)

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> JSONResponse:
        if stub.api_key is not None and request.headers.get("authorization") != (
            f"Bearer {stub.api_key}"
        ):
            error = {"message": "Incorrect API key provided.", "code": "invalid_api_key"}
            return JSONResponse({"error": error}, status_code=401)
        body: dict[str, Any] = await request.json()
        stub.requests.append(body)
        messages: Messages = body.get("messages") or []
        response_format = body.get("response_format") or {}
        tools = body.get("tools") or []
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        if response_format.get("type") == "json_schema":
            schema = response_format.get("json_schema") or {}
            message["content"] = json.dumps(extract(messages, schema.get("schema") or {}))
        elif response_format.get("type") == "json_object":
            message["content"] = json.dumps(extract(messages, {}))
        elif tools and body.get("tool_choice"):
            function = tools[0]["function"]
            arguments = json.dumps(extract(messages, function.get("parameters") or {}))
            message["tool_calls"] = [
                {
                    "id": f"call_{next(ids)}",
                    "type": "function",
                    "function": {"name": function["name"], "arguments": arguments},
                }
            ]
            finish = "tool_calls"
        else:
            message["content"] = reply(messages)
        prompt = tokens(json.dumps(messages))
        completion = tokens(json.dumps(message))
        stub.usage["prompt_tokens"] += prompt
        stub.usage["completion_tokens"] += completion
        return JSONResponse(
            {
                "id": f"chatcmpl-stub-{next(ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "stub"),
                "choices": [
                    {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    return app


async def close_chat_model(model: Any) -> None:
    """Close a ``ChatOpenAI``'s HTTP clients and drop langchain-openai's cached ones.

    ``ChatOpenAI`` shares one cached httpx client per base URL and timeout for the whole
    process; left open, its sockets to a stopped stub are reported unclosed at exit.
    """
    client = getattr(model, "root_async_client", None)
    if client is not None:
        await client.close()
    sync_client = getattr(model, "root_client", None)
    if sync_client is not None:
        sync_client.close()
    from langchain_openai.chat_models import _client_utils

    _client_utils._cached_async_httpx_client.cache_clear()
    _client_utils._cached_sync_httpx_client.cache_clear()


def start_openai_stub(
    *,
    extract: Extract = rules_extract,
    reply: Reply = echo_reply,
    host: str = "127.0.0.1",
    api_key: str | None = None,
) -> OpenAIStub:
    """Start the stub in a background thread on a free port; stop it with ``.stop()``."""
    return OpenAIStub(extract=extract, reply=reply, host=host, api_key=api_key).start()
