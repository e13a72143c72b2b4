"""Per-run settings passed by the caller through ``context_schema``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(kw_only=True)
class Context:
    """Run-scoped context: what the embedding backend already knows."""

    customer_email: str | None = field(
        default=None,
        metadata={
            "description": "The customer's email when the calling backend has already "
            "authenticated them. The agent then does not ask for it and ignores any other "
            "email typed into the chat."
        },
    )
    channel: str = field(
        default="chat", metadata={"description": "Where the conversation happens (audit only)."}
    )
    request_id: str | None = field(
        default=None,
        metadata={
            "description": "The caller's idempotency key for this turn. A turn retried with "
            "the same key derives the same refund request keys, so it can never pay twice."
        },
    )
