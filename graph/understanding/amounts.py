"""How much a customer asks back, read from their own words: the money rule's input.

:func:`read_amount` turns a prepared message into an :class:`AmountReading`. Numbers are
found once by one linear scan (digits with any grouping; numbers in words converted
per language by text2num first) and each is replaced by :data:`~.patterns.NUM`, so the
patterns that decide what a number means see one character per number.

The reading is ``final`` (money may move without a confirmation) only for one amount
written in digits, tied to the asking, with nothing to interpret. Everything else is
read as well as it can be and marked with why it must be confirmed: a correction
("20, wait no, 12": 12), arithmetic ("10 and another 5": 15; "10 times 50": 500),
several amounts, an amount in words, a percentage or fraction of what is left, or a
count of items (never money).
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal
from typing import Final

from core.money import InvalidAmount, parse_usdc
from graph.understanding import patterns as P
from graph.understanding import whole as W
from graph.understanding.model import AmountReading, ConfirmWhy
from graph.understanding.numbers import (
    NUMBER_TOKEN,
    Number,
    digits_for_words,
    mark_numbers,
    parse_amount_text,
)
from graph.understanding.past import PAST_REFUND_AMOUNT_RE, past_positions

HUNDRED: Final = Decimal(100)
_AMBIGUOUS_GROUPING: Final = re.compile(r"\d{1,3}[.,]\d{3}")


_NUMBER_RUN_RE: Final = re.compile(rf"{P.NUM}(?:[ .-]{P.NUM}){{3,}}")


def _indexes(marked: str) -> dict[int, int]:
    """Position of each :data:`~.patterns.NUM` in ``marked`` -> index of its number."""
    return {pos: i for i, pos in enumerate(m.start() for m in re.finditer(P.NUM, marked))}


def read_amount(
    marked: str,
    numbers: list[Number],
    *,
    asks: bool,
    reason: bool = False,
    question: bool = False,
    dot_groups: bool = False,
) -> AmountReading:
    """The reading of a message whose numbers are marked (see :func:`mark_numbers`).

    ``dot_groups``: the message's language groups thousands with a dot and writes
    decimals with a comma (de, es, fr, it, pt): "1.000" is a thousand, "2,500" two and a
    half (stated back either way).

    ``asks``: the message asks for money back in so many words (a refund verb, "money
    back"); ``reason``: it says what went wrong (a number in it may be the amount, never
    a final one); ``question``: it is a question (the whole amount is then confirmed).
    In order: numbers that are not amounts
    are set aside (times, counts of items, past refunds); "8 dollars and 50 cents" is
    joined; then a number tied to the asking ("refund 20", "20 USDC back") or marked as
    money decides, with corrections and sums read across every number; without one, a
    percentage, a fraction, "the rest"/"everything", and last a bare number (stated
    back for a yes).
    """
    marked = P.REST_FINE_RE.sub(" ", marked)  # the other items, fine: not money
    at = _indexes(marked)
    numbers = list(numbers)
    spans = {at[m.start(1)] for m in P.TIME_SPAN_RE.finditer(marked)}
    for match in P.NOT_MONEY_RE.finditer(marked):
        spans.update(at[match.start(g)] for g in range(1, 5) if match.start(g) >= 0)
    for match in P.PHONE_RE.finditer(marked):
        if sum(ch.isdigit() for ch in numbers[at[match.start(1)]].raw) >= 6:
            spans.add(at[match.start(1)])
    for match in _NUMBER_RUN_RE.finditer(marked):
        # "06 12 34 56 78": four or more numbers in a row are a phone number or a code.
        spans.update(at[pos] for pos in range(match.start(), match.end()) if pos in at)
    spans.update(i for i, n in enumerate(numbers) if _year(n))
    past = {at[pos] for pos in past_positions(marked)}
    ignored: set[int] = spans | past
    ignored.update(at[m.start(1)] for m in P.PRICE_RE.finditer(marked))
    ignored.update(at[m.start(2)] for m in P.SHARE_OF_RE.finditer(marked))
    for match in PAST_REFUND_AMOUNT_RE.finditer(marked):
        ignored.update(i for pos, i in at.items() if match.start() <= pos < match.end())
    # "8 dollars and 50 cents"; "twelve dollars fifty" (two digits after the dollars).
    joins = (
        list(P.CENTS_RE.finditer(marked))
        + [m for m in P.DOLLARS_CENTS_RE.finditer(marked) if len(numbers[at[m.start(2)]].raw) == 2]
        + [
            m
            for m in P.SPOKEN_CENTS_RE.finditer(marked)
            if numbers[at[m.start(1)]].words
            and numbers[at[m.start(2)]].words
            and len(numbers[at[m.start(2)]].raw) == 2
        ]
        + [
            m
            for m in P.SPOKEN_PRICE_RE.finditer(marked)
            if numbers[at[m.start(1)]].words
            and numbers[at[m.start(2)]].words
            and len(numbers[at[m.start(2)]].raw) == 2
            and len(numbers[at[m.start(1)]].raw) == 2  # "twelve fifty"; "two twenty" is not
        ]
    )
    for match in joins:
        whole, cents = at[match.start(1)], at[match.start(2)]
        a, b = numbers[whole], numbers[cents]
        if a.value is not None and b.value is not None and b.value < HUNDRED:
            joined = a.value + b.value / HUNDRED
            numbers[whole] = Number(raw=f"{a.raw}.{b.raw}", value=joined, words=a.words or b.words)
            ignored.add(cents)
    counts: set[int] = set()
    for pattern in (P.COUNT_AFTER_RE, P.COUNT_BEFORE_RE, P.COUNT_OF_THINGS_RE, P.COUNT_TOTAL_RE):
        counts.update(at[m.start(1)] for m in pattern.finditer(marked))
    for match in P.COUNT_OF_RE.finditer(marked):
        counts.update((at[match.start(1)], at[match.start(2)]))
    # "less than 10", "menos de 10": a bound, not an amount (how much is asked).
    counts.update(at[m.start(1)] for m in W.BOUND_RE.finditer(marked))
    # "ek earbud", "one earbud", "un auricular": one of a thing, said in words.
    counts.update(
        at[m.start(1)]
        for m in W.ONE_THING_RE.finditer(marked)
        if numbers[at[m.start(1)]].words and numbers[at[m.start(1)]].value == 1
    )
    percents = [at[m.start(1)] for m in P.PERCENT_RE.finditer(marked)]
    usable = [
        i for i in range(len(numbers)) if i not in ignored and i not in counts and i not in percents
    ]
    asked = _asked_indexes(marked, at, numbers) & set(usable)
    money = _money_indexes(marked, at) & set(usable)
    tied = [i for i in usable if i in asked or i in money]
    pool = usable if (tied or asks or reason) else []

    of_a_number = _share_of_a_number(marked, at, numbers, usable, counts)
    if of_a_number is not None:
        return of_a_number

    each = P.EACH_RE.search(marked)
    if each is not None and not (asked - {at[each.start(1)]}):
        # "12 each" with nothing else asked for: price times count ("they're 9 each, can
        # I get 9 back" asks for the 9).
        price = numbers[at[each.start(1)]].value
        # ("9 pro Stück": the price's own "Stück" does not make the 9 a count.)
        many = [numbers[i].value for i in sorted(counts) if i != at[each.start(1)]]
        besides = [i for i in usable if i != at[each.start(1)]]
        if price is not None and len(many) >= 1 and many[0] is not None:
            return _confirm(price * min(v for v in many if v is not None), "arithmetic")
        if len(besides) == 1 and (asks or reason or tied):
            return _pick(numbers[besides[0]], "arithmetic")  # "12, they're 6 each": the 12
        return AmountReading(kind="unclear", why_confirm="arithmetic")

    times = P.TIMES_RE.search(marked)
    if times is not None and {at[times.start(1)], at[times.start(2)]} <= set(usable):
        a, b = numbers[at[times.start(1)]], numbers[at[times.start(2)]]
        if a.value is not None and b.value is not None:
            return _confirm(a.value * b.value, "arithmetic")
        return AmountReading(kind="unclear", why_confirm="arithmetic")

    if len(pool) >= 2:
        negated = P.NOT_AMOUNT_RE.search(marked)
        if negated is not None and set(tied) - {at[negated.start(1)], at[negated.start(2)]}:
            negated = None  # "(170 not 180), I'd like 6 dollars back": the 6 is asked for
        if negated is not None and {at[negated.start(1)], at[negated.start(2)]} <= set(pool):
            first = at[negated.start(1)]  # "25, not 30"
            said = numbers[first]
            if first in asked and said.value is not None and not said.words:
                # "refund 20 USDC, not 200": asked for in digits, the other ruled out.
                return _confirm(said.value, "correction")
            return _pick(said, "correction")
        instead = P.NOT_BUT_RE.search(marked)
        if instead is not None and {at[instead.start(1)], at[instead.start(2)]} <= set(pool):
            return _pick(numbers[at[instead.start(2)]], "correction")  # "not 30 but 25"
        rather = P.INSTEAD_OF_RE.search(marked)
        if (
            rather is not None
            and at[rather.start(1)] in asked
            and {at[rather.start(1)], at[rather.start(2)]} <= set(pool)
        ):
            return _pick(numbers[at[rather.start(1)]], "correction")  # "20 instead of 45"
        if _corrected_between(marked, pool):
            return _pick(numbers[pool[-1]], "correction")
        plus = P.PLUS_RE.search(marked)
        if plus is not None and {at[plus.start(1)], at[plus.start(2)]} <= set(pool):
            a, b = numbers[at[plus.start(1)]], numbers[at[plus.start(2)]]
            if a.value is not None and b.value is not None:
                return _confirm(a.value + b.value, "arithmetic")
        minus = P.MINUS_RE.search(marked)
        if minus is not None and {at[minus.start(1)], at[minus.start(2)]} <= set(usable):
            a, b = numbers[at[minus.start(1)]], numbers[at[minus.start(2)]]
            if a.value is not None and b.value is not None and a.value > b.value:
                return _confirm(a.value - b.value, "arithmetic")
        lead = P.LEAD_AMOUNT_RE.match(marked) if len(marked) <= 60 else None
        if lead is not None and at[lead.start(1)] == pool[0] and lead.group(2) and not tied:
            # "14, ek glass 7 ka hai", "16, they're 8 a glass": the answer leads, the rest
            # explains it; stated back for a yes.
            return _pick(numbers[pool[0]], "several")

    if tied:
        values = {numbers[i].value for i in tied}
        chosen_i: int | None = tied[0] if len(values) == 1 else None
        if chosen_i is None:
            share = [i for i in _share_indexes(marked, at) if i in tied]
            asked_ones = [i for i in tied if i in asked]
            if len(share) == 1:
                chosen_i = share[0]  # "20 of the 45 back": the first is asked for
            elif len(asked_ones) == 1 and len({numbers[i].value for i in asked_ones}) == 1:
                chosen_i = asked_ones[0]
        if chosen_i is None:
            return AmountReading(kind="unclear", why_confirm="several")
        chosen = numbers[chosen_i]
        if chosen.value is None:
            return AmountReading(kind="unclear", why_confirm="several")
        if chosen.words:
            return _confirm(chosen.value, "words")
        if _AMBIGUOUS_GROUPING.fullmatch(chosen.raw):
            # "1.000" / "1,000": a thousand in one locale, one in another. Read it the
            # way the message's language writes numbers, and confirm it.
            local = chosen.raw.replace(".", "") if dot_groups else chosen.raw.replace(",", "")
            if dot_groups and "," in chosen.raw:
                local = chosen.raw.replace(",", ".")
            return _confirm(Decimal(local), "several")
        others = {numbers[i].value for i in usable} - {chosen.value}
        # Final only when the message holds this one number and nothing else to read
        # (no price, count, time or past refund beside it): any other number means the
        # reading took interpretation, and an interpretation is confirmed.
        # Numbers written in words that nothing ties to money ("una candela") count things.
        wordy = {i for i, n in enumerate(numbers) if n.words and i not in asked and i not in money}
        alone = len({n.raw for n in numbers}) == 1 or _only_spans_and_counts(
            marked, chosen_i, numbers, spans | counts | wordy, asked=asked
        )
        final = (chosen_i in asked or (chosen_i in money and asks)) and not others and alone
        if final and _corrected_after(marked, chosen_i):
            # "refund 18, no, make that 16.": whatever else the second number seemed to
            # be, a correction after the amount means the reading is stated back.
            return _pick(chosen, "correction")
        if (
            final
            and chosen.value < 10
            and "." not in chosen.raw
            and (wordy or P.OTHER_ITEMS_RE.search(marked))
        ):
            # "refund 1 please, the other two are fine": a small bare number beside
            # things counted may count them too.
            return _confirm(chosen.value, "unstated")
        if final and P.MULTIPLIER_RE.search(marked) and each is None:
            return _confirm(chosen.value, "arithmetic")  # "10 back on each of the 2 mugs"
        if final:
            return AmountReading(kind="exact", value=chosen.value, final=True)
        return _confirm(chosen.value, "several" if others or not alone else "unstated")

    if percents and W.PERCENT_OF_A_PART_RE.search(marked):
        # "50% of the left earbud", "works 50% of the time": not a share of the order.
        return AmountReading(kind="unclear", why_confirm="percentage")
    if percents:
        value = numbers[percents[-1]].value
        if value == HUNDRED and len(set(percents)) == 1 and len(numbers) == 1:
            # "a 100% refund": the whole order; "I'm 100% sure it's broken" is stated back.
            to_refund = bool(W.HUNDRED_PERCENT_REFUND_RE.search(marked))
            return AmountReading(
                kind="full",
                final=asks and not question and to_refund,
                why_confirm=None if asks and not question and to_refund else "percentage",
            )
        if value is None or value > HUNDRED or len(set(percents)) > 1:
            return AmountReading(kind="unclear", why_confirm="percentage")
        return AmountReading(kind="fraction", ratio=value / HUNDRED, why_confirm="percentage")
    # "refund the rest" is final, also beside how long ago ("3 weeks and it never came,
    # I want a full refund"); "is the full amount back?" or "the rest, I got 10 back
    # already" (a number to read beside it) is stated and confirmed.
    whole_final = (
        asks
        and not question
        and set(range(len(numbers))) <= spans
        and not P.PART_OF_SET_RE.search(marked)
        # "the rest" is stated back: "refund the mug, I'll keep the rest" is not the rest
        # of the money; only the whole said in so many words is final ("full refund",
        # "refund everything", "all my money back"), never beside a part ("except", "only").
        and not P.REST_RE.search(marked)
        and bool(W.EXPLICIT_FULL_RE.search(marked))
        and not W.PARTIAL_RE.search(marked)
        and not W.FULL_OF_A_PART_RE.search(marked)
    )
    everything = AmountReading(
        kind="full", final=whole_final, why_confirm=None if whole_final else "unstated"
    )
    if P.OTHER_HALF_RE.search(marked):
        # "the other half", after a first one; but "the other half is dead, half my money
        # back" describes the product: stated back either way, never final.
        return AmountReading(kind="full", why_confirm="fraction")
    if any(P.HALF_OF_ITEMS_RE.match(marked, m.end()) is None for m in P.HALF_RE.finditer(marked)):
        return AmountReading(kind="fraction", ratio=Decimal("0.5"), why_confirm="fraction")
    if P.TWO_THIRDS_RE.search(marked):
        two_thirds = (Decimal(2) / Decimal(3)).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
        return AmountReading(kind="fraction", ratio=two_thirds, why_confirm="fraction")
    if P.THIRD_RE.search(marked):
        third = (Decimal(1) / Decimal(3)).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
        return AmountReading(kind="fraction", ratio=third, why_confirm="fraction")
    if P.QUARTER_RE.search(marked):
        return AmountReading(kind="fraction", ratio=Decimal("0.25"), why_confirm="fraction")
    if P.FULL_RE.search(W.FULL_ELSE_RE.sub(" ", marked)) and not pool:
        if W.NOT_FULL_RE.search(marked) or W.PARTIAL_RE.search(marked):
            # "a partial refund, not the full amount", "everything works except one":
            # part of it, how much not said.
            return AmountReading(kind="unclear", why_confirm="unstated")
        return everything
    if P.WHOLE_MONEY_RE.search(marked) and not pool:
        return AmountReading(kind="full", why_confirm="unstated")
    if pool:
        # A number beside "total"/"everything" ("12 au total"): the number, confirmed.
        values = {numbers[i].value for i in pool}
        if len(values) == 1 and None not in values:
            return _pick(numbers[pool[0]], "unstated")
        return AmountReading(kind="unclear", why_confirm="several")
    if counts:
        return AmountReading(kind="unclear", why_confirm="count")
    if P.VAGUE_RE.search(marked):
        return AmountReading(kind="unclear", why_confirm="unstated")
    return AmountReading()


def _only_spans_and_counts(
    marked: str,
    chosen: int,
    numbers: list[Number],
    aside: set[int],
    *,
    asked: set[int],
) -> bool:
    """Whether the chosen number is the only money in the message.

    It is tied to the asking ("refund $7.5", "12 back"), every other number is a count,
    a time span, a size, a year, a time of day or a phone number ("3 cloths instead of 5",
    "after 2 weeks", "size 10"), and there is no sum or product to read across them.
    """
    if chosen not in asked:
        return False
    if any(i not in aside for i in range(len(numbers)) if i != chosen):
        return False
    return not (P.PLUS_RE.search(marked) or P.TIMES_RE.search(marked))


def _share_of_a_number(
    marked: str, at: dict[int, int], numbers: list[Number], usable: list[int], counts: set[int]
) -> AmountReading | None:
    """That share of the number written ("half of 20", "50% of 30"), stated back for a yes.

    None when no share names a number of its own (a share of the order is read later).
    """
    shares: list[tuple[Decimal, int]] = []
    for match in P.PERCENT_RE.finditer(marked):
        value = numbers[at[match.start(1)]].value
        if value is not None and value <= HUNDRED:
            shares.append((value / HUNDRED, match.end()))
    shares += [(Decimal("0.5"), m.end()) for m in P.HALF_RE.finditer(marked)]
    shares += [(Decimal(1) / Decimal(3), m.end()) for m in P.THIRD_RE.finditer(marked)]
    shares += [(Decimal("0.25"), m.end()) for m in P.QUARTER_RE.finditer(marked)]
    for ratio, end in shares:
        of = P.OF_NUMBER_RE.match(marked, end)
        if of is None:
            continue
        base = at[of.start(1)]
        written = numbers[base].value
        if base in counts or base not in usable or written is None:
            return AmountReading(kind="unclear", why_confirm="fraction")  # half of 3 mugs
        value = (written * ratio).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return _confirm(value, "arithmetic") if value > 0 else None
    return None


def _year(number: Number) -> bool:
    """A year ("the 2025 planner"): four plain digits from 1990 to 2039."""
    raw = number.raw
    return len(raw) == 4 and raw.isdigit() and 1990 <= int(raw) <= 2039


def _pick(number: Number, why: ConfirmWhy) -> AmountReading:
    """``number`` as an amount to state and confirm (unclear when it is not valid money)."""
    if number.value is None:
        return AmountReading(kind="unclear", why_confirm=why)
    return _confirm(number.value, "words" if number.words and why == "unstated" else why)


def _confirm(value: Decimal, why: ConfirmWhy) -> AmountReading:
    try:
        amount = parse_usdc(value, allow_zero=False)
    except InvalidAmount:
        return AmountReading(kind="unclear", why_confirm=why)
    return AmountReading(kind="exact", value=amount, why_confirm=why)


def _positions(marked: str) -> list[tuple[int, int]]:
    return [(i, m.start()) for i, m in enumerate(re.finditer(P.NUM, marked))]


def _asked_indexes(marked: str, at: dict[int, int], numbers: list[Number]) -> set[int]:
    """Numbers tied to the asking; "delivered on the 14, refund 10": the comma ends the 14."""
    return {
        at[m.start(1)]
        for p in P.ASKED_AMOUNT_PATTERNS
        for m in p.finditer(marked)
        if not (m.end(1) < m.end() and marked.startswith(",", m.end(1)))
    }


def _share_indexes(marked: str, at: dict[int, int]) -> list[int]:
    return [at[m.start(1)] for m in P.ASKED_AMOUNT_PATTERNS[1].finditer(marked)]


def _money_indexes(marked: str, at: dict[int, int]) -> set[int]:
    return {at[m.start(1)] for p in P.MONEY_PATTERNS for m in p.finditer(marked)}


def _corrected_between(marked: str, candidates: list[int]) -> bool:
    """A correction marker stands between the first and the last candidate amount."""
    where = dict(_positions(marked))
    first, last = where[candidates[0]], where[candidates[-1]]
    return any(first < m.start() < last for m in P.CORRECTION_RE.finditer(marked))


def _corrected_after(marked: str, chosen: int) -> bool:
    """A correction marker follows the chosen amount and another number follows it."""
    where = dict(_positions(marked))
    after = [m.start() for m in P.CORRECTION_RE.finditer(marked) if m.start() > where[chosen]]
    return bool(after) and any(pos > after[0] for pos in where.values())


_TIME_NEXT: Final = re.compile(
    r"\W{0,3}(?:days?|weeks?|months?|hours?|dias?|semanas?|meses|jours?|semaines?|mois|"
    r"tage\w*|wochen|monate\w*|giorni|settimane|mesi|din|hafte|mahine|min|mins|minutes?|"
    r"minuten|minutos|minuti|secs?|seconds?)\b"
)
_COUNT_NEXT: Final = re.compile(
    r"\W{0,3}(?:are|is|of them|of the|pieces?|items?|pairs?|units?|sind|son|sont|sono|sao|"
    r"hain|wala|wale)\b"
)
_PAST_AFTER: Final = re.compile(
    r"\b(?:was|were|came|already|got|received|refunded|ago|schon|bereits|bekommen|erhalten|"
    r"deja|ja|gia|pehle|mil gaye|mil gaya|aa gaye|hace|il y a|fa|atras|recibi|recebi|recu|"
    r"ricevuto)\b"
)
"""After a reply's leading number: a time ("2 days ago"), or a refund that happened."""


def short_answer(marked: str, numbers: list[Number]) -> Decimal | None:
    """The amount of a short answer ("20", "ok, 20 USDC then", "just 15 please").

    Only a message that is essentially one amount counts: a number inside a longer
    sentence answers nothing.
    """
    digits = [n for n in numbers if not n.words]
    if len(digits) != 1 or digits[0].value is None:
        return None
    if any(p.search(marked) for p in (P.PERCENT_RE, P.EACH_RE, P.TIMES_RE)):
        return None  # "50%", "5 each": a share or a product, read by read_amount
    if _AMBIGUOUS_GROUPING.fullmatch(digits[0].raw):
        return None  # "1.000": a thousand or one, by locale; read_amount states it back
    if len(numbers) == 1 and P.SHORT_ANSWER_RE.match(marked) is not None:
        return digits[0].value
    # "no, just 9 for the one glass": a short reply that leads with its only amount in
    # digits (any other number in words counts things), with nothing corrected after it.
    lead = P.REPLY_LEAD_RE.match(marked) if len(marked) <= 80 else None
    if lead is None or numbers[0] is not digits[0]:
        return None
    if (
        _TIME_NEXT.match(marked, lead.end())
        or _COUNT_NEXT.match(marked, lead.end())
        or _PAST_AFTER.search(marked, lead.end())
    ):
        return None  # "no, 20 was already refunded", "yes, 2 days ago": not how much
    if not P.CORRECTION_RE.search(marked, lead.end()):
        return digits[0].value
    return None


__all__ = [  # the numbers are found in .numbers, read through this module too
    "NUMBER_TOKEN",
    "Number",
    "digits_for_words",
    "mark_numbers",
    "parse_amount_text",
    "read_amount",
    "short_answer",
]
