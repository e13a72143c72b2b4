"""Does the configured LLM work? One cheap call, a short timeout, an honest answer.

A wrong ``OPENAI_API_KEY`` or an unreachable ``OPENAI_BASE_URL`` does not stop the
agent (every failed model call falls back to the offline rules), but each message then
waits for the model's timeout first. :func:`check_llm` finds that out once, up front:
``refund-agent config --check`` reports it, ``chat`` and ``demo`` warn and run on the
rules, and the HTTP service's health check can expose it.

The call is a chat completion of one token (``max_completion_tokens: 1``) to
``{OPENAI_BASE_URL or https://api.openai.com/v1}/chat/completions`` with
``OPENAI_MODEL``: it proves the endpoint answers, accepts the key and knows the model.
The key never appears in a message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

import httpx

from core.settings import Settings

__all__ = ["DEFAULT_OPENAI_BASE_URL", "LLMState", "LLMStatus", "check_llm", "settings_that_work"]

logger = logging.getLogger(__name__)

DEFAULT_OPENAI_BASE_URL: Final = "https://api.openai.com/v1"
CHECK_TIMEOUT_SECONDS: Final = 5.0

LLMState = Literal["off", "ok", "unreachable", "unauthorized", "error"]


@dataclass(frozen=True, slots=True)
class LLMStatus:
    """The answer of :func:`check_llm`.

    ``state`` is one of:

    ==============  ======================================================================
    ``off``         no ``OPENAI_API_KEY``: messages are understood by the offline rules
    ``ok``          the endpoint answered a completion with this key and model
    ``unreachable`` no connection, or no answer within the timeout
    ``unauthorized`` the endpoint refused the key (HTTP 401 or 403)
    ``error``       anything else: unknown model (404), quota or rate limit (429), a
                    server error, or an answer that is not OpenAI-shaped
    ==============  ======================================================================
    """

    state: LLMState
    message: str
    """One line for a person: what was tried and what happened."""
    model: str | None = None
    base_url: str | None = None

    @property
    def configured(self) -> bool:
        """True when an LLM is configured (whether or not it works)."""
        return self.state != "off"

    @property
    def usable(self) -> bool:
        """True when the configured LLM answered."""
        return self.state == "ok"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (for ``--json`` and health checks)."""
        return {
            "state": self.state,
            "message": self.message,
            "model": self.model,
            "base_url": self.base_url,
        }


async def check_llm(
    settings: Settings,
    *,
    deadline_seconds: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> LLMStatus:
    """Make one cheap call to the configured LLM and say whether it works.

    Never raises for the endpoint's sake: every failure is a state with a message.

    Args:
        settings: Where ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` and ``OPENAI_MODEL``
            come from.
        deadline_seconds: Overall limit (default: 5 seconds, or
            ``OPENAI_TIMEOUT_SECONDS`` when that is shorter).
        transport: An httpx transport (tests).
    """
    if settings.openai_api_key is None:
        return LLMStatus("off", "no OPENAI_API_KEY: messages are understood by the offline rules")
    key = settings.openai_api_key.get_secret_value()
    base_url = (settings.openai_base_url or DEFAULT_OPENAI_BASE_URL).rstrip("/")
    model = settings.openai_model
    limit = (
        deadline_seconds
        if deadline_seconds is not None
        else min(CHECK_TIMEOUT_SECONDS, settings.openai_timeout_seconds)
    )
    url = f"{base_url}/chat/completions"
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Reply with OK."}],
        "max_completion_tokens": 1,
        "temperature": 0,
    }

    def status(state: LLMState, message: str) -> LLMStatus:
        return LLMStatus(state, message.replace(key, "****"), model=model, base_url=base_url)

    started = time.monotonic()
    try:
        async with (
            httpx.AsyncClient(timeout=limit, transport=transport) as client,
            asyncio.timeout(limit),
        ):
            response = await client.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
    except TimeoutError:
        return status("unreachable", f"no answer from {url} within {limit:g}s")
    except httpx.TimeoutException:
        return status("unreachable", f"no answer from {url} within {limit:g}s")
    except httpx.TransportError as exc:
        return status("unreachable", f"cannot reach {url}: {_describe(exc)}")
    elapsed_ms = (time.monotonic() - started) * 1000
    detail = _error_detail(response)
    code = response.status_code
    if code in (401, 403):
        return status(
            "unauthorized",
            f"{url} refused OPENAI_API_KEY (HTTP {code}){': ' + detail if detail else ''}",
        )
    if code == 404:
        return status(
            "error",
            f"HTTP 404 from {url}{': ' + detail if detail else ''} "
            "(check OPENAI_MODEL and OPENAI_BASE_URL, which usually ends in /v1)",
        )
    if not response.is_success:
        return status("error", f"HTTP {code} from {url}{': ' + detail if detail else ''}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        return status("error", f"{url} answered, but not like an OpenAI-compatible endpoint")
    return status("ok", f"model {model} answered at {base_url} in {elapsed_ms:.0f} ms")


async def settings_that_work(
    settings: Settings, *, logger: logging.Logger = logger
) -> tuple[Settings, LLMStatus]:
    """Check the LLM once at start-up; on the offline rules from the start if it fails.

    A broken key or endpoint would make every message wait for the model's timeout
    before the rules answer: instead one warning says why, and the returned settings
    have no ``OPENAI_API_KEY``. Used by ``serve`` and by the graph ``langgraph dev``
    serves (``chat`` prints its own warning).
    """
    status = await check_llm(settings)
    if status.configured and not status.usable:
        logger.warning(
            "the LLM does not work (%s: %s); using the offline rules. "
            "refund-agent config --check tells more",
            status.state,
            status.message,
        )
        return settings.model_copy(update={"openai_api_key": None}), status
    if status.usable:
        logger.info("LLM: %s", status.message)
    return settings, status


def _error_detail(response: httpx.Response) -> str:
    """The error message of an OpenAI-style error body, else a short piece of the text."""
    if response.is_success:
        return ""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:200]
        if isinstance(error, str):
            return error[:200]
        if data.get("message"):
            return str(data["message"])[:200]
    return ""


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
