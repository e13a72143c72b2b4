"""Reply templates, filled with facts from state (never from a model's memory).

A model may rephrase a reply (:func:`phrase`) only if every fact of the template
appears verbatim in its text; otherwise the template is sent as it is.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Final

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from graph import prompts

logger = logging.getLogger(__name__)

REASON_TEXT: Final = {
    "order_not_found": "I couldn't find that order for your email address",
    "already_refunded": "that order has already been fully refunded",
    "invalid_amount": "the amount has to be more than zero",
    "refund_in_progress": "a refund for that order is already being processed",
    "outside_window": "the order is older than our {window}-day refund window",
    "exceeds_order": "the amount is more than what is left to refund on the order",
    "over_per_tx_cap": "refunds over {cap} USDC need a teammate's approval",
    "over_daily_budget": "today's automatic refund budget doesn't cover it",
    "velocity": "there have been several refunds on your account recently",
    "repeated_failed_lookups": "several order lookups didn't match",
    "injection_suspected": "your message contained instructions I'm not able to act on",
    "customer_requested_human": "you asked to speak with a person",
    "refund_failed": "the payment provider couldn't complete the refund",
    "refund_policy_violation": "the payment provider's limits refused the refund",
    "refund_outcome_unknown": "the payment provider hasn't confirmed the refund yet",
    "review_pending": "a teammate is already reviewing this order",
}

ASK_BOTH: Final = (
    "I can help with that. Please tell me the email address you ordered with and your "
    "order ID (it looks like ORD-1234)."
)
ASK_EMAIL: Final = "Thanks! Which email address did you use for order {order_id}?"
ASK_ORDER: Final = (
    "Thanks! What is the order ID (it looks like ORD-1234) of the order you'd like help with?"
)
LOOKUP_FAILED: Final = (
    "I'm sorry, I couldn't find order {order_id} for {email}. Please check the order ID and "
    "email address. If you'd like, I can pass this to a teammate instead; just say so."
)
FOUND_ASK: Final = (
    "I found order {order_id} ({description}, {amount} USDC). How can I help with it? "
    "If you'd like a refund, tell me whether you want the full amount or part of it."
)
REFUNDED: Final = (
    "Done! I've refunded {amount} USDC for order {order_id} to the wallet you paid with. "
    "Transaction hash: {tx_hash}. It should settle in {eta}."
)
ESCALATED: Final = (
    "I'm sorry, I can't process this refund automatically because {why}. I've passed it to "
    "a teammate with everything you told me, so you won't need to repeat yourself. Your "
    "ticket reference is {ticket}; a person will follow up within 24 hours."
)
DENIED: Final = (
    "I'm sorry, I can't refund that: {why}. If you think this is a mistake, I can pass it to a "
    "teammate to review; just say so."
)
CONFIRM_FULL: Final = (
    "I can refund the full remaining {amount} USDC for order {order_id}. Shall I go ahead? "
    'Reply "yes", or tell me a smaller amount.'
)
ASK_WHICH: Final = "Which order would you like help with: {orders}? One at a time, please."
STILL_NOT_FOUND: Final = (
    "I still can't find order {order_id} for {email}. Could you double-check the order ID "
    "and the email address? If you'd like, I can pass this to a teammate instead."
)
STATUS_DENIED: Final = (
    "A teammate reviewed your request under ticket {ticket} and could not approve a refund. "
    "If something has changed, tell me and I'll take another look."
)
ANYTHING_ELSE: Final = "You're welcome! Is there anything else I can help you with?"
CLARIFY_AMOUNT: Final = (
    "How much would you like back? Please tell me the amount in USDC, for example "
    '"20" or "12.50", or say "full refund".'
)
STATUS_REFUND: Final = (
    "Your refund of {amount} USDC for order {order_id} is {status}. Transaction hash: {tx_hash}."
)
STATUS_TICKET: Final = (
    "Your request is with a teammate under ticket {ticket}; a person will follow up within 24 "
    "hours."
)
STATUS_NONE: Final = "I don't see a refund or open ticket in this conversation yet."
GREETING: Final = "Hello! I can look up your order and help with refunds. What can I do for you?"
OFF_TOPIC: Final = (
    "I can help with orders and refunds. If you'd like a refund, tell me your email address "
    "and order ID; for anything else I can connect you with a teammate."
)
EMPTY: Final = "I didn't catch a message there. How can I help with your order?"


def reasons_text(reasons: Sequence[str], *, window: int, cap: str) -> str:
    """Human words for reason codes, joined; the first few only."""
    parts = [
        REASON_TEXT.get(r, r.replace("_", " ")).format(window=window, cap=cap)
        for r in reasons
        if r != "within_policy"
    ]
    if not parts:
        return "it needs a person to look at it"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def facts_kept(text: str, facts: Sequence[str]) -> bool:
    """True when every fact string appears verbatim in ``text``."""
    return all(fact in text for fact in facts if fact)


# Anything that looks like a fact: hashes, ticket and order references, emails, numbers.
FACT_LIKE: Final = re.compile(
    r"0x[0-9a-fA-F]+|RT-\d+|ORD-\d+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\d+(?:[.,]\d+)*"
)
# Words that claim money moved or a decision was made.
CLAIMS: Final = re.compile(
    r"\b(refunded|refunding|transaction|tx|hash|credited|sent|paid|transferred|approved|"
    r"processed|issued|wallet|usdc|settle[sd]?)\b",
    re.IGNORECASE,
)


def grounded(text: str, draft: str) -> bool:
    """True when ``text`` states no fact and makes no claim that ``draft`` does not.

    A model may reword a reply; it may not add an amount, a hash, a reference, an email,
    or a claim that money moved (``refunded``, ``transaction``, ...) that the template
    did not already make.
    """
    if any(token not in draft for token in FACT_LIKE.findall(text)):
        return False
    draft_lower = draft.lower()
    return all(word.lower() in draft_lower for word in CLAIMS.findall(text))


async def phrase(
    model: BaseChatModel | None, draft: str, facts: Sequence[str], *, limit_seconds: float = 10.0
) -> tuple[str, bool]:
    """Let ``model`` rephrase ``draft``; keep the draft unless every fact survives.

    Returns:
        The text to send and whether the model's phrasing was used.
    """
    if model is None:
        return draft, False
    try:
        async with asyncio.timeout(limit_seconds):
            result = await model.ainvoke(
                [SystemMessage(prompts.PHRASE_SYSTEM), HumanMessage(draft)]
            )
    except Exception as exc:  # phrasing is optional: any failure sends the template
        logger.info("phrasing failed, sending the template: %s", exc)
        return draft, False
    text = result.content if isinstance(result.content, str) else ""
    text = text.strip()
    if not text or len(text) > 2000 or not facts_kept(text, facts) or not grounded(text, draft):
        return draft, False
    return text, True
