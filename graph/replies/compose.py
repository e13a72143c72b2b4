"""One small function per reply: the words in the customer's language, and its facts.

Each function takes a :class:`~graph.replies.catalog.Translator` (``t``) and the facts
to state, keyword-only, and returns a :class:`Reply`: the text, and the facts a
rewording must keep verbatim (amounts as written in that language, order ids,
transaction hashes, ticket references, emails). Facts come from state and the
database, never from a model. Nothing here decides anything: which reply a turn gets
is the node layer's business.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, Protocol

from graph.replies import texts
from graph.replies.catalog import Translator

__all__ = [
    "Amount",
    "ReasonLimits",
    "RefundInfo",
    "RefundState",
    "Reply",
    "acknowledged",
    "already_with_person",
    "anything_else",
    "ask_amount",
    "ask_identity",
    "ask_which_order",
    "cancelled",
    "confirm_amount",
    "confirm_full",
    "denied",
    "empty_message",
    "escalated",
    "found_order",
    "greeting",
    "lookup_failed",
    "nothing_yet",
    "off_topic",
    "policy_answer",
    "reasons_text",
    "reasons_words",
    "refund_status",
    "refunded",
    "review_denied",
    "ticket_open",
    "unsupported",
]

logger = logging.getLogger(__name__)

Amount = Decimal | str
"""A USDC amount: a ``Decimal`` or a decimal string as kept in state (``"20.00"``)."""
RefundState = Literal["confirmed", "processing", "failed"]
"""How a refund stands, as the customer is told."""
IGNORED_REASONS: Final = frozenset({"within_policy"})


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply's text and the facts any rewording of it must keep verbatim."""

    text: str
    """The text, in :attr:`language`."""

    facts: tuple[str, ...] = ()
    """Strings that must appear in any rewording exactly as here."""

    language: str = "en"
    """The language the text is written in."""


class ReasonLimits(Protocol):
    """The limits reason texts mention (``graph.policy.Limits`` has them)."""

    @property
    def window_days(self) -> int:
        """Days an order is refundable."""
        ...

    @property
    def per_tx_cap(self) -> Decimal:
        """USDC per refund the agent may move alone."""
        ...


@dataclass(frozen=True, slots=True)
class RefundInfo:
    """One refund of an order, as the customer is told about it."""

    order_id: str
    amount: Amount
    status: RefundState
    tx_hash: str | None = None

    @classmethod
    def of(cls, *, order_id: str, amount: Amount, status: str, tx_hash: str | None) -> RefundInfo:
        """From a refund record's status (``intent``/``unknown`` = processing)."""
        state: RefundState
        if status == "confirmed" and tx_hash:
            state = "confirmed"
        elif status == "failed":
            state = "failed"
        else:
            state = "processing"
        return cls(order_id=order_id, amount=amount, status=state, tx_hash=tx_hash)


def _fill(t: Translator, msgid: str, **fields: object) -> str:
    """``msgid`` in ``t``'s language with ``fields`` filled in.

    A translation that cannot be filled (a placeholder lost or mistyped, which the
    catalog test prevents) falls back to the English text rather than failing a turn.
    """
    text = t(msgid)
    try:
        return text.format(**fields)
    except (KeyError, IndexError, ValueError):
        logger.error("translation of %r into %s cannot be filled", msgid[:40], t.language)
        return msgid.format(**fields)


def _reply(t: Translator, text: str, *facts: str) -> Reply:
    return Reply(text=text, facts=tuple(f for f in facts if f), language=t.language)


def _and(t: Translator, parts: Sequence[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return _fill(t, texts.AND_LAST, items=", ".join(parts[:-1]), last=parts[-1])


def _or(t: Translator, items: Sequence[str]) -> str:
    joined = items[0] if items else ""
    for item in items[1:]:
        joined = _fill(t, texts.OR_NEXT, first=joined, second=item)
    return joined


def reasons_words(t: Translator, reasons: Sequence[str], limits: ReasonLimits) -> str:
    """Words for reason codes, joined (``"a, b and c"``); codes without words are left out."""
    seen: list[str] = []
    for reason in reasons:
        if reason in texts.REASON_TEXT and reason not in seen:
            seen.append(reason)
    parts = [
        _fill(
            t,
            texts.REASON_TEXT[reason],
            window=limits.window_days,
            cap=t.amount(limits.per_tx_cap),
        )
        for reason in seen
    ]
    if not parts:
        return t(texts.NEEDS_A_PERSON)
    return _and(t, parts)


def reasons_text(reasons: Sequence[str], *, window: int, cap: str) -> str:
    """English words for reason codes, as the node layer has used them (``cap`` preformatted).

    Kept until the node layer moves to :func:`reasons_words`; unknown codes are spelled out.
    """
    parts = [
        texts.REASON_TEXT.get(r, r.replace("_", " ")).format(window=window, cap=cap)
        for r in reasons
        if r not in IGNORED_REASONS
    ]
    if not parts:
        return texts.NEEDS_A_PERSON
    if len(parts) == 1:
        return parts[0]
    return texts.AND_LAST.format(items=", ".join(parts[:-1]), last=parts[-1])


# --- greetings and small talk -------------------------------------------------------------


def greeting(t: Translator) -> Reply:
    """Hello, and what the agent can do."""
    return _reply(t, t(texts.GREETING))


def empty_message(t: Translator) -> Reply:
    """The customer's message was empty."""
    return _reply(t, t(texts.EMPTY))


def off_topic(t: Translator) -> Reply:
    """Not about an order: what the agent can do, and that a person can help otherwise."""
    return _reply(t, t(texts.OFF_TOPIC))


def anything_else(t: Translator) -> Reply:
    """You're welcome; anything else?"""
    return _reply(t, t(texts.ANYTHING_ELSE))


def cancelled(t: Translator) -> Reply:
    """The customer withdrew their refund request: nothing will be refunded."""
    return _reply(t, t(texts.CANCELLED))


def still_unclear(t: Translator) -> Reply:
    """The same question would go out a third time: offer a person instead."""
    return _reply(t, t(texts.STILL_UNCLEAR))


def acknowledged(t: Translator) -> Reply:
    """The customer said no (to a proposal or an offer): nothing happens."""
    return _reply(t, t(texts.ACKNOWLEDGED))


def unsupported(t: Translator) -> Reply:
    """Something the agent cannot do (cancel an order, change an address...): a person offered."""
    return _reply(t, t(texts.UNSUPPORTED))


# --- asking --------------------------------------------------------------------------------


def ask_identity(
    t: Translator,
    *,
    email: str | None = None,
    order_id: str | None = None,
    example: str = "ORD-1234",
) -> Reply:
    """Ask for what is missing of the email and the order id (``email``/``order_id``: known).

    ``example`` shows what an order id looks like in this shop (``SO-1234-56789`` with
    ``ORDER_ID_FORMAT=SO-####-#####``).

    Raises:
        ValueError: both are known; there is nothing to ask.
    """
    if email and order_id:
        raise ValueError("both the email and the order id are known")
    if order_id:
        return _reply(t, _fill(t, texts.ASK_EMAIL, order_id=order_id), order_id)
    if email:
        return _reply(t, _fill(t, texts.ASK_ORDER, example=example))
    return _reply(t, _fill(t, texts.ASK_BOTH, example=example))


def ask_which_order(t: Translator, *, orders: Sequence[str]) -> Reply:
    """Several orders were named: which one (one at a time)."""
    return _reply(t, _fill(t, texts.ASK_WHICH, orders=_or(t, orders)), *orders)


def ask_amount(t: Translator) -> Reply:
    """How much, in USDC (the amount could not be read)."""
    return _reply(t, t(texts.CLARIFY_AMOUNT))


def confirm_full(t: Translator, *, amount: Amount, order_id: str) -> Reply:
    """May the agent refund the whole remaining amount of the order?"""
    written = t.amount(amount)
    text = _fill(t, texts.CONFIRM_FULL, amount=written, order_id=order_id)
    return _reply(t, text, written, order_id)


def confirm_amount(t: Translator, *, amount: Amount, order_id: str) -> Reply:
    """May the agent refund ``amount`` for the order (an ambiguous reading, confirmed first)?"""
    written = t.amount(amount)
    text = _fill(t, texts.CONFIRM_AMOUNT, amount=written, order_id=order_id)
    return _reply(t, text, written, order_id)


def confirm_named(t: Translator, *, amount: Amount, order_id: str, description: str) -> Reply:
    """May the agent refund ``amount`` for the order it picked by the customer's words?"""
    written = t.amount(amount)
    text = _fill(t, texts.CONFIRM_NAMED, amount=written, order_id=order_id, description=description)
    return _reply(t, text, written, order_id)


def confirm_again(t: Translator, *, amount: Amount, order_id: str, refunded: Amount) -> Reply:
    """The amount already refunded on the order, asked again: another refund of it?"""
    written, before = t.amount(amount), t.amount(refunded)
    text = _fill(t, texts.CONFIRM_AGAIN, amount=written, order_id=order_id, refunded=before)
    return _reply(t, text, written, order_id, before)


# --- orders ---------------------------------------------------------------------------------


def lookup_failed(t: Translator, *, order_id: str, email: str, again: bool = False) -> Reply:
    """No such order for that email (``again``: the same pair failed before); a person offered."""
    msgid = texts.STILL_NOT_FOUND if again else texts.LOOKUP_FAILED
    return _reply(t, _fill(t, msgid, order_id=order_id, email=email), order_id, email)


def found_order(t: Translator, *, order_id: str, description: str, amount: Amount) -> Reply:
    """The verified order, and what the customer would like done with it."""
    written = t.amount(amount)
    text = _fill(
        t,
        texts.FOUND_ASK,
        order_id=order_id,
        description=description or t(texts.YOUR_ORDER),
        amount=written,
    )
    return _reply(t, text, order_id, written)


# --- outcomes -------------------------------------------------------------------------------


def refunded(t: Translator, *, amount: Amount, order_id: str, tx_hash: str, eta: str) -> Reply:
    """Money moved: how much, for which order, the transaction hash and when it settles.

    ``eta`` is the configured settlement time; the default (``about a minute``) is
    translated, any other text is sent as configured.
    """
    written = t.amount(amount)
    text = _fill(t, texts.REFUNDED, amount=written, order_id=order_id, tx_hash=tx_hash, eta=t(eta))
    return _reply(t, text, written, tx_hash, order_id)


def escalated(t: Translator, *, reasons: Sequence[str], ticket: str, limits: ReasonLimits) -> Reply:
    """Passed to a person: why, the ticket reference and when someone follows up."""
    text = _fill(t, texts.ESCALATED, why=reasons_words(t, reasons, limits), ticket=ticket)
    return _reply(t, text, ticket)


def denied(t: Translator, *, reasons: Sequence[str], limits: ReasonLimits) -> Reply:
    """Refused: why, and that a person can review it."""
    return _reply(t, _fill(t, texts.DENIED, why=reasons_words(t, reasons, limits)))


def ticket_open(t: Translator, *, ticket: str) -> Reply:
    """The request is with a person under ``ticket``."""
    return _reply(t, _fill(t, texts.STATUS_TICKET, ticket=ticket), ticket)


def already_with_person(t: Translator, *, ticket: str) -> Reply:
    """A later message was added to the open ticket ``ticket``; nothing new is decided."""
    return _reply(t, _fill(t, texts.ALREADY_WITH_PERSON, ticket=ticket), ticket)


def review_denied(t: Translator, *, ticket: str) -> Reply:
    """A person reviewed ``ticket`` and did not approve a refund."""
    return _reply(t, _fill(t, texts.STATUS_DENIED, ticket=ticket), ticket)


def nothing_yet(t: Translator) -> Reply:
    """No refund or ticket in this conversation yet."""
    return _reply(t, t(texts.STATUS_NONE))


def refund_status(
    t: Translator, *, refunds: Sequence[RefundInfo], order_id: str | None = None
) -> Reply:
    """Where the refunds of an order stand (from every conversation), with their hashes.

    No refunds: that there is none for ``order_id`` (or, without it, in this conversation).
    """
    if not refunds:
        if order_id:
            return _reply(t, _fill(t, texts.NO_REFUND_FOR_ORDER, order_id=order_id), order_id)
        return nothing_yet(t)
    sentences: list[str] = []
    facts: list[str] = []
    for refund in refunds:
        written = t.amount(refund.amount)
        facts += [written, refund.order_id]
        if refund.status == "confirmed" and refund.tx_hash:
            sentences.append(
                _fill(
                    t,
                    texts.STATUS_REFUND,
                    amount=written,
                    order_id=refund.order_id,
                    status=t(texts.CONFIRMED),
                    tx_hash=refund.tx_hash,
                )
            )
            facts.append(refund.tx_hash)
        elif refund.status == "failed":
            sentences.append(
                _fill(t, texts.REFUND_NOT_THROUGH, amount=written, order_id=refund.order_id)
            )
        else:
            sentences.append(
                _fill(t, texts.REFUND_PROCESSING, amount=written, order_id=refund.order_id)
            )
    if len(sentences) > 1:
        sentences.insert(0, t(texts.REFUNDS_FOUND))
    return _reply(t, " ".join(sentences), *dict.fromkeys(facts))


def policy_answer(
    t: Translator, *, window_days: int, per_tx_cap: Amount, daily_cap: Amount, eta: str
) -> Reply:
    """How refunds work, from configuration: the window, the caps and the settlement time."""
    cap, daily = t.amount(per_tx_cap), t.amount(daily_cap)
    text = _fill(
        t,
        texts.POLICY,
        window_days=window_days,
        per_tx_cap=cap,
        daily_cap=daily,
        eta=t(eta),
    )
    return _reply(t, text, str(window_days), cap, daily)
