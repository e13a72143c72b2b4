"""Escalation: a review ticket with the full context, for a person to decide.

Never calls MoltPe. Idempotent per ``request_key``, so a re-executed escalation
opens one ticket, not two. One open ticket per order, enforced by the database (a
partial unique index, so it holds across processes): while an order's ticket waits for
a person, later escalations of that order attach to it (noted on the ticket under
``context.attached`` and audited as ``escalation_attached``) instead of opening another.
"""

from __future__ import annotations

from typing import Any

from persistence import repo
from persistence.audit import AuditEvent, AuditLog, EventType
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
    """Open the review ticket (or find it, or the order's open one) and audit it."""
    async with audit.transaction() as tx:
        conn = tx.conn
        ticket, created = await repo.create_ticket(
            conn,
            request_key=request_key,
            customer_email=customer_email,
            order_id=order_id,
            reason=reason,
            thread_id=thread_id,
            context=context,
        )
        if created:
            await tx.append(
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
            )
        elif ticket.request_key != request_key:
            # Another request's ticket for this order is still open: attach to it, once.
            noted = await repo.attach_to_ticket(
                conn,
                ticket.id,
                request_key,
                {"thread_id": thread_id, "reason": reason, "decision": context.get("decision")},
            )
            if noted is not None:
                ticket = noted
                await tx.append(
                    AuditEvent(
                        EventType.ESCALATION_ATTACHED,
                        thread_id=thread_id,
                        order_id=order_id,
                        customer_email=customer_email,
                        payload={
                            "ticket_id": ticket.id,
                            "ticket": ticket.reference,
                            "reason": reason,
                            "request_key": request_key,
                            "ticket_thread_id": ticket.thread_id,
                        },
                    )
                )
    return ticket
