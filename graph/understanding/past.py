"""Amounts the customer already had, not amounts asked for.

"I already got 10 back", "the 20 you refunded", "Sie haben mir 30 USDC erstattet", "my
refund was 20": the number names a refund that happened (or was promised), so it is never
the amount of a new request. And a question about a fact ("is the refund 20 USDC?")
asks nothing to be paid. Kept apart from :mod:`.patterns` (which it builds on) so
each module stays readable.
"""

from __future__ import annotations

import re
from typing import Final

from graph.understanding.patterns import NUM, UNIT, WANT

# An amount already received or promised ("I already got 10 back"), not one asked for;
# "to be refunded 20", "etre rembourse de 20", "ser reembolsado", "essere rimborsato"
# ask for it.
_NOT_AFTER_BE: Final = r"(?<!\bbe )(?<!\bser )(?<!\betre )(?<!\bessere )"
PAST_AMOUNT_RE: Final = re.compile(
    r"\b(?:already|previously|earlier|got|received|recibi|ya me|deja|j'ai recu|"
    r"schon|bereits|ja recebi|ja me|gia|you sent|sent me|you refunded|said i'd get|"
    # ("Erstattet mir 30": the imperative, at a sentence's start or before "mir", asks.)
    r"promised|(?<=[a-z] )erstattet(?! (?:mir|uns)\b)|reembolsaron|"
    rf"{_NOT_AFTER_BE}(?:refunded|reembolsado|(?:a|ai|as|avez|ont|ete|deja) rembourse|"
    r"rimborsato)|reembolsou|reembolsaram|estornaram|estornou|"
    r"devolveram|devolvieron|devolvisteis|devolveu|avete rimborsato|hanno rimborsato|"
    r"m'avez rembourse|zuruckerstattet|"
    rf"restituito|gave me) (?:\w+ ){{0,3}}({NUM})"
)
# The same with the amount first: "the 20 you refunded", "20 wapas mile the", "los 20
# que me devolvieron", "die 20, die ihr erstattet habt".
PAST_AFTER_RE: Final = re.compile(
    rf"({NUM}) ?{UNIT}?,? (?:(?:that |which )?(?:you|u) (?:already )?(?:refunded|sent|gave|"
    r"returned|paid back)|(?:i |we )?(?:already )?(?:got|received) back|"
    r"(?:(?:ka |ki |ke )?(?:wapas|vapas|refund) )?(?:mile|mila|mil gaye|mil gaya|mil chuke|"
    r"mil chuka|aa gaye|aa gaya|aaye|aaya|aa chuke|aa chuka)(?: the| tha| thi| hai| hain)?|"
    r"que (?:ya )?me (?:devolvieron|reembolsaron|devolvisteis|devolveram|reembolsaram)|"
    r"que vous m'avez (?:rembourse|rendu)s?|que j'ai (?:deja )?recus?|"
    r"che mi (?:avete|hanno) (?:gia )?(?:rimborsato|restituito|ridato)|"
    r"die (?:ihr|sie|du) (?:schon |bereits )?(?:erstattet|zuruckgezahlt|uberwiesen)|"
    r"die ich (?:schon |bereits )?(?:bekommen|erhalten))\b"
)
# A past participle after the amount, with no wish before it: "Sie haben mir 30 USDC
# erstattet", "30 USDC erstattet", "los 20 reembolsados": a refund that happened ("ich
# möchte 30 USDC erstattet bekommen" and "I want 20 refunded" ask: see WANTED_PAST_RE).
PAST_PARTICIPLE_RE: Final = re.compile(
    rf"({NUM}) ?{UNIT}? (?:(?:zuruck|ruck)?erstattet|zuruckgezahlt|reembolsad[oa]s?|"
    r"rimborsat[oiae]|estornad[oa]s?|devolvid[oa]s?)\b"
    r"(?! (?:bekommen|haben|werden|kriegen|lassen)\b)"
)
WANTED_PAST_RE: Final = re.compile(
    rf"\b(?:{WANT}|will|mochte|hatte gern|brauche|bitte|(?:wenn|falls) (?:ihr|sie|du))\b"
    rf"[^.!?\n]{{0,30}}{NUM}"
)
# Words that say an amount was had, not asked for: "my refund was 20", "I had 20 back".
PAST_HAD_RE: Final = re.compile(
    r"\b(?:(?:refund|money|erstattung|reembolso|remboursement|rimborso) (?:was|were|has been|"
    r"had been|war|fue|foi|etait|era)|(?:i|we) (?:had|have had|'ve had)(?! to\b)|"
    r"(?:ich|wir) hatten?(?! gerne?\b)) (?:\w+ ){0,3}(" + NUM + ")"
)
# A question about a fact, with the amount in it, not a request put as a question: "is
# the refund 20 USDC?", "do you refund 20 USDC?" ("can you refund 20?" asks, and is
# taken as asking; "Refund 20 USDC. Is that ok?" asks too).
FACT_QUESTION_RE: Final = re.compile(
    r"(?:^|[.!?\n\u00bf] ?)(?:is|are|was|were|do|does|did|will|has|have|how|what|why|when|"
    r"which|where|ist|sind|war|wird|wurde|est-ce|son|fue|sono|foi)\b[^.!?\n\d]*\d(?:[^.!?\n]|\.\d)*\?"
)


def past_positions(marked: str) -> set[int]:
    """Where, in ``marked`` text, the numbers that name a past refund start."""
    found = {m.start(1) for m in PAST_AMOUNT_RE.finditer(marked)}
    found.update(m.start(1) for m in PAST_AFTER_RE.finditer(marked))
    found.update(m.start(1) for m in PAST_HAD_RE.finditer(marked))
    wanted = {m.end() - 1 for m in WANTED_PAST_RE.finditer(marked)}
    found.update(
        m.start(1) for m in PAST_PARTICIPLE_RE.finditer(marked) if m.start(1) not in wanted
    )
    return found


# --- a refund that already happened, named as such ---------------------------------

PAST_REFUND_RE: Final = re.compile(
    r"\b(?:thanks?|thank you|thx|cheers|gracias|merci|danke|obrigad[oa]|grazie)\b"
    r"(?!,? (?:in advance|d'?avance|d avance|im voraus|de antemano|in anticipo|desde ja))"
    r"[\w ,!]{0,20}\b(?:for|por|pour|fur|pelo|pela|per) (?:[a-z]+ ){0,3}"
    r"(?:refund|reembolso|remboursement|r?u?c?k?erstattung|rimborso|devolucao|devolucion)\b|"
    r"\b(?:got|received) (?:my|the) (?:full |whole )?(?:refund|money)\b|"
    r"\b(?:refund|erstattung|reembolso|remboursement|rimborso)"
    rf"(?: (?:of|de|von|di|du|da|do) (?:{UNIT} ?)?{NUM} ?{UNIT}?)? (?:received|done|erhalten|"
    r"bekommen|recibido|recebido|recu|ricevuto|came|arrived)\b|"
    # The refund arrived, in es, fr, de, it, pt and Hinglish.
    r"\b(?:ha|han) llegado (?:el|mi) reembolso\b|\b(?:llego|recibi) (?:el|mi) reembolso\b|"
    r"\brecu (?:le|mon) remboursement\b|\ble remboursement (?:est )?(?:bien )?arrive\b|"
    r"\b(?:erstattung|ruckerstattung) (?:ist )?(?:schon |bereits )?(?:angekommen|eingegangen)\b|"
    r"\bho ricevuto il rimborso\b|\bil rimborso e (?:gia )?arrivato\b|"
    r"\b(?:recebi|chegou) o reembolso\b|\bo reembolso (?:ja )?(?:chegou|caiu)\b|"
    r"\brefund (?:aa gaya|mil gaya)\b|"
    r"\b(?:the |my )?refund (?:came|arrived|went) through\b|"
    r"\b(?:saw|seen|see|watched) (?:the|my) (?:refund|money) "
    r"(?:land|arrive|come in|come "
    r"through|go through|show up)\b|"
    r"\b(?:the|my) (?:refund|money) (?:has |have )?(?:just )?(?:landed|arrived|came in|showed up|"
    r"is in|hit my)\b(?![^.?!]{0,40}\?)|"
    r"\b(?:i see|i got|i received|got|received|see)\b[^.?!]{0,30}\brefunded\b|"
    r"\brefunded[,!.]? (?:thanks?|thank you|cheers)\b|\bback in my (?:wallet|account)\b|"
    rf"{NUM} ?{UNIT}? ?(?:arrived|came through|(?:is|are) back|landed)\b"
)
_NEGATION_BEFORE: Final = re.compile(
    r"\b(?:never|not|no|haven't|havent|hasn't|hasnt|didn't|didnt|don't|dont|can't|cant|yet|"
    r"nunca|jamais|pas|nie|nicht|noch kein\w*|mai|nahi|nao|no he|todavia no|ainda nao)\b"
    r"[\w' ]{0,20}$"
)


def refund_had(text: str) -> bool:
    """``text`` (prepared) tells of a refund that happened or arrived, or thanks for one.

    "I never got my refund", "haven't yet seen my refund come through": a negation just
    before the words is a complaint that it did not, not a refund had.
    """
    return any(
        not _NEGATION_BEFORE.search(text, max(0, m.start() - 40), m.start())
        for m in PAST_REFUND_RE.finditer(text)
    )


# A past refund and the amount it names ("thanks for the refund of 20"): not a request.
PAST_REFUND_AMOUNT_RE: Final = re.compile(
    rf"(?:{PAST_REFUND_RE.pattern})"
    rf"(?: (?:of|for|de|der|von|del|di|da|do|du|dei|das) (?:{UNIT} ?)?{NUM} ?{UNIT}?)?"
)


__all__ = [
    "FACT_QUESTION_RE",
    "PAST_AFTER_RE",
    "PAST_AMOUNT_RE",
    "PAST_HAD_RE",
    "PAST_PARTICIPLE_RE",
    "PAST_REFUND_AMOUNT_RE",
    "PAST_REFUND_RE",
    "refund_had",
    "WANTED_PAST_RE",
    "past_positions",
]
