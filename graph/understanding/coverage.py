"""Whether the rules read a whole message: then no model is asked.

A model adds something only where the rules leave words unread. A message is *read
fully* when every word in it is one of:

* a fact the rules extracted: the one email address, the one order id, the one amount
  (digits and a currency word);
* a word the rules act on: a refund word, a yes, a reason ("arrived damaged",
  "stopped working");
* a word that carries no fact in a support chat (:data:`NEUTRAL`: pronouns, articles,
  "can"/"could", courtesy; never a tense, a negation, a quantity, a correction, a
  number, a destination ("to") or a claim of who the writer is ("support team"));

and the reading itself is plain: no question mark, no injection signal, no question
topic, at most one order id, no amount that needs stating back. Anything else ("my 3
mugs", "twenty", "no wait", "for my sister", a product's name) leaves a word unread, and
the model is asked as before. Skipping the model never widens what money can do: the rules' reading
is what grounds a model's claims anyway, and it is the whole of offline mode.
"""

from __future__ import annotations

import re
from typing import Final

from graph.understanding import asking as A
from graph.understanding import languages as L
from graph.understanding import patterns as P
from graph.understanding.model import Understanding
from graph.understanding.rules import emails_in
from graph.understanding.text import prepare

NEUTRAL: Final = frozenset(word for table in L._WORDS["neutral_words"].values() for word in table)
"""Words with no fact of their own, every supported language (folded)."""

_REFUND_STEMS: Final = tuple(
    sorted({w for ws in L.REFUND_WORDS.values() for w in ws if " " not in w}, key=len)
)
_YES: Final = frozenset(w for ws in L.YES_WORDS.values() for w in ws if " " not in w and w != "si")
"""Single yes words ("si" is also "if" in Spanish and Italian: not taken alone)."""
_UNIT_RE: Final = re.compile(rf"(?<![a-z]){P.UNIT}(?![a-z])")
_NUMBER_RE: Final = re.compile(r"\d(?:[\d.,]*\d)?")
_WORD_RE: Final = re.compile(r"[^\W\d_](?:[\w'-]*[^\W_])?")
_PLAIN_INTENTS: Final = frozenset({"refund", "provide_info", "greeting"})


def _known(word: str) -> bool:
    return word in NEUTRAL or word in _YES or word.startswith(_REFUND_STEMS)


def read_fully(message: str, understanding: Understanding) -> bool:
    """True when ``understanding`` (the rules' reading of ``message``) leaves nothing unread."""
    u = understanding
    reading = u.reading
    plain = u.intent in _PLAIN_INTENTS or (u.intent == "other" and u.affirmative)
    if not plain or u.negative or u.topic is not None or u.injection_signals:
        return False
    if reading.kind not in ("none", "exact", "full") or reading.why_confirm is not None:
        return False
    if reading.kind != "none" and not reading.final:
        return False
    text = prepare(message)
    if "?" in text:
        return False  # a question: "is the refund 20 USDC?" asks, it does not request
    emails = emails_in(text)
    if len(emails) > 1 or len(u.order_ids) > 1:
        return False
    rest = P.SPELLED_EMAIL_RE.sub(" ", P.EMAIL_RE.sub(" ", text))
    rest = P.BARE_ORDER_RE.sub(" ", P.ORDER_RE.sub(" ", rest))
    for _, pattern in A.REASONS:
        rest = pattern.sub(" ", rest)
    rest = _UNIT_RE.sub(" ", rest)
    numbers = _NUMBER_RE.findall(rest)
    if len(numbers) > 1 or (numbers and reading.kind != "exact"):
        return False
    return all(_known(word) for word in _WORD_RE.findall(rest))


__all__ = ["NEUTRAL", "read_fully"]
