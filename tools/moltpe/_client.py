"""The async MoltPe client: auth, timeouts, an overall deadline, retries, typed errors.

One :class:`MoltPeClient` holds one ``httpx.AsyncClient`` (one connection pool);
share it across tasks and close it with ``aclose()`` or ``async with``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from core.money import InvalidAmount, format_usdc, parse_usdc
from tools.moltpe._exceptions import (
    AgentNotFound,
    APIError,
    BadRequest,
    Conflict,
    InsufficientFunds,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    PaymentNotFound,
    PolicyViolation,
    Unauthorized,
    Unavailable,
    error_body_fields,
)
from tools.moltpe._models import AgentWallet, RefundReceipt, SpendingPolicy

if TYPE_CHECKING:
    from types import TracebackType

    from core.settings import Settings

__all__ = ["MoltPeClient"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

USER_AGENT: Final = "support-refund-agent/0.1 (+moltpe-python)"
HEALTH_PATH: Final = "/v1/health"
MAX_KEY_LENGTH: Final = 255

# Errors raised before the request could have been sent: nothing reached MoltPe.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_BY_CODE: Final[dict[str, type[APIError]]] = {
    "BAD_REQUEST": BadRequest,
    "UNAUTHORIZED": Unauthorized,
    "POLICY_VIOLATION": PolicyViolation,
    "INSUFFICIENT_FUNDS": InsufficientFunds,
    "PAYMENT_NOT_FOUND": PaymentNotFound,
    "AGENT_NOT_FOUND": AgentNotFound,
    "IDEMPOTENCY_CONFLICT": Conflict,
}
_BY_STATUS: Final[dict[int, type[APIError]]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
}


class MoltPeClient:
    """Async client of the MoltPe agent-wallet API.

    Every call is bounded by an overall ``deadline`` (seconds, retries and backoff
    included), enforced with ``asyncio.timeout`` around the whole call, because
    httpx's read timeout is per chunk and a server that drips bytes never trips it.
    Attempts are retried, with the same idempotency key, only on connection
    errors, timeouts, 5xx and 429 (honouring ``Retry-After``, capped); other 4xx
    answers are final and raise a subclass of :class:`~tools.moltpe.APIError`.

    Args:
        base_url: MoltPe's root URL, e.g. ``https://api.moltpe.com``.
        api_key: The bearer key.
        timeout: Seconds allowed for each phase of one attempt (connect, read of
            one chunk, write, wait for a pooled connection).
        deadline: Seconds allowed for a whole call, retries included.
        max_retries: Retries after the first attempt (0 disables retrying).
        transport: An httpx transport to use instead of the network (tests).
        backoff_base: First backoff step in seconds; doubles per retry.
        backoff_cap: Longest backoff step in seconds.
        retry_after_cap: Longest wait honoured from a ``Retry-After`` header.

    Raises:
        ValueError: On an empty URL or key or a non-positive time limit.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10,
        deadline: float = 30,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.2,
        backoff_cap: float = 2.0,
        retry_after_cap: float = 10.0,
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"MoltPe base_url must be an http(s) URL, got {base_url!r}")
        if not api_key or not api_key.isprintable() or any(c.isspace() for c in api_key):
            raise ValueError("MoltPe api_key must be a non-empty token without spaces")
        if timeout <= 0 or deadline <= 0:
            raise ValueError("timeout and deadline must be positive")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        if backoff_base < 0 or backoff_cap < 0 or retry_after_cap < 0:
            raise ValueError("backoff_base, backoff_cap and retry_after_cap must not be negative")
        self._base_url = base_url.rstrip("/")
        self._deadline = float(deadline)
        self._timeout = float(timeout)
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._retry_after_cap = retry_after_cap
        self._random = random.Random()
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        api_key_override: str | None = None,
        base_url_override: str | None = None,
    ) -> Self:
        """Build a client from the project's settings.

        Args:
            settings: The effective settings (URL, key, timeouts, retries).
            api_key_override: Key to use instead of ``MOLTPE_API_KEY`` (e.g. the
                local sandbox's key when none is configured).
            base_url_override: URL to use instead of ``MOLTPE_BASE_URL`` (e.g. the
                local sandbox's URL).

        Raises:
            ValueError: When no API key is configured nor given.
        """
        if api_key_override is not None:
            api_key = api_key_override
        elif settings.moltpe_api_key is not None:
            api_key = settings.moltpe_api_key.get_secret_value()
        else:
            raise ValueError(
                "no MoltPe API key: set MOLTPE_API_KEY, or pass api_key_override "
                "(the local sandbox's key when running against it)"
            )
        return cls(
            base_url_override or settings.moltpe_base_url,
            api_key,
            timeout=settings.moltpe_timeout_seconds,
            deadline=settings.moltpe_deadline_seconds,
            max_retries=settings.moltpe_max_retries,
        )

    @property
    def base_url(self) -> str:
        """The MoltPe root URL this client talks to."""
        return self._base_url

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool. The client is unusable afterwards."""
        await self._http.aclose()

    # --- calls ---------------------------------------------------------------------

    async def create_agent(
        self, name: str, network: str, *, idempotency_key: str | None = None
    ) -> AgentWallet:
        """Create an agent with a fresh wallet (``POST /v1/agents/create``).

        Args:
            name: A label for the agent, e.g. ``"support-refund-agent"``.
            network: The chain, e.g. ``"polygon"``.
            idempotency_key: Sent as ``Idempotency-Key`` on every attempt; a random
                one is made when omitted. Pass your own to be able to reconcile
                after :class:`OutcomeUnknown`.

        Returns:
            The new agent's id, wallet address and network.

        Raises:
            ValueError: On an empty name or network (no request is made).
            APIError: A definitive refusal (a subclass per error code).
            OutcomeUnknown: The agent may or may not have been created.
            Unavailable: MoltPe could not be reached; nothing was created.
        """
        _require_text("name", name)
        _require_text("network", network)
        key = _check_key(idempotency_key) if idempotency_key else uuid.uuid4().hex
        response, attempts = await self._send(
            "POST",
            "/v1/agents/create",
            body={"name": name, "network": network},
            operation="create_agent",
            idempotency_key=key,
            repeatable=False,
        )
        return self._parse(response, attempts, AgentWallet, "create_agent", key, repeatable=False)

    async def set_policy(
        self,
        agent_id: str,
        *,
        daily_cap: Decimal,
        per_tx_cap: Decimal,
        refund_only: bool,
    ) -> SpendingPolicy:
        """Replace an agent's spending policy (``POST /v1/agents/{agent_id}/policy``).

        Setting the same policy twice is harmless, so a missing answer raises
        :class:`Unavailable` (call again), never :class:`OutcomeUnknown`. A cap of
        zero freezes that kind of spending.

        Args:
            agent_id: The agent whose policy to set.
            daily_cap: Most USDC per UTC day, a ``Decimal`` with at most 6 places.
            per_tx_cap: Most USDC per transaction, likewise.
            refund_only: Restrict outgoing money to refunds to the original payer.

        Returns:
            The policy as MoltPe applied it.

        Raises:
            InvalidAmount: A cap is not a non-negative ``Decimal`` with at most 6
                places (no request is made).
            ValueError: Another argument is invalid (no request is made).
            APIError: A definitive refusal.
            Unavailable: No definitive answer; safe to call again.
            InvalidResponse: MoltPe answered 2xx with something unreadable, or with
                a policy other than the one requested.
        """
        _require_text("agent_id", agent_id)
        daily = _check_amount("daily_cap", daily_cap, allow_zero=True)
        per_tx = _check_amount("per_tx_cap", per_tx_cap, allow_zero=True)
        if not isinstance(refund_only, bool):
            raise ValueError("refund_only must be a bool")
        path = f"/v1/agents/{_path_segment('agent_id', agent_id)}/policy"
        body = {
            "daily_cap": format_usdc(daily),
            "per_tx_cap": format_usdc(per_tx),
            "refund_only": refund_only,
        }
        response, attempts = await self._send(
            "POST", path, body=body, operation="set_policy", idempotency_key=None, repeatable=True
        )
        payload = _json_or_none(response)
        if isinstance(payload, dict) and "agent_id" not in payload:
            payload = {**payload, "agent_id": agent_id}
        policy = self._validate(
            payload,
            SpendingPolicy,
            "set_policy",
            None,
            repeatable=True,
            attempts=attempts,
            status=response.status_code,
        )
        if (policy.daily_cap, policy.per_tx_cap, policy.refund_only) != (
            daily,
            per_tx,
            refund_only,
        ):
            raise InvalidResponse(
                f"set_policy: MoltPe applied a different policy than requested: "
                f"daily_cap={format_usdc(policy.daily_cap)} per_tx_cap="
                f"{format_usdc(policy.per_tx_cap)} refund_only={policy.refund_only}"
            )
        return policy

    async def refund(
        self,
        *,
        agent_id: str,
        payment_id: str,
        amount: Decimal,
        reason: str,
        idempotency_key: str,
    ) -> RefundReceipt:
        """Refund (part of) a payment to its original payer (``POST /v1/payments/refund``).

        Every attempt carries the same ``Idempotency-Key``, so MoltPe moves the money
        at most once however often this is called with that key and body.

        Args:
            agent_id: The refund wallet's agent.
            payment_id: The original payment; the money goes back to its payer.
            amount: USDC to refund, a ``Decimal`` > 0 with at most 6 places.
            reason: Why, e.g. ``"quality_issue"`` (non-empty).
            idempotency_key: The key of this refund attempt (at most 255 visible
                ASCII characters).

        Returns:
            The receipt, with ``tx_hash``; it is checked to match ``payment_id`` and
            ``amount``.

        Raises:
            InvalidAmount: ``amount`` is not a ``Decimal`` > 0 with at most 6 places
                (no request is made).
            ValueError: Another argument is invalid (no request is made).
            PolicyViolation: A server-side cap refused it; nothing moved.
            InsufficientFunds: The wallet's balance is too low; nothing moved.
            PaymentNotFound: Unknown ``payment_id``; nothing moved.
            AgentNotFound: Unknown ``agent_id``; nothing moved.
            Conflict: The key was used before with a different body; nothing moved.
            APIError: Any other definitive refusal; nothing moved.
            OutcomeUnknown: Money may have moved: repeat with the same key to learn.
            Unavailable: MoltPe was never reached; nothing moved.
        """
        _require_text("agent_id", agent_id)
        _require_text("payment_id", payment_id)
        _require_text("reason", reason)
        value = _check_amount("amount", amount, allow_zero=False)
        key = _check_key(idempotency_key)
        body = {
            "agent_id": agent_id,
            "payment_id": payment_id,
            "amount": format_usdc(value),
            "reason": reason,
        }
        response, attempts = await self._send(
            "POST",
            "/v1/payments/refund",
            body=body,
            operation="refund",
            idempotency_key=key,
            repeatable=False,
        )
        receipt = self._parse(response, attempts, RefundReceipt, "refund", key, repeatable=False)
        if receipt.payment_id != payment_id or receipt.amount != value:
            raise OutcomeUnknown(
                f"refund: MoltPe's receipt {receipt.refund_id} is for payment "
                f"{receipt.payment_id} amount {format_usdc(receipt.amount)}, but payment "
                f"{payment_id} amount {format_usdc(value)} was requested",
                attempts=attempts,
                last_status=response.status_code,
                idempotency_key=key,
            )
        return receipt

    async def ping(self) -> bool:
        """Check MoltPe is reachable and accepts the key, with one cheap request.

        Sends ``GET /v1/health`` once (no retries) within ``min(timeout, deadline)``.
        That path is served by the project's sandbox; it is a compatibility path,
        not part of MoltPe's published guide, so against the real API a ``404`` is
        counted as "reachable".

        Returns:
            True when MoltPe answered 2xx (or 404); False when it could not be
            reached in time or answered 429/5xx.

        Raises:
            Unauthorized: MoltPe rejected the key (401/403): a configuration error
                that must not look like an outage.
        """
        try:
            async with asyncio.timeout(min(self._timeout, self._deadline)):
                response = await self._http.get(HEALTH_PATH)
        except (TimeoutError, httpx.TransportError) as exc:
            logger.warning("MoltPe ping failed: %s", _describe(exc))
            return False
        if response.status_code in (401, 403):
            raise self._api_error(response, "ping")
        if response.is_success or response.status_code == 404:
            return True
        logger.warning("MoltPe ping answered HTTP %d", response.status_code)
        return False

    # --- machinery -----------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any],
        operation: str,
        idempotency_key: str | None,
        repeatable: bool,
    ) -> tuple[httpx.Response, int]:
        """Send with retries inside the overall deadline; return the 2xx answer and attempts."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        attempts = 0
        in_flight = False  # an attempt is between "may have been sent" and its result
        maybe_applied = False  # some finished attempt may have reached MoltPe
        last_failure = "no attempt made"
        last_status: int | None = None
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self._deadline):
                while True:
                    attempts += 1
                    retry_after: float | None = None
                    in_flight = True
                    try:
                        response = await self._http.request(
                            method, path, json=body, headers=headers
                        )
                    except _NOT_SENT as exc:
                        in_flight = False
                        last_failure = _describe(exc)
                    except httpx.TransportError as exc:
                        in_flight = False
                        maybe_applied = True
                        last_failure = _describe(exc)
                    else:
                        in_flight = False
                        status = response.status_code
                        last_status = status
                        if 200 <= status < 300:
                            return response, attempts
                        if status == 429 or status >= 500:
                            if status >= 500:
                                maybe_applied = True
                            retry_after = _retry_after_seconds(response)
                            last_failure = _describe_status(response)
                        else:
                            raise self._api_error(response, operation)
                    if attempts > self._max_retries:
                        break
                    delay = self._delay(attempts, retry_after)
                    remaining = self._deadline - (loop.time() - started)
                    if delay >= remaining:
                        last_failure += " (the next retry would pass the deadline)"
                        break
                    logger.info(
                        "MoltPe %s attempt %d failed (%s); retrying in %.2fs",
                        operation,
                        attempts,
                        last_failure,
                        delay,
                    )
                    await asyncio.sleep(delay)
        except TimeoutError:
            if in_flight:
                maybe_applied = True
                last_failure = f"attempt {attempts} was still waiting for an answer"
            last_failure = f"overall deadline of {self._deadline:g}s exceeded; {last_failure}"
        error_type: type[Unavailable | OutcomeUnknown]
        if maybe_applied and not repeatable:
            error_type = OutcomeUnknown
            effect = "it may have taken effect: repeat with the same idempotency key to learn"
        elif maybe_applied:
            error_type, effect = Unavailable, "it is safe to repeat"
        else:
            error_type, effect = Unavailable, "it had no effect"
        raise error_type(
            f"MoltPe {operation}: no definitive answer after {attempts} attempt(s) "
            f"({last_failure}); {effect}",
            attempts=attempts,
            last_status=last_status,
            idempotency_key=idempotency_key,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before the next attempt (``attempt`` counts from 1)."""
        if retry_after is not None:
            return min(retry_after, self._retry_after_cap)
        step = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempt - 1))
        # "Equal jitter": at least half a step, so retries never stampede at zero.
        return step / 2 + self._random.uniform(0, step / 2)

    def _api_error(self, response: httpx.Response, operation: str) -> APIError:
        """The typed error of a definitive non-2xx answer."""
        code, reason, message = error_body_fields(_json_or_none(response))
        status = response.status_code
        error_type = _BY_CODE.get(code or "") or _BY_STATUS.get(status, APIError)
        if message is None:
            snippet = response.text[:200].strip() if response.content else ""
            message = f"MoltPe {operation} answered HTTP {status}" + (
                f": {snippet}" if snippet else ""
            )
        return error_type(message, status_code=status, code=code, reason=reason)

    def _parse(
        self,
        response: httpx.Response,
        attempts: int,
        model: type[M],
        operation: str,
        key: str | None,
        *,
        repeatable: bool,
    ) -> M:
        return self._validate(
            _json_or_none(response),
            model,
            operation,
            key,
            repeatable=repeatable,
            attempts=attempts,
            status=response.status_code,
        )

    @staticmethod
    def _validate(
        payload: Any,
        model: type[M],
        operation: str,
        key: str | None,
        *,
        repeatable: bool,
        attempts: int,
        status: int,
    ) -> M:
        """Validate a 2xx body; unreadable means InvalidResponse or OutcomeUnknown."""
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
                for err in exc.errors()[:3]
            )
            message = f"MoltPe {operation} answered 2xx with an unreadable body ({detail})"
            if repeatable:
                raise InvalidResponse(message) from exc
            raise OutcomeUnknown(
                message + "; it may have taken effect: repeat with the same idempotency key",
                attempts=attempts,
                last_status=status,
                idempotency_key=key,
            ) from exc


# --- helpers ---------------------------------------------------------------------------


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


def _path_segment(name: str, value: str) -> str:
    if "/" in value or "?" in value or "#" in value or not value.isprintable():
        raise ValueError(f"{name} contains characters not allowed in an id: {value[:40]!r}")
    return value


def _check_key(key: object) -> str:
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= MAX_KEY_LENGTH
        or not all(33 <= ord(c) <= 126 for c in key)
    ):
        raise ValueError(
            f"idempotency_key must be 1-{MAX_KEY_LENGTH} visible ASCII characters, no spaces"
        )
    return key


def _check_amount(name: str, value: object, *, allow_zero: bool) -> Decimal:
    if not isinstance(value, Decimal):
        raise InvalidAmount(f"{name} must be a Decimal, not {type(value).__name__}")
    try:
        return parse_usdc(value, allow_zero=allow_zero)
    except InvalidAmount as exc:
        raise InvalidAmount(f"{name}: {exc}") from None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe_status(response: httpx.Response) -> str:
    code, _reason, message = error_body_fields(_json_or_none(response))
    parts = [f"HTTP {response.status_code}"]
    if code:
        parts.append(code)
    if message:
        parts.append(message)
    return " ".join(parts)
