"""Which of a signed-in customer's orders a message means, by what the orders are.

A customer the backend has signed in rarely knows an order id: "the gaming mouse, not
the mouse pad", "charger wala, cover nahi". Their own orders are known, so the words of
each order's description are looked for in the message; an order whose word is negated
("nicht das mauspad", "cover nahi", "not the hoodie") is ruled out. Only orders of the
signed-in customer are ever considered, and an order picked this way is stated back with
its amount for a yes before any money moves (the caller makes sure of that).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from graph.understanding.text import fold
from persistence.models import Order

MAX_ORDERS: Final = 8
"""The most recent orders of a customer considered (and listed when asking which)."""

_WORD: Final = re.compile(r"[a-z0-9]+")
_NEGATION: Final = frozenset(
    {"not", "no", "nicht", "kein", "keine", "pas", "non", "nao", "nahi", "nai", "nhi", "ni"}
)
_NOT_NAMING: Final = frozenset(
    {
        "with",
        "from",
        "pack",
        "size",
        "color",
        "colour",
        "set",
        "for",
        "and",
        "the",
        "der",
        "die",
        "das",
        "und",
        "mit",
        "von",
        "fur",
        "con",
        "por",
        "para",
        "pour",
        "avec",
        "les",
        "des",
        "del",
        "della",
        "com",
        "uma",
        "one",
        "two",
        "three",
        "new",
        "blue",
        "black",
        "white",
        "red",
        "green",
        "grey",
        "gray",
        "large",
        "small",
        "medium",
        "teilig",
    }
)


_KEEPING: Final = re.compile(
    r"\b(?:keep|keeping|behalte\w*|je (?:la |le |les )?garde|me (?:lo|la|los|las) quedo|"
    r"(?:lo|la|li|le) tengo|fico com|rakh (?:lunga|lungi|leta|leti|raha|rahi))\b"
)


def keeps(text: str) -> bool:
    """``text`` says the customer keeps something: an order named there is not refunded.

    "no thanks, I'll keep the phone case" declines; it names no order to refund instead.
    """
    return bool(_KEEPING.search(fold(text)))


@dataclass(frozen=True, slots=True)
class Choice:
    """The order meant (``order_id``), or the orders to ask between (``candidates``)."""

    order_id: str | None = None
    candidates: list[str] = field(default_factory=list)


def _naming_words(description: str) -> set[str]:
    words = {w for w in _WORD.findall(fold(description)) if len(w) >= 4 and not w.isdigit()}
    return words - _NOT_NAMING


def _named(words: list[str], naming: set[str]) -> tuple[bool, bool]:
    """(named, negated): a naming word appears; every appearance is negated."""
    seen = negated_all = False
    for i, word in enumerate(words):
        if word not in naming and not any(word.startswith(n) for n in naming if len(n) >= 5):
            continue
        negated = bool(_NEGATION & set(words[max(0, i - 2) : i])) or (
            i + 1 < len(words) and words[i + 1] in {"nahi", "nai", "nhi", "not", "no"}
        )
        negated_all = negated if not seen else negated_all and negated
        seen = True
    return seen, seen and negated_all


def named_order(text: str, orders: Sequence[Order]) -> str | None:
    """The one order ``text`` names by its description (never by being the only one)."""
    words = _WORD.findall(fold(text))
    meant = []
    for order in orders:
        named, negated = _named(words, _naming_words(order.description))
        if named and not negated:
            meant.append(order.id)
    return meant[0] if len(meant) == 1 else None


def choose(text: str, orders: Sequence[Order]) -> Choice:
    """The one order ``text`` means among ``orders`` (a customer's own), if it is clear."""
    if len(orders) <= 1:
        return Choice(order_id=orders[0].id if orders else None)
    meant = named_order(text, orders)
    if meant is not None:
        return Choice(order_id=meant)
    return Choice(candidates=[o.id for o in orders][:MAX_ORDERS])


__all__ = ["MAX_ORDERS", "Choice", "choose", "named_order"]
