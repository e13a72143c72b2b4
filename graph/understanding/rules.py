"""Offline understanding: the normaliser, keywords of every supported language, patterns.

The default when no model is configured, the fallback whenever the model fails, and
the ground every model claim is checked against.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
from typing import Final

from graph.understanding import amounts
from graph.understanding import asking as A
from graph.understanding import patterns as P
from graph.understanding.emails import corrected_email, emails_in, normalize_email
from graph.understanding.injection import INJECTION_PATTERNS
from graph.understanding.languages import detect, spelled_right
from graph.understanding.model import AmountReading, Intent, Topic, Understanding
from graph.understanding.past import FACT_QUESTION_RE, past_positions, refund_had
from graph.understanding.text import clean_message, fold, normalise, prepare

_NOT_LANGUAGE: Final = frozenset({"ord", "order", "usdc", "usd"})


def _words_only(text: str) -> str:
    """``text`` without emails, ids, numbers, links or currency codes (one pass)."""
    return " ".join(
        token
        for token in text.split()
        if not any(ch.isdigit() or ch in "@/" for ch in token)
        and token.strip(".,:;!?()").lower() not in _NOT_LANGUAGE
    )


_NOT_X_ITS_Y: Final = re.compile(
    r"\b(?:not|nicht|no|non|nao|pas|nahi) (?:(?:e|es|est|ist|is|era|it's|c'est|ce n'est) )?"
    r"(?:el |la |le |l'|il |lo |o |a |der |die |das |the )?"
    r"(?:(?:order|commande|pedido|bestellung|ordine|encomenda) )?"
    r"([a-z0-9#-]{3,20})[,;.]? (?:el|la|le|il|o|der|die|das|the|it'?s|it is|but|rather|"
    r"i meant|i mean|sondern|ich meine|sino|quiero decir|es el|mais|je veux dire|c'est|ma|"
    r"intendo|intendevo|mas|quero dizer|e o|e a|matlab|je voulais dire|queria dizer|"
    r"volevo dire|quise decir|queria decir|ich meinte|i meant to say|e|es|est|ist|is)(?: l'| )"
    r"(?:(?:la|le|el|o|a|il|der|die|das|the) )?([a-z0-9#-]{3,20})\b"
)


def normalize_order_id(raw: str) -> str | None:
    """``ord 1001``, ``#ORD-1001``, ``order no. 1001`` -> ``ORD-1001``; None if not an id."""
    text = prepare(raw)
    match = P.ORDER_RE.search(text)
    if match:
        return f"ORD-{match.group(1)}"
    stripped = raw.strip().upper()
    if re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{2,63}", stripped):
        return stripped
    return None


DOT_GROUPING_LANGUAGES: Final = frozenset({"de", "es", "fr", "it", "pt"})
"""Languages writing a thousand as "1.000" and two and a half as "2,5"."""


# "sorry, not 1002": the number after a correction is the one ruled out, not the one meant.
_NEGATED_BEFORE: Final = re.compile(r"\b(?:not|no|nicht|pas|nao|non|nahi)\W{0,3}$")
_CORRECTED_NUMBER: Final = re.compile(r"([^\d]{1,30}?)(\d{3,20})(?![\d.,]\d)")


# "devolveme la mitad de lo que queda", "refund what's left please": a refund verb tied to
# the rest in one clause ("my refund came through, forget about the rest" is not).
_REST_ASKED: Final = re.compile(
    rf"\b(?:{P.ASK_WORDS})\w*(?: [a-z'%]+){{0,6}} (?:{P.REST_RE.pattern})"
)
_WHOLE_NUMBER: Final = re.compile(r"(?<![\d.,])\d+(?![\d]|[.,]\d)")
# "ORD-1001, not 1002": a number ruled out beside an order id of its length is an id.
_RULED_OUT_NUMBER: Final = re.compile(
    r"\b(?:not|no|nicht|pas|nao|non|nahi)\W{1,3}(?:(?:the|el|la|le|die|der|o|a|il)\s)?"
    r"(?<![\d.,])(\d{3,20})(?![\d]|[.,]\d)"
)


def _without_ruled_out_ids(text: str, kept: str | None) -> str:
    """``text`` with numbers ruled out as order ids ("not 1002" beside ORD-1001) blanked."""
    if kept is None:
        return text
    digits = kept.removeprefix("ORD-")

    def blank(m: re.Match[str]) -> str:
        number = m.group(1)
        if len(number) != len(digits) or number == digits:
            return m.group(0)
        return m.group(0)[: m.start(1) - m.start()] + " " * len(number)

    return _RULED_OUT_NUMBER.sub(blank, text)


def _several_numbers_for_an_order(text: str, kept: str) -> bool:
    """Another order id, or another number of the same length, was written beside ``kept``."""
    digits = kept.removeprefix("ORD-")
    written = {m.group(1) for p in (P.ORDER_RE, P.BARE_ORDER_RE) for m in p.finditer(text)}
    same_length = {n for n in _WHOLE_NUMBER.findall(text) if len(n) == len(digits)}
    return bool((written | same_length) - {digits})


def order_ids_in(text: str) -> tuple[str, ...]:
    """Every order id in prepared ``text``; "not X, it's Y" keeps only Y."""
    mentions = sorted(
        (m.start(), m.end(), f"ORD-{m.group(1)}")
        for pattern in (P.ORDER_RE, P.BARE_ORDER_RE)
        for m in pattern.finditer(text)
    )
    ids = list(dict.fromkeys(i for _, _, i in mentions))
    if mentions:
        # "order 5521, no sorry, 5512": a number of the same length right after a
        # correction is the id meant.
        end, number = mentions[-1][1], mentions[-1][2].removeprefix("ORD-")
        after = _CORRECTED_NUMBER.match(text, end)
        if (
            after is not None
            and len(after.group(2)) == len(number)
            and P.CORRECTION_RE.search(after.group(1))
            and not _NEGATED_BEFORE.search(after.group(1))
        ):
            return (f"ORD-{after.group(2)}",)
    if len(ids) >= 2:
        # "ORD-21575 no wait ORD-21557", "no el ORD-30150, el ORD-30157": a correction
        # between the last two different ids keeps the one named last.
        last = mentions[-1]
        before = [m for m in mentions if m[2] != last[2]][-1]
        between = text[before[1] : last[0]]
        if 0 < len(between) <= 80 and P.CORRECTION_RE.search(between):
            return (last[2],)
    for match in _NOT_X_ITS_Y.finditer(text):
        wrong, right = match.group(1), match.group(2)
        wrong_ids = {i for i in ids if i.removeprefix("ORD-") in wrong}
        if wrong_ids and any(i.removeprefix("ORD-") in right for i in ids):
            ids = [i for i in ids if i not in wrong_ids]
    return tuple(ids)


# "ORD-67019 was fine but ORD-67020 arrived ripped": an order called fine is not the one
# the customer means. The words right after its id, up to a contrast or the next id.
_FINE_RE: Final = re.compile(
    r"^([^.!?;]{0,25}?)\b(?:fine|ok|okay|perfect|perfectly|all good|good|great|lovely|intact|"
    r"no problems?|no issues?|nothing wrong|"
    r"parfait|parfaite|impeccable|nickel|bien|perfecto|perfecta|perfekt|gut|in ordnung|"
    r"einwandfrei|certinho|certo|perfeito|perfeita|otimo|bene|perfetto|perfetta|a posto|"
    r"theek|thik|sahi)\b"
)
_NOT_FINE_RE: Final = re.compile(r"\b(?:not|isn't|wasn't|no|pas|nicht|kein|nao|non|nahi)\b")


def _called_fine(text: str, order_id: str) -> bool:
    """``order_id`` is written in ``text`` and called fine right after it."""
    number = order_id.removeprefix("ORD-")
    for match in re.finditer(rf"(?<!\d){re.escape(number)}(?!\d)", text):
        after = text[match.end() : match.end() + 40]
        fine = _FINE_RE.match(after)
        if fine and not _NOT_FINE_RE.search(fine.group(1)):  # "is not fine"
            return True
    return False


def meant_order(text: str, order_ids: tuple[str, ...]) -> str | None:
    """The one order meant among several when every other is called fine, else None.

    The agent states it back with the amount for a yes before any money moves.
    """
    if len(order_ids) < 2:
        return None
    meant = [i for i in order_ids if not _called_fine(text, i)]
    return meant[0] if len(meant) == 1 else None


def _patterns_in(text: str) -> list[str]:
    """Names of the manipulation patterns in ``text`` as written and spelled out joined."""
    variants = [text]
    joined = P.SPACED_RE.sub(lambda m: re.sub(r"[ .*_-]", "", m.group()), text)
    if joined != text:
        variants.append(joined)
    return [
        name
        for name, pattern in INJECTION_PATTERNS
        if any(pattern.search(variant) for variant in variants)
    ]


def injection_signals(text: str) -> tuple[str, ...]:
    """Names of the manipulation patterns found in ``text`` (decoding base64 too)."""
    normal = normalise(text)
    folded = fold(normal)
    found = _patterns_in(folded)
    if P.WALLET_RE.search(folded):
        found.append("wallet_address")
    for blob in P.BASE64_RE.findall(normal):
        try:
            decoded = base64.b64decode(blob, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        decoded = prepare(decoded)
        if _patterns_in(decoded) or P.WALLET_RE.search(decoded):
            found.append("encoded_instructions")
    return tuple(dict.fromkeys(found))


def _scrub(text: str, emails: list[str]) -> str:
    """``text`` without order ids, emails, wallet addresses or stray number marks."""
    scrubbed = P.BARE_ORDER_RE.sub(" ", P.ORDER_RE.sub(" ", text))
    for address in emails:
        scrubbed = scrubbed.replace(address, " ")
    scrubbed = P.SPELLED_EMAIL_RE.sub(" ", P.EMAIL_RE.sub(" ", scrubbed))
    return P.WALLET_RE.sub(" ", scrubbed).replace(P.NUM, " ")


def understand_with_rules(message: str, *, language_hint: str | None = None) -> Understanding:
    """The rules, as a plain function (linear in the message's length)."""
    normal = spelled_right(normalise(message))
    text = fold(normal)
    # Emails, ids and numbers say nothing of the customer's language: a message that is
    # only "ana@example.de ORD-52163" keeps the conversation's language.
    detected = detect(_words_only(text), _words_only(normal))
    language = detected.language if detected.sure or not language_hint else language_hint
    signals = injection_signals(message)
    emails = emails_in(text)
    email = corrected_email(text, emails)
    order_ids = order_ids_in(text)
    picked = meant_order(text, order_ids)
    if picked is not None:
        order_ids = (picked,)  # the others are called fine; stated back, confirmed first
    elif len(order_ids) == 1 and _several_numbers_for_an_order(text, order_ids[0]):
        # "ORD-44501, oh sorry, not that one ... ORD-44510": the one meant after a
        # correction, stated back with the amount before any money moves.
        picked = order_ids[0]
    order_id = order_ids[0] if len(order_ids) == 1 else None  # several: ask which
    # Amounts are read with ids, emails and addresses taken out, numbers in words as
    # digits (converted before accents are folded away: "fünfzehn" -> 15).
    scrubbed = _without_ruled_out_ids(_scrub(text, emails), order_id)
    words_text = _without_ruled_out_ids(
        _scrub(
            fold(amounts.digits_for_words(normal.lower(), language, sure=detected.sure)), emails
        ),
        order_id,
    )
    marked, numbers = amounts.mark_numbers(scrubbed, words_text=words_text)

    reason = next((name for name, pattern in A.REASONS if pattern.search(text)), None)
    question = "?" in text
    status_question = bool(
        P.STATUS_QUESTION_RE.search(text)
        or (question and P.REFUND_ARRIVED_RE.search(text))
        or (
            P.PROMISED_RE.search(text)
            and (question or P.ARRIVED_RE.search(text))
            and not A.MORE_RE.search(text)
        )
    )
    # "I already got 10 back, the rest please": a request for what is left, not a look back.
    # ("ya me devolvieron una parte ... devolveme la mitad de lo que queda": the same,
    # with the earlier refund named without its amount.)
    rest_after_past = bool(
        P.REST_RE.search(text)
        and not P.REST_FINE_RE.search(text)
        and (
            past_positions(marked)
            or (_REST_ASKED.search(text) and not question and not refund_had(text))
        )
    )
    status_question = status_question and not rest_after_past
    looking_back = not rest_after_past and (status_question or refund_had(text))
    declined = bool(P.NOT_A_REQUEST_RE.search(text))
    cancel = bool(P.CANCEL_RE.search(text))
    acknowledging = bool(P.ACK_RE.search(text) or P.KEEP_RE.search(text))
    asks = (
        bool(
            P.REFUND_RE.search(text)
            # ("smashed ... not interested in a replacement"; "I don't need a new one, it
            # works now" asks for nothing.)
            or (A.NO_REPLACEMENT_RE.search(text) and reason is not None and not question)
            or rest_after_past
        )
        and not looking_back
        and not declined
    )
    dot_groups = language in DOT_GROUPING_LANGUAGES
    reading = amounts.read_amount(
        marked,
        numbers,
        asks=asks,
        reason=reason is not None,
        question=question,
        dot_groups=dot_groups,
    )
    policy_words = bool(question and P.POLICY_COMPOSED_RE.search(text))
    if reading.final and ((question and P.IF_I_RE.search(text)) or P.HYPOTHETICAL_RE.search(text)):
        # "what happens if I want 20 back?", "would you refund 20 if it's only chipped?":
        # a hypothetical, stated back before anything.
        reading = reading.model_copy(update={"final": False, "why_confirm": "unstated"})
    if reading.final and P.DESTINATION_RE.search(scrubbed):
        # "refund 20 to my card", "... sul conto di mia sorella": it only ever goes back
        # to the wallet that paid; stated back (with where it goes) for a yes.
        reading = reading.model_copy(update={"final": False, "why_confirm": "unstated"})
    if reading.final and P.OTHER_PAYOUT_RE.search(text):
        # "refund 20 as store credit": not money back to the wallet that paid.
        reading = reading.model_copy(update={"final": False, "why_confirm": "unstated"})
    if reading.final and P.EXTRA_COST_RE.search(text):
        # "refund 20 plus shipping": more (or less) than the number written.
        reading = reading.model_copy(update={"final": False, "why_confirm": "arithmetic"})
    if reading.final and declined:
        # "I don't want 20 USDC back, just a replacement", "don't refund 20": refused money.
        reading = reading.model_copy(update={"final": False, "why_confirm": "unstated"})
    if reading.final and question and FACT_QUESTION_RE.search(text):
        # "is the refund 20 USDC?", "do you refund 20 USDC?": asking about a fact.
        reading = reading.model_copy(update={"final": False, "why_confirm": "unstated"})
    limits_question = bool(question and P.POLICY_LIMIT_RE.search(text))
    if reading.final and limits_question:
        # "is the maximum refund 50 dollars?": a question about the limits, not a request.
        reading = reading.model_copy(update={"final": False, "why_confirm": "unstated"})
    # The same words read as part of a request already pending ("25, not 30").
    followup = reading
    if reading.kind in ("none", "unclear"):
        followup = amounts.read_amount(marked, numbers, asks=True, dot_groups=dot_groups)
    again = A.asks_again(marked, language)
    if looking_back and not (
        again or (A.MORE_RE.search(text) and (not question or P.REFUND_RE.search(text)))
    ):
        # "I see 20 USDC refunded, thanks", "20 USDC back in my wallet": a refund that
        # happened, not a request for another ("... now 10 for the other one" asks; "ist
        # das jetzt durch?" asks after it).
        reading = followup = AmountReading()
    asked_amount = reading.kind == "exact" and (
        reading.final
        or any(p.search(marked) for p in (*P.ASKED_AMOUNT_PATTERNS, *P.WANTED_AMOUNT_PATTERNS))
    )
    topic: Topic | None = None
    policy_question = policy_words and not (asked_amount or email or order_ids)
    if P.UNSUPPORTED_RE.search(text) and not asks and not asked_amount:
        topic = "unsupported"
    elif policy_question and P.IF_I_RE.search(text):
        topic = "policy"  # "if a refund gets approved, how long does the money take?"
    elif limits_question and not (email or order_ids):
        topic = "policy"  # "do refunds of 10 or less get approved automatically?"
    elif status_question and not asked_amount:
        topic = "refund_status"
    elif (
        (acknowledging or (declined and not cancel))
        and not asked_amount
        and reading.kind in ("none", "unclear")
        # ("en fait 12,50 ça suffit, je vais le garder": an amount settled on.)
        and not (followup.kind == "exact" and A.ENOUGH_RE.search(text) and not declined)
    ):
        topic = "acknowledged"  # "no refund needed, I'll keep it": nothing to do
        asks = False
    elif (P.POLICY_RE.search(text) and not asked_amount) or policy_question:
        topic = "policy"
    elif P.UNSUPPORTED_RE.search(text) and not asks:
        topic = "unsupported"

    intent: Intent
    if cancel:
        intent = "cancel"
    elif P.HUMAN_STRONG_RE.search(text):
        intent = "human"  # "let me talk to a person": a person looks, even with an amount
    elif topic in ("policy", "acknowledged"):
        intent = "other"
    elif looking_back and not asked_amount:
        intent = "status" if status_question else "greeting"
    elif not declined and (
        asks
        or asked_amount
        or (
            reading.kind != "none"
            and (reason is not None or A.MORE_RE.search(text) or P.BACK_RE.search(text))
        )
        # "I want half the price", "la moitié du prix me paraît juste": a share of the
        # money is asking for it (stated back before paying, as every share is).
        or reading.kind == "fraction"
    ):
        intent = "refund"
    elif P.HUMAN_RE.search(text):
        intent = "human"
    elif P.STATUS_RE.search(text):
        intent = "status"
    elif email or order_ids:
        intent = "provide_info"
    elif topic == "unsupported":
        intent = "other"
    elif P.GREETING_RE.search(text):
        intent = "greeting"
    elif reason is not None and not declined:
        intent = "refund"
    else:
        intent = "other"
    if intent == "cancel":
        reading = followup = AmountReading()
    if picked is not None:
        # The order was picked among several: order and amount are stated back first.
        reading, followup = (
            r.model_copy(update={"final": False, "why_confirm": "order_picked"}) if r.final else r
            for r in (reading, followup)
        )
    value = reading.value if reading.kind == "exact" else None
    short = amounts.short_answer(marked, numbers)
    # ("yes but only for the left earbud", "ok but I only paid 30": not a yes to it.)
    yes = (
        bool(P.YES_RE.search(text))
        and not P.HEDGE_RE.search(text)
        and not A.BUT_ONLY_RE.search(text)
        and not A.NOT_NOW_RE.search(text)
        and not question  # "yes?", "ok, und wie lange dauert das?"
    )
    return Understanding(
        intent=intent,
        email=email,
        order_id=order_id,
        amount=value if reading.final else None,
        amount_invalid=reading.kind == "unclear",
        # Only the customer's own digits: a final amount, or a short answer.
        mentioned_amount=value if value is not None and reading.final else short,
        full_refund=reading.kind == "full",
        order_ids=order_ids,
        affirmative=yes,
        again=again,
        negative=bool(P.NO_RE.search(text)),
        reason=reason,
        injection_signals=signals,
        source="rules",
        reading=reading,
        followup=followup,
        language=language,
        language_sure=detected.sure,
        topic=topic,
    )


logger = logging.getLogger(__name__)

RULES_DEADLINE_SECONDS = 5.0
"""The rules are linear in the message; past this something is wrong: answer, do not wait."""


INLINE_RULES_CHARS = 160
"""Messages up to this long (most chat lines) are read on the event loop: the patterns are
linear-time (checked in CI), so such a message holds the loop for about a millisecond at
most (0.3 ms for a typical one), not much more than the hop to a worker thread costs."""


async def rules_off_the_loop(message: str) -> Understanding:
    """The rules' reading of ``message``: in a worker thread, under a deadline, unless short.

    No long message holds the event loop (other customers' turns go on), and one that
    somehow took too long is read as nothing understood rather than waited for.
    """
    if len(message) <= INLINE_RULES_CHARS:
        return understand_with_rules(message)
    try:
        async with asyncio.timeout(RULES_DEADLINE_SECONDS):
            return await asyncio.to_thread(understand_with_rules, message)
    except TimeoutError:
        logger.error("understanding a %d-character message overran its deadline", len(message))
        return Understanding(intent="other")


__all__ = [
    "INLINE_RULES_CHARS",
    "RULES_DEADLINE_SECONDS",
    "clean_message",
    "emails_in",
    "injection_signals",
    "normalize_email",
    "normalize_order_id",
    "order_ids_in",
    "rules_off_the_loop",
    "understand_with_rules",
]
