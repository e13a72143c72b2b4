"""Escalation: a review ticket with the full context, for a person to decide.

Never calls MoltPe. Idempotent per ``request_key``, so a re-executed escalation
opens one ticket, not two.
"""

from __future__ import annotations

from typing import Any

from persistence import repo
from persistence.audit import AuditEvent, AuditLog, EventType, append_events
from persistence.models import Ticket


async def open_ticket(
    audit: AuditLog,
    *,
    request_key: str,
    customer_email: str | None,
    order_id: str | None,
    reason: str,
    thread_id: str | None,
    context: dict[str, Any],
) -> Ticket:
    """Open (or find, for a repeated request) the review ticket and audit it."""
    async with audit.pool.connection() as conn, conn.transaction():
        ticket, created = await repo.create_ticket(
            conn,
            request_key=request_key,
            customer_email=customer_email,
            order_id=order_id,
            reason=reason,
            thread_id=thread_id,
            context=context,
        )
        records = []
        if created:
            records = await append_events(
                conn,
                [
                    AuditEvent(
                        EventType.ESCALATION,
                        thread_id=thread_id,
                        order_id=order_id,
                        customer_email=customer_email,
                        payload={
                            "ticket_id": ticket.id,
                            "ticket": ticket.reference,
                            "reason": reason,
                            "decision": context.get("decision"),
                            "attempted_action": context.get("attempted_action"),
                            "moltpe_error": context.get("moltpe_error"),
                        },
                    )
                ],
            )
    await audit.mirror(records)
    return ticket
