"""The reply layer: what the agent says, in the customer's language, with facts from state.

* :mod:`~graph.replies.catalog`: the languages (``en``, ``es``, ``fr``, ``de``, ``pt``,
  ``it``; anything else, Hinglish included, gets English), gettext catalogs read with
  Babel at run time and cached per language, amounts written the customer's way;
* :mod:`~graph.replies.texts`: every customer-facing string, as an English msgid;
* :mod:`~graph.replies.compose`: one function per reply, returning a :class:`Reply`
  (text + the facts that must appear verbatim);
* :mod:`~graph.replies.phrasing`: a model may reword a reply only when the rewording
  keeps every fact and adds no fact or claim.

Usage::

    t = translator("es")
    reply = refunded(t, amount=Decimal("15"), order_id="ORD-4410", tx_hash=h, eta=eta)
    text, used_model = await phrase(model, reply)

The English template constants (``REFUNDED``, ``ESCALATED``...), :data:`REASON_TEXT`
and :func:`reasons_text` stay importable from here for the node layer until it moves
to the functions.
"""

from graph.replies.catalog import (
    CATALOG_LANGUAGES,
    LANGUAGES,
    N_,
    Translator,
    normalize_language,
    translator,
)
from graph.replies.compose import (
    Amount,
    ReasonLimits,
    RefundInfo,
    RefundState,
    Reply,
    acknowledged,
    already_with_person,
    anything_else,
    ask_amount,
    ask_identity,
    ask_which_order,
    cancelled,
    confirm_amount,
    confirm_full,
    denied,
    empty_message,
    escalated,
    found_order,
    greeting,
    lookup_failed,
    nothing_yet,
    off_topic,
    policy_answer,
    reasons_text,
    reasons_words,
    refund_status,
    refunded,
    review_denied,
    ticket_open,
    unsupported,
)
from graph.replies.phrasing import CLAIMS, FACT_LIKE, facts_kept, grounded, phrase
from graph.replies.texts import (
    ANYTHING_ELSE,
    ASK_BOTH,
    ASK_EMAIL,
    ASK_ORDER,
    ASK_WHICH,
    CANCELLED,
    CLARIFY_AMOUNT,
    CONFIRM_FULL,
    DENIED,
    EMPTY,
    ESCALATED,
    FOUND_ASK,
    GREETING,
    LOOKUP_FAILED,
    OFF_TOPIC,
    REASON_TEXT,
    REFUNDED,
    STATUS_DENIED,
    STATUS_NONE,
    STATUS_REFUND,
    STATUS_TICKET,
    STILL_NOT_FOUND,
)

__all__ = [
    "ANYTHING_ELSE",
    "ASK_BOTH",
    "ASK_EMAIL",
    "ASK_ORDER",
    "ASK_WHICH",
    "CANCELLED",
    "CATALOG_LANGUAGES",
    "CLAIMS",
    "CLARIFY_AMOUNT",
    "CONFIRM_FULL",
    "DENIED",
    "EMPTY",
    "ESCALATED",
    "FACT_LIKE",
    "FOUND_ASK",
    "GREETING",
    "LANGUAGES",
    "LOOKUP_FAILED",
    "N_",
    "OFF_TOPIC",
    "REASON_TEXT",
    "REFUNDED",
    "STATUS_DENIED",
    "STATUS_NONE",
    "STATUS_REFUND",
    "STATUS_TICKET",
    "STILL_NOT_FOUND",
    "Amount",
    "ReasonLimits",
    "RefundInfo",
    "RefundState",
    "Reply",
    "Translator",
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
    "facts_kept",
    "found_order",
    "greeting",
    "grounded",
    "lookup_failed",
    "normalize_language",
    "nothing_yet",
    "off_topic",
    "phrase",
    "policy_answer",
    "reasons_text",
    "reasons_words",
    "refund_status",
    "refunded",
    "review_denied",
    "ticket_open",
    "translator",
    "unsupported",
]
