"""Exactly-once refunds: the only code in the project that moves money.

The path of one refund:

1. If a refund was already recorded for this customer request (``request_key``),
   return its outcome (reconciling it first if its fate is unknown): a retried or
   re-executed request never pays twice.
2. If another refund of the order is unsettled, reconcile it first.
3. In one transaction: lock the order row, re-check everything the gate relied on
   (ownership, window, unrefunded amount, per-transaction cap and, under a lock shared
   by every process, today's budget), insert the refund *intent* with its idempotency
   key and audit ``refund_requested``; commit. Every time here is the database's
   ``now()``, the clock that stamps the intent, and "today" is its business day
   (``REFUND_BUSINESS_TIMEZONE``), so no refund falls between two days.
4. Only then call MoltPe with that idempotency key.
5. Record the answer: ``confirmed`` (and add it to the order), ``failed`` (a refusal,
   e.g. POLICY_VIOLATION) or ``unknown`` (no definitive answer) and audit it.

An intent or unknown refund is *reconciled* by sending the same request with the same
idempotency key again: MoltPe replays its first answer or, if the first never arrived,
executes it once. Reconciliation runs before anything else happens to the order, on
start-up, and with ``refund-agent refunds reconcile``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

import psycopg

from core.limits import Limits, Reason, within_window
from core.money import format_usdc, parse_usdc
from persistence import repo
from persistence.audit import AuditEvent, AuditLog, EventType
from persistence.models import COUNTED_REFUND_STATUSES, OPEN_REFUND_STATUSES, Order, Refund
from tools.moltpe import (
    APIError,
    BadRequest,
    Conflict,
    InsufficientFunds,
    MoltPeClient,
    MoltPeError,
    OutcomeUnknown,
    PaymentNotFound,
    PolicyViolation,
    RefundReceipt,
    Unavailable,
)

logger = logging.getLogger(__name__)

OutcomeStatus = Literal["confirmed", "failed", "unknown"]


class RefundRefused(Exception):
    """The refund was not attempted: a re-check at the moment of paying failed.

    ``code`` is a :class:`~core.limits.Reason`: ``order_not_found``, ``outside_window``,
    ``already_refunded``, ``refund_in_progress``, ``exceeds_order``, ``over_per_tx_cap``,
    ``over_daily_budget``, ``velocity`` or ``invalid_amount``: the same codes, for the
    same rules, as the policy gate's.
    """

    def __init__(self, code: Reason, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    """What became of a refund."""

    status: OutcomeStatus
    refund: Refund
    replayed: bool = False
    order: Order | None = None
    """The order as this outcome left it (set when this call confirmed the refund)."""

    @property
    def policy_violation(self) -> bool:
        """True when MoltPe's own policy refused the refund."""
        return self.refund.error_code == "POLICY_VIOLATION"


def idempotency_key_for(request_key: str) -> str:
    """The MoltPe idempotency key of a request: stable, opaque, 40 characters."""
    return "rfd_" + hashlib.sha256(request_key.encode("utf-8")).hexdigest()[:36]


class RefundService:
    """Issues and reconciles refunds through MoltPe, exactly once per request."""

    def __init__(
        self, *, audit: AuditLog, moltpe: MoltPeClient, agent_id: str, limits: Limits
    ) -> None:
        self._audit = audit
        self._pool = audit.pool
        self._moltpe = moltpe
        self._agent_id = agent_id
        self._limits = limits

    async def refund(
        self,
        *,
        request_key: str,
        order_id: str,
        customer_email: str,
        amount: Decimal,
        reason: str,
        approved_by: str,
        policy_version: str | None,
        thread_id: str | None,
        human_approval: bool = False,
    ) -> RefundOutcome:
        """Refund ``amount`` of ``order_id`` at most once for ``request_key``.

        ``human_approval`` is for a named reviewer's decision on an escalated request: the
        agent's own limits (window, per-transaction cap, daily budget) were what sent it
        to a person, so they are not re-applied; ownership, the unrefunded amount and one
        unsettled refund per order still are, and MoltPe's server-side caps always apply.

        Raises:
            RefundRefused: a re-check failed; nothing was recorded or sent.
        """
        amount = parse_usdc(amount, allow_zero=False)
        async with self._pool.connection() as conn:
            existing, other = await repo.refund_and_open_refund(conn, request_key, order_id)
        if existing is not None:
            if existing.status in OPEN_REFUND_STATUSES:
                return await self.reconcile(existing)
            return RefundOutcome(_settled(existing), existing, replayed=True)
        if other is not None:
            await self.reconcile(other)

        try:
            intent = await self._record_intent(
                request_key=request_key,
                order_id=order_id,
                customer_email=customer_email.strip().lower(),
                amount=amount,
                reason=reason,
                approved_by=approved_by,
                policy_version=policy_version,
                thread_id=thread_id,
                human_approval=human_approval,
            )
        except psycopg.errors.UniqueViolation:
            # A concurrent copy of this request, or of another on this order, won.
            return await self._outcome_of_copy(
                request_key,
                RefundRefused(
                    Reason.REFUND_IN_PROGRESS, "another refund of this order is in progress"
                ),
            )
        except RefundRefused as refused:
            if refused.code != Reason.REFUND_IN_PROGRESS:
                raise
            # The refund in progress may be this very request, begun by a concurrent copy
            # (a re-executed node, another process): report it, never refuse it.
            return await self._outcome_of_copy(request_key, refused)
        return await self._send(intent, first_attempt=True)

    async def _outcome_of_copy(self, request_key: str, refused: RefundRefused) -> RefundOutcome:
        """The outcome of this request as recorded by a concurrent copy, else ``refused``."""
        async with self._pool.connection() as conn:
            existing = await repo.refund_by_request(conn, request_key)
        if existing is None:
            raise refused from None
        if existing.status in OPEN_REFUND_STATUSES:
            return await self.reconcile(existing)
        return RefundOutcome(_settled(existing), existing, replayed=True)

    async def reconcile(self, refund: Refund, *, notify: bool = False) -> RefundOutcome:
        """Settle a refund whose outcome is unknown by re-sending it with its key.

        ``notify``: nobody is waiting for this answer (the reconciler): a settled outcome
        is marked to be told on the refund's conversation.
        """
        logger.info("reconciling refund %s (%s)", refund.id, refund.status)
        outcome = await self._send(refund, first_attempt=False, notify=notify)
        await self._audit.record(
            AuditEvent(
                EventType.REFUND_RECONCILED,
                actor="reconciler",
                thread_id=refund.thread_id,
                order_id=refund.order_id,
                customer_email=refund.customer_email,
                payload={
                    "refund_id": refund.id,
                    "was": refund.status,
                    "now": outcome.refund.status,
                    "tx_hash": outcome.refund.tx_hash,
                },
            )
        )
        return outcome

    async def reconcile_all(self) -> list[RefundOutcome]:
        """Reconcile every unsettled refund (start-up and the CLI)."""
        async with self._pool.connection() as conn:
            pending = await repo.open_refunds(conn)
        return [await self.reconcile(r) for r in pending]

    # --- steps ---------------------------------------------------------------------

    async def _record_intent(
        self,
        *,
        request_key: str,
        order_id: str,
        customer_email: str,
        amount: Decimal,
        reason: str,
        approved_by: str,
        policy_version: str | None,
        thread_id: str | None,
        human_approval: bool,
    ) -> Refund:
        # Three round trips: BEGIN and the facts under the order's (and customer's) lock;
        # the intent, its event and the budget reservation; COMMIT.
        velocity = None if human_approval or self._limits.velocity_max is None else True
        async with self._audit.transaction(pipeline=True) as tx:
            conn = tx.conn
            facts = await repo.read_intent_facts(
                conn,
                order_id,
                customer_email,
                velocity_days=self._limits.velocity_days if velocity else None,
            )
            order = facts.order
            if order is None or order.customer_email != customer_email:
                raise RefundRefused(Reason.ORDER_NOT_FOUND, "no such order for this customer")
            if not human_approval and not within_window(
                order.created_at, facts.now, self._limits.window_days
            ):
                raise RefundRefused(Reason.OUTSIDE_WINDOW, "the order is outside the refund window")
            if facts.open_refund is not None:
                raise RefundRefused(
                    Reason.REFUND_IN_PROGRESS, "another refund of this order is in progress"
                )
            if order.unrefunded_usdc <= 0:
                raise RefundRefused(Reason.ALREADY_REFUNDED, "the order is already fully refunded")
            if amount > order.unrefunded_usdc:
                raise RefundRefused(
                    Reason.EXCEEDS_ORDER,
                    f"only {format_usdc(order.unrefunded_usdc)} USDC is left to refund",
                )
            if not human_approval and amount > self._limits.per_tx_cap:
                raise RefundRefused(Reason.OVER_PER_TX_CAP, "over the per-transaction cap")
            if (
                velocity
                and facts.recent_refunds is not None
                and self._limits.velocity_max is not None
                and facts.recent_refunds >= self._limits.velocity_max
            ):
                raise RefundRefused(Reason.VELOCITY, "several refunds on this account recently")
            refund_id = uuid.uuid4()
            idempotency_key = idempotency_key_for(request_key)
            created = await repo.send_refund_intent(
                conn,
                order=order,
                request_key=request_key,
                idempotency_key=idempotency_key,
                amount=amount,
                reason=reason,
                approved_by=approved_by,
                policy_version=policy_version,
                thread_id=thread_id,
                attempt=facts.next_attempt,
                refund_id=refund_id,
            )
            await tx.append(
                AuditEvent(
                    EventType.REFUND_REQUESTED,
                    actor=approved_by,
                    thread_id=thread_id,
                    order_id=order_id,
                    customer_email=customer_email,
                    payload={
                        "refund_id": refund_id,
                        "attempt": facts.next_attempt,
                        "amount_usdc": amount,
                        "payment_id": order.payment_id,
                        "idempotency_key": idempotency_key,
                        "policy_version": policy_version,
                    },
                ),
                fetch=False,
            )
            # Last, so the day's counter row is held only until commit: no global lock.
            # Reading its answer sends the two statements above with it.
            try:
                await repo.reserve_budget(
                    conn,
                    self._limits.business_timezone,
                    refund_id,
                    amount,
                    None if human_approval else self._limits.daily_cap,
                )
            except repo.OverBudget:
                raise RefundRefused(
                    Reason.OVER_DAILY_BUDGET, "over today's refund budget"
                ) from None
            return await created()  # answered with the reservation's round trip

    async def _send(
        self, refund: Refund, *, first_attempt: bool, notify: bool = False
    ) -> RefundOutcome:
        receipt: RefundReceipt | None = None
        error: MoltPeError | None = None
        try:
            receipt = await self._moltpe.refund(
                agent_id=self._agent_id,
                payment_id=refund.payment_id,
                amount=refund.amount_usdc,
                reason=refund.reason or "customer_request",
                idempotency_key=refund.idempotency_key,
            )
        except MoltPeError as exc:
            error = exc
        return await self._record_result(
            refund, receipt, error, first_attempt=first_attempt, notify=notify
        )

    async def _record_result(
        self,
        refund: Refund,
        receipt: RefundReceipt | None,
        error: MoltPeError | None,
        *,
        first_attempt: bool,
        notify: bool = False,
    ) -> RefundOutcome:
        # Four round trips: BEGIN and the refund's lock; its update; the order's; the event,
        # the budget and COMMIT together (a pipeline).
        async with self._audit.transaction(pipeline=True) as tx:
            conn = tx.conn
            current = await repo.get_refund(conn, refund.id, for_update=True)
            if current is None:
                raise LookupError(f"refund {refund.id} vanished")
            if current.status == "confirmed" or (current.status == "failed" and receipt is None):
                # Someone else (a concurrent reconciler) recorded the outcome already.
                return RefundOutcome(_settled(current), current, replayed=True)
            # A receipt always wins, even over a recorded failure: another sender of the
            # same key (a reconciler) reached MoltPe while this attempt failed to.

            def event_of(event_type: EventType, payload: dict[str, object]) -> AuditEvent:
                return AuditEvent(
                    event_type,
                    actor=current.approved_by,
                    thread_id=current.thread_id,
                    order_id=current.order_id,
                    customer_email=current.customer_email,
                    payload=payload,
                )

            if receipt is not None:
                updated = await repo.update_refund(
                    conn,
                    current.id,
                    status="confirmed",
                    moltpe_refund_id=receipt.refund_id,
                    tx_hash=receipt.tx_hash,
                    notice_due=notify,
                )
                order = await repo.add_refunded(conn, current.order_id, current.amount_usdc)
                event = event_of(
                    EventType.REFUND_CONFIRMED,
                    {
                        "refund_id": current.id,
                        "moltpe_refund_id": receipt.refund_id,
                        "amount_usdc": receipt.amount,
                        "tx_hash": receipt.tx_hash,
                        "order_refund_status": order.refund_status,
                    },
                )
            else:
                assert error is not None
                order = None
                status, event_type = _classify(error, first_attempt=first_attempt)
                code = getattr(error, "code", None) or type(error).__name__
                reason = getattr(error, "reason", None)
                updated = await repo.update_refund(
                    conn,
                    current.id,
                    status=status,
                    error_code=str(code)[:64],
                    error_reason=str(reason)[:128] if reason else None,
                    error_message=str(error)[:500],
                    notice_due=notify,
                )
                event = event_of(
                    event_type,
                    {
                        "refund_id": current.id,
                        "amount_usdc": current.amount_usdc,
                        "error_code": code,
                        "error_reason": reason,
                        "message": str(error)[:500],
                    },
                )
            await tx.append(event, fetch=False)
            counted_before = current.status in COUNTED_REFUND_STATUSES
            if counted_before != (updated.status in COUNTED_REFUND_STATUSES):
                # A failure gives the day's budget back; a late receipt takes it again.
                await repo.adjust_budget(
                    conn,
                    self._limits.business_timezone,
                    current,
                    counted=not counted_before,
                )
        return RefundOutcome(
            _settled(updated), updated, order=order if receipt is not None else None
        )


# Refusals about the refund itself, which MoltPe replays for the same key: final even when
# re-sent. Others (a rotated API key, an unknown agent) say nothing about whether an
# earlier attempt with this key paid, so on re-send they leave the refund unknown.
DEFINITIVE_REFUSALS: Final = (InsufficientFunds, PaymentNotFound, BadRequest)


def _classify(error: MoltPeError, *, first_attempt: bool) -> tuple[OutcomeStatus, EventType]:
    """Which status a MoltPe error leaves a refund in."""
    if isinstance(error, PolicyViolation):
        return "failed", EventType.REFUND_POLICY_VIOLATION
    if isinstance(error, Conflict):
        # Our bodies are derived from the record, so a conflict means something else used
        # the key: money may have moved; a person must look.
        return "unknown", EventType.REFUND_OUTCOME_UNKNOWN
    if isinstance(error, DEFINITIVE_REFUSALS):
        return "failed", EventType.REFUND_FAILED
    if isinstance(error, APIError) and first_attempt:
        # Refused before anything was done (e.g. a wrong key) on the only attempt.
        return "failed", EventType.REFUND_FAILED
    if isinstance(error, Unavailable) and first_attempt:
        # Never reached MoltPe on the only attempt ever made with this key.
        return "failed", EventType.REFUND_FAILED
    if isinstance(error, OutcomeUnknown | Unavailable):
        return "unknown", EventType.REFUND_OUTCOME_UNKNOWN
    return "unknown", EventType.REFUND_OUTCOME_UNKNOWN


def _settled(refund: Refund) -> OutcomeStatus:
    if refund.status == "confirmed":
        return "confirmed"
    if refund.status == "failed":
        return "failed"
    return "unknown"
