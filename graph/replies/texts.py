"""Every customer-facing string, as an English msgid (``N_``-marked for extraction).

The English text of the templates that existed before the catalogs is kept byte for
byte: the node layer still formats some of them directly (``REFUNDED.format(...)``)
until it moves to the functions of :mod:`graph.replies.compose`. Placeholders are
``str.format`` fields; a translation must keep exactly the same ones (a test checks).
"""

from __future__ import annotations

from typing import Final

from graph.replies.catalog import N_

# --- reason codes, as a clause that fits after "because" and after a colon -----------

REASON_TEXT: Final = {
    # TRANSLATORS: each reason is a clause that follows "because" (ESCALATED) and a colon
    # (DENIED), and several are joined with "{items} and {last}".
    "order_not_found": N_("I couldn't find that order for your email address"),
    "already_refunded": N_("that order has already been fully refunded"),
    "invalid_amount": N_("the amount has to be more than zero"),
    "refund_in_progress": N_("a refund for that order is already being processed"),
    "outside_window": N_("the order is older than our {window}-day refund window"),
    "exceeds_order": N_("the amount is more than what is left to refund on the order"),
    "over_per_tx_cap": N_("refunds over {cap} USDC need a teammate's approval"),
    "over_daily_budget": N_("today's automatic refund budget doesn't cover it"),
    "velocity": N_("there have been several refunds on your account recently"),
    "repeated_failed_lookups": N_("several order lookups didn't match"),
    "injection_suspected": N_("your message contained instructions I'm not able to act on"),
    "customer_requested_human": N_("you asked to speak with a person"),
    "refund_failed": N_("the payment provider couldn't complete the refund"),
    "refund_policy_violation": N_("the payment provider's limits refused the refund"),
    "refund_outcome_unknown": N_("the payment provider hasn't confirmed the refund yet"),
    "review_pending": N_("a teammate is already reviewing this order"),
}
# TRANSLATORS: a reason clause, like the ones above.
NEEDS_A_PERSON: Final = N_("it needs a person to look at it")
"""The reason given when no reason code has words of its own."""
# TRANSLATORS: {items} is "a, b" (comma-separated), {last} the last item.
AND_LAST: Final = N_("{items} and {last}")
"""Joins the last of several reasons: ``"a, b and c"``."""
# TRANSLATORS: two alternatives (order ids); applied again for a third.
OR_NEXT: Final = N_("{first} or {second}")
"""Joins alternatives: ``"ORD-1 or ORD-2 or ORD-3"``."""

# --- the templates ----------------------------------------------------------------------

ASK_BOTH: Final = N_(
    "I can help with that. Please tell me the email address you ordered with and your "
    "order ID (it looks like {example})."
)
ASK_EMAIL: Final = N_("Thanks! Which email address did you use for order {order_id}?")
ASK_ORDER: Final = N_(
    "Thanks! What is the order ID (it looks like {example}) of the order you'd like help with?"
)
LOOKUP_FAILED: Final = N_(
    "I'm sorry, I couldn't find order {order_id} for {email}. Please check the order ID and "
    "email address. If you'd like, I can pass this to a teammate instead; just say so."
)
FOUND_ASK: Final = N_(
    "I found order {order_id} ({description}, {amount} USDC). How can I help with it? "
    "If you'd like a refund, tell me whether you want the full amount or part of it."
)
YOUR_ORDER: Final = N_("your order")
"""Stands in for an order's description when it has none."""
REFUNDED: Final = N_(
    "Done! I've refunded {amount} USDC for order {order_id} to the wallet you paid with. "
    "Transaction hash: {tx_hash}. It should settle in {eta}."
)
# TRANSLATORS: a duration that follows "in" ("settle in about a minute").
ABOUT_A_MINUTE: Final = N_("about a minute")
"""The default settlement time (``SETTLEMENT_ETA``); translated when configured as is."""
ESCALATED: Final = N_(
    "I'm sorry, I can't process this refund automatically because {why}. I've passed it to "
    "a teammate with everything you told me, so you won't need to repeat yourself. Your "
    "ticket reference is {ticket}; a person will follow up within 24 hours."
)
DENIED: Final = N_(
    "I'm sorry, I can't refund that: {why}. If you think this is a mistake, I can pass it to a "
    "teammate to review; just say so."
)
CONFIRM_FULL: Final = N_(
    "I can refund the full remaining {amount} USDC for order {order_id}. Shall I go ahead? "
    'Reply "yes", or tell me a smaller amount.'
)
CONFIRM_AMOUNT: Final = N_(
    "I can refund {amount} USDC for order {order_id} to the wallet you paid with. Shall I go ahead?"
)
CONFIRM_NAMED: Final = N_(
    "I can refund {amount} USDC for order {order_id} ({description}) to the wallet you paid "
    "with. Shall I go ahead?"
)
"""``CONFIRM_AMOUNT`` for an order the agent picked by what the customer called it."""
CONFIRM_AGAIN: Final = N_(
    "Order {order_id} already has {refunded} USDC refunded. Shall I refund another {amount} "
    "USDC to the wallet you paid with?"
)
"""The very amount refunded before on the order, asked again: a second refund, or not?"""
ASK_WHICH: Final = N_("Which order would you like help with: {orders}? One at a time, please.")
STILL_NOT_FOUND: Final = N_(
    "I still can't find order {order_id} for {email}. Could you double-check the order ID "
    "and the email address? If you'd like, I can pass this to a teammate instead."
)
STATUS_DENIED: Final = N_(
    "A teammate reviewed your request under ticket {ticket} and could not approve a refund. "
    "If something has changed, tell me and I'll take another look."
)
ANYTHING_ELSE: Final = N_("You're welcome! Is there anything else I can help you with?")
CLARIFY_AMOUNT: Final = N_(
    "How much would you like back? Please tell me the amount in USDC, for example "
    '"20" or "12.50", or say "full refund".'
)
STATUS_REFUND: Final = N_(
    "Your refund of {amount} USDC for order {order_id} is {status}. Transaction hash: {tx_hash}."
)
# TRANSLATORS: the {status} of "Your refund ... is {status}."
CONFIRMED: Final = N_("confirmed")
"""The ``{status}`` of :data:`STATUS_REFUND` for a settled refund."""
REFUND_PROCESSING: Final = N_(
    "Your refund of {amount} USDC for order {order_id} is still being processed; ask me again "
    "in a few minutes for its transaction hash."
)
REFUND_NOT_THROUGH: Final = N_(
    "A refund of {amount} USDC for order {order_id} did not go through; no money was sent."
)
REFUNDS_FOUND: Final = N_("Here are the refunds I found:")
NO_REFUND_FOR_ORDER: Final = N_("I don't see a refund for order {order_id} yet.")
STATUS_TICKET: Final = N_(
    "Your request is with a teammate under ticket {ticket}; a person will follow up within 24 "
    "hours."
)
ALREADY_WITH_PERSON: Final = N_(
    "Your request is already with a teammate under ticket {ticket}, and I've added this "
    "message to it, so you won't need to repeat yourself. A person will follow up within 24 "
    "hours."
)
STATUS_NONE: Final = N_("I don't see a refund or open ticket in this conversation yet.")
GREETING: Final = N_(
    "Hello! I can look up your order and help with refunds. What can I do for you?"
)
OFF_TOPIC: Final = N_(
    "I can help with orders and refunds. If you'd like a refund, tell me your email address "
    "and order ID; for anything else I can connect you with a teammate."
)
EMPTY: Final = N_("I didn't catch a message there. How can I help with your order?")
CANCELLED: Final = N_(
    "No problem, I won't process a refund. Is there anything else I can help with?"
)
STILL_UNCLEAR: Final = N_(
    "I'm sorry, I still can't make that out. Would you like me to pass this to a teammate? "
    "They'll see everything you've written here."
)
ACKNOWLEDGED: Final = N_("All right, I'll leave it there. Is there anything else I can help with?")
UNSUPPORTED: Final = N_(
    "I'm sorry, that isn't something I can do here: I can only look up orders and handle "
    "refunds. If you'd like, I can pass your request to a teammate who can help; just say so."
)
POLICY: Final = N_(
    "Here is how refunds work: an order can be refunded within {window_days} days of "
    "purchase. I can refund up to {per_tx_cap} USDC per refund straight away (up to "
    "{daily_cap} USDC a day in total); anything more is reviewed by a teammate. Refunds go "
    "back to the wallet you paid with and settle in {eta}."
)
