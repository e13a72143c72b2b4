"""Every error the MoltPe client raises.

The tree::

    MoltPeError                      anything that went wrong talking to MoltPe
    ├── APIError                     MoltPe answered with a definitive refusal (4xx):
    │   │                            the request had no effect, no money moved
    │   ├── BadRequest               400 BAD_REQUEST: malformed request
    │   ├── Unauthorized             401 UNAUTHORIZED: missing or wrong API key
    │   ├── PolicyViolation          POLICY_VIOLATION: a server-side cap refused it
    │   │                            (.reason: per_tx_cap, daily_cap, exceeds_payment,
    │   │                            refund_only)
    │   ├── InsufficientFunds        INSUFFICIENT_FUNDS: the wallet's balance is too low
    │   ├── NotFound                 404 of any other kind
    │   │   ├── PaymentNotFound      PAYMENT_NOT_FOUND: no such payment_id
    │   │   └── AgentNotFound        AGENT_NOT_FOUND: no such agent_id
    │   └── Conflict                 409 IDEMPOTENCY_CONFLICT: the idempotency key was
    │                                already used with a different body
    ├── Unavailable                  no definitive answer, and repeating is harmless
    ├── OutcomeUnknown               no definitive answer, and the call MAY have taken
    │                                effect (money may have moved)
    └── InvalidResponse              a 2xx answer the client could not read, on a call
                                     where that is harmless (``set_policy``)

    InvalidAmount (core.money, a ValueError), and plain ValueError for other bad
    arguments, are raised before any request is made.

``Unavailable`` versus ``OutcomeUnknown``, precisely:

* A state-changing call that is not safe to repeat blindly (``refund``,
  ``create_agent``) raises :class:`OutcomeUnknown` when at least one attempt may
  have reached MoltPe and none brought back a definitive answer: a read or write
  timeout or a connection reset after the connection was open, a 5xx (MoltPe may
  have committed before failing), a 2xx whose body is unreadable or does not match
  the request, or the overall deadline expiring while an attempt was in flight.
  Resolve it by sending the same request again with the same idempotency key:
  MoltPe then replays the original answer instead of acting twice.
* :class:`Unavailable` is raised when no attempt can have had an effect: every
  attempt failed before the request was sent (connection refused, DNS failure,
  TLS failure, connect or pool timeout) or was rate limited (429), or the deadline
  expired between such attempts. It is also what idempotent calls (``set_policy``,
  ``ping``) raise for any missing answer, since repeating them is always safe.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AgentNotFound",
    "BadRequest",
    "Conflict",
    "InsufficientFunds",
    "InvalidResponse",
    "MoltPeError",
    "NotFound",
    "OutcomeUnknown",
    "PaymentNotFound",
    "PolicyViolation",
    "Unauthorized",
    "Unavailable",
]


class MoltPeError(Exception):
    """Base class of every error raised by the MoltPe client.

    Attributes:
        message: A human-readable explanation.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIError(MoltPeError):
    """MoltPe refused the request with a definitive 4xx answer; nothing happened.

    Attributes:
        status_code: The HTTP status code.
        code: MoltPe's error code (``"POLICY_VIOLATION"``...), or ``None`` when the
            body carried none.
        reason: MoltPe's finer reason (``"per_tx_cap"``...), if any.
        message: MoltPe's message, or a description of the answer.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        parts = [f"HTTP {self.status_code}"]
        if self.code:
            parts.append(self.code)
        if self.reason:
            parts.append(f"reason={self.reason}")
        return f"{' '.join(parts)}: {self.message}"


class BadRequest(APIError):
    """MoltPe found the request malformed (400)."""


class Unauthorized(APIError):
    """The API key is missing or wrong (401)."""


class PolicyViolation(APIError):
    """A server-side spending rule refused the request.

    ``reason`` says which: ``"per_tx_cap"``, ``"daily_cap"``, ``"exceeds_payment"``
    or ``"refund_only"`` (other values are passed through as MoltPe sends them).
    """


class InsufficientFunds(APIError):
    """The refund wallet's balance is lower than the amount."""


class NotFound(APIError):
    """MoltPe does not know the resource (404)."""


class PaymentNotFound(NotFound):
    """MoltPe does not know the ``payment_id``."""


class AgentNotFound(NotFound):
    """MoltPe does not know the ``agent_id``."""


class Conflict(APIError):
    """The idempotency key was already used with a different request body (409)."""


class _NoAnswer(MoltPeError):
    """Shared fields of the two "no definitive answer" errors."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        last_status: int | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_status = last_status
        self.idempotency_key = idempotency_key


class Unavailable(_NoAnswer):
    """No definitive answer, and the call certainly had no effect or is safe to repeat.

    Attributes:
        attempts: How many attempts were made.
        last_status: The HTTP status of the last answer, if there was one.
        idempotency_key: The key that was sent, if any.
    """


class OutcomeUnknown(_NoAnswer):
    """No definitive answer, and the call may have taken effect (money may have moved).

    Never treat this as a failure: reconcile by repeating the call with the same
    ``idempotency_key``, which returns the original result if there was one.

    Attributes:
        attempts: How many attempts were made.
        last_status: The HTTP status of the last answer, if there was one.
        idempotency_key: The key to repeat the call with.
    """


class InvalidResponse(MoltPeError):
    """A 2xx answer whose body could not be read, on a call where that is harmless."""


def error_body_fields(payload: Any) -> tuple[str | None, str | None, str | None]:
    """Pick ``code``, ``reason`` and ``message`` out of a MoltPe error body.

    Args:
        payload: The decoded JSON body, of any shape.

    Returns:
        The three fields, each ``None`` when missing or not a string.
    """
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, None, None

    def text(key: str) -> str | None:
        value = error.get(key)
        return value if isinstance(value, str) and value else None

    return text("code"), text("reason"), text("message")
