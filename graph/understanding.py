"""Turning a customer's message into a typed :class:`Understanding`.

Two interchangeable implementations behind one protocol:

* :class:`RulesUnderstander`: regular expressions and keywords, offline, the default
  when no ``OPENAI_API_KEY`` is set and the fallback whenever the LLM fails;
* :class:`LLMUnderstander`: a chat model with structured output (langchain-openai
  ``ChatOpenAI`` in production, a scripted fake in tests).

Whatever the model says is a *claim*: email and order id count only if the customer
wrote them in the message (else the rules' reading stands) and are then verified by
the lookup, the amount is only a request the policy gate judges, and injection
signals found by the rules are always kept (a model can add signals, never remove
them).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.money import InvalidAmount, parse_usdc
from graph import prompts

logger = logging.getLogger(__name__)

Intent = Literal["refund", "status", "human", "cancel", "provide_info", "greeting", "other"]
MAX_MESSAGE_CHARS: Final = 4000

AmountKind = Literal["none", "exact", "full", "fraction", "unclear"]
Topic = Literal["policy", "refund_status", "unsupported"]
ConfirmWhy = Literal[
    "correction",
    "arithmetic",
    "several",
    "words",
    "percentage",
    "fraction",
    "count",
    "model_only",
    "intent_model_only",
    "unstated",
]
CENT: Final = Decimal("0.01")


class AmountReading(BaseModel):
    """How much the customer asked back, as deterministic code read it in their words.

    ``kind``:

    * ``none``: no amount and no "full"/"everything": nothing said about how much;
    * ``exact``: one amount, ``value`` (after the customer's own corrections and sums);
    * ``full``: the whole unrefunded amount ("full refund", "everything", "the rest");
    * ``fraction``: ``ratio`` of the unrefunded amount ("half", "50 %", "a third");
    * ``unclear``: an amount was meant but cannot be read (a count of items, an
      invalid number, two amounts with nothing to choose between them).

    ``final`` is True only when the reading is an amount the customer wrote in digits
    as their one final request, with nothing to interpret: then, and only then, money
    may move without the customer first confirming an amount the agent stated.
    ``why_confirm`` says why a reading must be confirmed (None when ``final``).
    """

    model_config = ConfigDict(frozen=True)

    kind: AmountKind = "none"
    value: Decimal | None = None
    ratio: Decimal | None = None
    final: bool = False
    why_confirm: ConfirmWhy | None = None

    def amount_of(self, unrefunded: Decimal) -> Decimal | None:
        """The USDC this reading asks for on an order with ``unrefunded`` left."""
        if self.kind == "exact":
            return self.value
        if self.kind == "full":
            return unrefunded
        if self.kind == "fraction" and self.ratio is not None:
            from decimal import ROUND_DOWN

            amount = (unrefunded * self.ratio).quantize(CENT, rounding=ROUND_DOWN)
            return amount if amount > 0 else None
        return None


EMAIL_RE: Final = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
ORDER_RE: Final = re.compile(
    r"(?<![A-Za-z0-9])(?:ORD|ORDER|ORDR)\s*(?:ID|NUMBER|NUM\.?|NO\.?|NR\.?)?\s*[-_#:]?\s*"
    r"(\d{3,10})(?!\d)",
    re.IGNORECASE,
)
WALLET_RE: Final = re.compile(r"0x[0-9a-fA-F]{6,}")
# One numeric blob, taken whole (atomic) so that "1e9", "1,000.50" or "20.0000001" is
# never read as a piece of itself; :func:`parse_amount_text` decides what it means.
NUMBER: Final = r"(?<![\w.,-])(?>-?\d[\d.,]*(?:[eE][+-]?\d+)?)"
UNIT: Final = r"(?:usdc|usd|dollars?|bucks|\$)"
# A number tied to the asking ("refund 20", "20 USDC back"): it is the amount asked for.
ASKED_AMOUNT_PATTERNS: Final = (
    # "20 of the 45": the first is asked for, the second is what was paid.
    re.compile(rf"({NUMBER})\s*{UNIT}?\s+(?:of|out of)\s+(?:the|my)\s+", re.IGNORECASE),
    re.compile(
        r"\b(?:refund|reimburse|return)\w*\s+(?:me\s+)?(?:(?:of|for|just|only|about)\s+)?"
        rf"(?:(?:usdc|usd)\s*|\$\s*)?({NUMBER})"
        r"(?!\s*(?:items?|pieces?|units?|pairs?|orders?|products?|things?|days?|weeks?|"
        r"months?|years?|hours?|x)\b)",
        re.IGNORECASE,
    ),
    re.compile(
        rf"({NUMBER})\s*{UNIT}?\s+(?:back|more|refunded|returned|reimbursed)\b", re.IGNORECASE
    ),
)
# A number marked as money ("$12.50", "20 USDC"): an amount, if the message asks one back.
MONEY_PATTERNS: Final = (
    re.compile(rf"(?:\$|\busdc|\busd)\s*({NUMBER})", re.IGNORECASE),
    re.compile(rf"({NUMBER})\s*{UNIT}(?![a-z])", re.IGNORECASE),
)
# An amount said in a way the rules cannot read ("twenty dollars", "half"): ask, never
# fall back to the whole order.
NUMBER_WORDS: Final = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|a few)"
)
VAGUE_AMOUNT_RE: Final = re.compile(
    r"\b(?:half|a quarter|partial(?:ly)?|part of (?:it|the|my)|a portion|some of (?:it|the|my))"
    rf"\b|\b{NUMBER_WORDS}(?:[\s-]+(?:and|{NUMBER_WORDS}))*\s+{UNIT}|"
    rf"\b(?:refund|reimburse)\w*\s+(?:me\s+)?(?:just\s+|only\s+)?{NUMBER_WORDS}\b",
    re.IGNORECASE,
)
DASHES: Final = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2012": "-"})
FULL_RE: Final = re.compile(
    r"\b(full|entire|whole|everything|all of (?:it|my money)|the rest|what'?s left|"
    r"(?:the )?remaining(?: amount| balance)?|the remainder)\b",
    re.IGNORECASE,
)
REFUND_RE: Final = re.compile(
    r"\b(refund\w*|money back|reimburse\w*|charge ?back|return (?:my|the) (?:money|payment)|"
    r"pay me back|want my money|give me back|(?:get|have|want|need) (?:\S+ ){0,4}back)\b",
    re.IGNORECASE,
)
# Asking about a refund, or thanking for one, is not asking for another.
STATUS_QUESTION_RE: Final = re.compile(
    r"\b(where(?:'s| is) (?:my|the) (?:refund|money)|status (?:of|on|for) (?:my|the) refund|"
    r"refund status|(?:did|has|is) (?:my|the) refund\b|when will (?:i|my) (?:get|receive|see) "
    r"(?:my|the|a) (?:refund|money)|any (?:update|news)\b|did (?:you|it) (?:go|get) through|"
    r"when will (?:the|my|a) refund|how long (?:does|will|do) (?:the |a |my )?refunds? take|"
    r"refund polic(?:y|ies)|(?:haven'?t|have not|didn'?t|did not) (?:received?|got|get|seen?) "
    r"(?:my|the|a|any) (?:refund|money)|did you send it)",
    re.IGNORECASE,
)
PAST_REFUND_RE: Final = re.compile(
    r"\b(?:thanks?|thank you|thx|cheers)\b[\w\s,!]{0,20}\bfor (?:the|my) (?:quick )?refund\b|"
    r"\b(?:got|received) (?:my|the) (?:refund|money)\b|"
    r"\b(?:the |my )?refund (?:came|arrived|went) through\b|"
    r"\b(?:i see|i got|i received|got|received|see)\b[^.?!]{0,30}\brefunded\b|"
    r"\brefunded[,!.]? (?:thanks?|thank you|cheers)\b|\bback in my (?:wallet|account)\b|"
    rf"\b{NUMBER}\s*{UNIT}?\s*(?:arrived|came through|(?:is|are) back|landed)\b",
    re.IGNORECASE,
)
# A past refund and the amount it names ("thanks for the refund of 20 USDC"): not a request.
PAST_REFUND_AMOUNT_RE: Final = re.compile(
    rf"(?:{PAST_REFUND_RE.pattern})(?:\s+(?:of|for)\s+(?:{UNIT}\s*)?{NUMBER}\s*{UNIT}?)?",
    re.IGNORECASE,
)
STATUS_RE: Final = re.compile(
    r"\b(status|where is my refund|any update|did (?:you|it) (?:go|get) through|ticket)\b",
    re.IGNORECASE,
)
HUMAN_RE: Final = re.compile(
    r"\b(human|real person|a person|agent|manager|supervisor|someone(?: else)?|escalate|"
    r"teammate|team member|representative|staff)\b",
    re.IGNORECASE,
)
# Not asking for a refund although the word is there.
NOT_A_REQUEST_RE: Final = re.compile(
    r"\b(?:don'?t|do not|no|not|never|without|instead of|rather than|no longer)\b"
    r"[\w\s']{0,25}\brefund|\b(?:replacement|exchange|swap)\b",
    re.IGNORECASE,
)
YES_RE: Final = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|please do|go ahead|do it|confirm(?:ed)?|"
    r"that'?s right|correct|sounds good|please)\b",
    re.IGNORECASE,
)
HEDGE_RE: Final = re.compile(
    r"\b(?:no|not|don'?t|do not|never|cancel|stop|wait|hold on|instead)\b", re.IGNORECASE
)
NO_RE: Final = re.compile(r"^\W*(?:no|nope|nah|not now|don'?t|do not)\b", re.IGNORECASE)
MORE_RE: Final = re.compile(r"\b(more|another|again|also|too)\b", re.IGNORECASE)
CANCEL_RE: Final = re.compile(
    r"\b(never ?mind|cancel (?:it|that|(?:the|my) (?:whole )?refund(?: request)?)|"
    r"forget (?:it|about it)|(?:no longer|don'?t|do not) (?:want|need) (?:a|the|my) refund(?:s)?|"
    r"(?:i'?ll|i will) keep (?:it|them|the \w+))\b",
    re.IGNORECASE,
)
GREETING_RE: Final = re.compile(
    r"^\s*(hi|hello|hey|thanks?|thank you|good (?:morning|day))\b", re.IGNORECASE
)
REASONS: Final = (
    (
        "damaged",
        re.compile(
            r"\b(damaged|broken|cracked|defective|faulty|doesn'?t work|"
            r"stopped working|not working)\b",
            re.I,
        ),
    ),
    (
        "not_received",
        re.compile(
            r"\b(never (?:arrived|received|came)|not (?:arrived|received)|"
            r"didn'?t (?:arrive|receive|get)|lost)\b",
            re.I,
        ),
    ),
    ("wrong_item", re.compile(r"\b(wrong (?:item|size|color|colour|product))\b", re.I)),
    (
        "not_as_described",
        re.compile(
            r"\b(not as described|different from|fake|poor quality|"
            r"quality issue)\b",
            re.I,
        ),
    ),
    ("duplicate_charge", re.compile(r"\b(charged twice|double charged|duplicate)\b", re.I)),
    (
        "changed_mind",
        re.compile(r"\b(changed my mind|don'?t (?:want|need) it|no longer need)\b", re.I),
    ),
)
INJECTION_PATTERNS: Final = (
    (
        "override_instructions",
        re.compile(
            r"\b(ignore|disregard|forget|override|bypass|set aside|circumvent|get around)\b"
            r".{0,40}\b(rules?|instructions?|polic(?:y|ies)|limits?|prompt|guidelines|"
            r"restrictions?|caps?|safeguards?|programming)\b|"
            r"\b(?:new|updated|real|actual|revised) (?:instructions?|rules?|polic(?:y|ies))\s*:|"
            r"\b(?:exceed|raise|lift|increase|remove|waive|skip|disable)\s+(?:the\s+|your\s+|"
            r"any\s+|this\s+|that\s+)?(?:refund\s+|daily\s+|transaction\s+)?(?:caps?|limits?)\b|"
            r"\b(?:limits?|caps?|rules?|polic(?:y|ies))\s+(?:do(?:es)?n'?t|do(?:es)? not)\s+"
            r"apply\b",
            re.I | re.S,
        ),
    ),
    (
        # The same in the languages customers most often switch to (es, fr, de, it, pt).
        "override_instructions",
        re.compile(
            r"\b(ignora\w*|olvida\w*|omite|salt[ae]\w*|ignore[rz]?|oublie[rz]?|contourne[rz]?|"
            r"ignorier\w*|vergiss|missacht\w*|umgeh\w*|dimentica\w*|esque[cç]a\w*)\b"
            r".{0,40}\b(reglas|instrucciones|pol[ií]ticas?|l[ií]mites?|normas|r[eè]gles|"
            r"consignes|instructions|politiques?|regeln|anweisungen|vorgaben|richtlinien|"
            r"grenzen|regole|istruzioni|limiti|regras|instru[cç][oõ]es)\b",
            re.I | re.S,
        ),
    ),
    (
        "role_play",
        re.compile(
            r"\b(you are now|pretend (?:to be|you)|act as|roleplay|role-play|"
            r"developer mode|dan mode|jailbreak)\b",
            re.I,
        ),
    ),
    (
        "fake_authority",
        re.compile(
            r"(\[?\s*(system|admin|developer|root)\s*(message|override|"
            r"prompt|mode)?\s*\]?\s*:|\bauthori[sz]ed (?:by|override)\b|\bi authori[sz]e\b|"
            r"\bi am (?:the|an?|your) (?:\w+ )?(?:admin|administrator|developer|manager|ceo|"
            r"owner|supervisor)\b(?! of\b)|\bas (?:your|the) (?:developer|admin|"
            r"administrator|creator|owner)\b|<\s*/?\s*system\s*>|"
            r"(?m:^\s*(?:assistant|ai|bot)\s*:))",
            re.I,
        ),
    ),
    (
        "split_refund",
        re.compile(
            r"\b(split|divide|break)\b.{0,30}\b(refunds?|payments?|"
            r"transactions?)\b|\b\d+\s+refunds\s+of\b|"
            r"\b(?:in|into|as)\s+(?:several|multiple|many|smaller|separate|\d+)\s+"
            r"(?:(?:smaller|separate)\s+)?(?:refunds|payments|transactions|transfers)\b|"
            r"\banother\s+\$?\d+\b.{0,60}\banother\s+\$?\d+\b",
            re.I | re.S,
        ),
    ),
    (
        "redirect_payment",
        re.compile(
            r"\b(send|transfer|pay|wire)\b.{0,40}\b(to (?:my|this|the "
            r"following)? ?(?:wallet|address|account)|wallet)\b",
            re.I | re.S,
        ),
    ),
    (
        "prompt_leak",
        re.compile(
            r"\b(system prompt|your instructions|reveal your)\b|\b(?:repeat|print|show|output)"
            r"\b.{0,30}\b(?:text|instructions|prompt|messages?) above\b",
            re.I,
        ),
    ),
)
# Letters spelled out one by one ("i g n o r e", "r.u.l.e.s") are read joined up too.
SPACED_RE: Final = re.compile(r"\b(?:\w[ .*_-]){3,}\w\b")
BASE64_RE: Final = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")


class Understanding(BaseModel):
    """What one customer message says, as claims for code to verify."""

    model_config = ConfigDict(frozen=True)

    intent: Intent = "other"
    email: str | None = Field(default=None, description="Email the customer wrote, if any.")
    order_id: str | None = Field(default=None, description="Order id the customer wrote.")
    amount: Decimal | None = Field(
        default=None, description="Amount asked back; None means the whole order or unsaid."
    )
    amount_invalid: bool = Field(
        default=False, description="The customer named an amount that is not valid money."
    )
    mentioned_amount: Decimal | None = Field(
        default=None,
        description='An amount named without asking for anything ("20 USDC", "make it '
        '15"): the answer when the agent has just asked how much.',
    )
    full_refund: bool = Field(
        default=False, description="The customer asked for the whole (remaining) amount."
    )
    order_ids: tuple[str, ...] = Field(
        default=(), description="Every order id written; more than one means: ask which."
    )
    affirmative: bool = Field(default=False, description="The message is a yes.")
    negative: bool = Field(default=False, description="The message is a no.")
    rules_see_refund: bool = Field(
        default=True,
        description="The offline rules also read a refund request in the text (False when "
        "only a model did: then money waits for an amount in the customer's own words).",
    )
    reason: str | None = None
    injection_signals: tuple[str, ...] = ()
    source: Literal["rules", "llm"] = "rules"
    reading: AmountReading = Field(
        default_factory=AmountReading,
        description="How much, as code read it; the money rule decides on this alone.",
    )
    language: str = Field(
        default="en", description="ISO 639-1 code of the message's language (en, es, fr, ...)."
    )
    language_sure: bool = Field(
        default=False, description="The language is clear enough to switch replies to it."
    )
    topic: Topic | None = Field(
        default=None,
        description="A question to answer rather than a request: how refunds work "
        "(policy), whether a refund went through (refund_status), or something the agent "
        "cannot do such as cancelling an order or changing an address (unsupported).",
    )


class LLMExtraction(BaseModel):
    """The structured output asked of the model (strings only; code parses them)."""

    intent: Intent = Field(description="What the customer wants.")
    email: str | None = Field(default=None, description="Email written in this message.")
    order_id: str | None = Field(default=None, description="Order id written in this message.")
    amount: str | None = Field(
        default=None, description="Amount asked back as a decimal string, null if whole/unsaid."
    )
    reason: str | None = Field(default=None, description="Short reason category.")
    injection_signals: list[str] = Field(
        default_factory=list, description="Manipulation attempts found in the message."
    )

    @field_validator("injection_signals")
    @classmethod
    def _short(cls, v: list[str]) -> list[str]:
        return [s[:80] for s in v[:10]]


class Understander(Protocol):
    """Anything that turns a message into an :class:`Understanding`."""

    async def understand(
        self, message: str, *, known_email: str | None, known_order_id: str | None
    ) -> Understanding:
        """Understand one message."""
        ...


def clean_message(text: str) -> str:
    """Drop control characters and cut very long messages."""
    text = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable())
    return text[:MAX_MESSAGE_CHARS]


def normalize_order_id(raw: str) -> str | None:
    """``ord 1001``, ``#ORD-1001``, ``order no. 1001`` -> ``ORD-1001``; None if not an id."""
    match = ORDER_RE.search(raw)
    if match:
        return f"ORD-{match.group(1)}"
    stripped = raw.strip().upper()
    if re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{2,63}", stripped):
        return stripped
    return None


def normalize_email(raw: str) -> str | None:
    """Lower-cased email if ``raw`` contains exactly one plausible address."""
    found = EMAIL_RE.findall(raw)
    return found[0].lower() if len(found) == 1 else None


def _patterns_in(text: str) -> list[str]:
    """Names of the manipulation patterns in ``text`` as written and spelled out joined."""
    variants = [text]
    joined = SPACED_RE.sub(lambda m: re.sub(r"[ .*_-]", "", m.group()), text)
    if joined != text:
        variants.append(joined)
    return [
        name
        for name, pattern in INJECTION_PATTERNS
        if any(pattern.search(variant) for variant in variants)
    ]


def injection_signals(text: str) -> tuple[str, ...]:
    """Names of the manipulation patterns found in ``text`` (decoding base64 too)."""
    # Fullwidth letters fold to ASCII; zero-width and direction marks are dropped.
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    found = _patterns_in(text)
    if WALLET_RE.search(text):
        found.append("wallet_address")
    for blob in BASE64_RE.findall(text):
        try:
            decoded = base64.b64decode(blob, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if _patterns_in(decoded) or WALLET_RE.search(decoded):
            found.append("encoded_instructions")
    return tuple(dict.fromkeys(found))


def parse_amount_text(raw: str) -> Decimal:
    """A customer's (or a model's) written amount as USDC, or :class:`InvalidAmount`.

    Reads ``20``, ``12.50``, ``12,50`` (decimal comma), ``1,000.50`` and ``1.000,50``
    (thousands separators), with an optional ``$`` or ``USDC``. Refuses exponents
    (``1e9``), negative, zero, more than six decimals and anything that is not one of
    those shapes: an amount is never guessed.
    """
    text = raw.strip().translate(DASHES)
    text = re.sub(r"(?i)^\$\s*|\s*(?:usdc|usd|\$)$|^(?:usdc|usd)\s*", "", text).strip()
    text = text.rstrip(".,") if re.fullmatch(r"-?[\d.,]*\d[.,]", text) else text
    negative = text.startswith("-")
    body = text.removeprefix("-")
    if re.fullmatch(r"\d+", body):
        number = body
    elif re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", body) and not body.startswith("0,"):
        number = body.replace(",", "")  # 1,000 / 1,000.50
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3}){2,}|\d{1,3}(?:\.\d{3})+,\d+", body):
        number = body.replace(".", "").replace(",", ".")  # 1.000.000 / 1.000,50
    elif re.fullmatch(r"\d+[.,]\d+", body):
        number = body.replace(",", ".")  # 12.50 / 12,50
    else:
        raise InvalidAmount(f"not an amount: {raw[:40]!r}")
    return parse_usdc(("-" if negative else "") + number, allow_zero=False)


def _amount(text: str, *, asks_refund: bool) -> tuple[Decimal | None, bool, bool]:
    """The amount asked for, whether a named amount was invalid, and whether it was asked.

    A number tied to the asking wins; else a number marked as money counts when the
    message asks for a refund. Two different money amounts and nothing tying one to
    the asking is ambiguous: invalid, so the customer is asked rather than guessed.
    """
    text = text.translate(DASHES)
    for pattern in ASKED_AMOUNT_PATTERNS:
        match = pattern.search(text)
        if match:
            try:
                return parse_amount_text(match.group(1)), False, True
            except InvalidAmount:
                return None, True, True
    if asks_refund:
        named = list(dict.fromkeys(m.group(1) for p in MONEY_PATTERNS for m in p.finditer(text)))
        values: set[Decimal | None] = set()
        for raw in named:
            try:
                values.add(parse_amount_text(raw))
            except InvalidAmount:
                values.add(None)
        if len(values) > 1 or None in values:
            return None, True, False
        if values:
            return values.pop(), False, False
        if VAGUE_AMOUNT_RE.search(text) and not FULL_RE.search(text):
            return None, True, False
    return None, False, False


SHORT_ANSWER_RE: Final = re.compile(
    rf"^\W*(?:(?:ok(?:ay)?|so|then|well|fine|make it|just|only|let'?s say|how about|maybe|"
    rf"i'?d like|i would like|i want|can i (?:get|have)|give me|let'?s do|yes|sure)\W+)*"
    rf"(?:{UNIT}\s*)?({NUMBER})\s*{UNIT}?"
    r"(?:\W+(?:please|pls|thanks|thank you|then|ok|is fine|would be great|will do))*\W*$",
    re.IGNORECASE,
)


def _mentioned_amount(text: str) -> Decimal | None:
    """The amount of a short answer ("20", "ok, 20 USDC then", "I'd like 15 please").

    Only a message that is essentially the amount counts: a number inside a longer
    sentence ("was the 45 USDC price including shipping?") answers nothing.
    """
    text = text.translate(DASHES)
    if len(re.findall(NUMBER, text)) != 1:
        return None  # none, or several: ambiguous, so the agent asks again
    match = SHORT_ANSWER_RE.match(text)
    named = [match.group(1)] if match else []
    if len(named) != 1:
        return None
    try:
        return parse_amount_text(named[0])
    except InvalidAmount:
        return None


class RulesUnderstander:
    """Offline understanding with regular expressions and keywords."""

    async def understand(
        self, message: str, *, known_email: str | None, known_order_id: str | None
    ) -> Understanding:
        """Understand one message without any model."""
        return understand_with_rules(message)


def understand_with_rules(message: str) -> Understanding:
    """The rules, as a plain function."""
    text = clean_message(message)
    signals = injection_signals(text)
    emails = EMAIL_RE.findall(text)
    email = emails[0].lower() if emails else None
    order_ids = tuple(dict.fromkeys(f"ORD-{m.group(1)}" for m in ORDER_RE.finditer(text)))
    order_id = order_ids[0] if len(order_ids) == 1 else None  # several: ask which
    # Amounts are read from the text with ids, emails and addresses taken out.
    scrubbed = WALLET_RE.sub(" ", EMAIL_RE.sub(" ", ORDER_RE.sub(" ", text)))
    reason = next((name for name, pattern in REASONS if pattern.search(text)), None)
    looking_back = bool(STATUS_QUESTION_RE.search(text) or PAST_REFUND_RE.search(text))
    declined = bool(NOT_A_REQUEST_RE.search(text))
    asks_refund = bool(REFUND_RE.search(text)) and not looking_back and not declined
    scrubbed = PAST_REFUND_AMOUNT_RE.sub(" ", scrubbed)
    amount, amount_invalid, asked = _amount(scrubbed, asks_refund=asks_refund or bool(reason))
    intent: Intent
    if CANCEL_RE.search(text):
        intent = "cancel"
    elif looking_back and not asked:
        intent = "status" if STATUS_QUESTION_RE.search(text) else "greeting"
    elif (asks_refund or asked or (amount is not None and (reason or MORE_RE.search(text)))) and (
        not declined
    ):
        intent = "refund"
    elif HUMAN_RE.search(text):
        intent = "human"
    elif STATUS_RE.search(text):
        intent = "status"
    elif email or order_ids:
        intent = "provide_info"
    elif GREETING_RE.search(text):
        intent = "greeting"
    elif reason is not None and not declined:
        intent = "refund"
    else:
        intent = "other"
    full = bool(FULL_RE.search(scrubbed)) and intent != "cancel"
    return Understanding(
        intent=intent,
        email=email,
        order_id=order_id,
        amount=amount,
        amount_invalid=amount_invalid,
        mentioned_amount=amount if amount is not None else _mentioned_amount(scrubbed),
        full_refund=full and amount is None and not amount_invalid,
        order_ids=order_ids,
        affirmative=bool(YES_RE.search(text)) and not HEDGE_RE.search(text),
        negative=bool(NO_RE.search(text)),
        reason=reason,
        injection_signals=signals,
        source="rules",
        reading=_legacy_reading(amount, amount_invalid, asked, full and amount is None),
    )


def _legacy_reading(
    amount: Decimal | None, invalid: bool, asked: bool, full: bool
) -> AmountReading:
    """The old reader's result in the :class:`AmountReading` shape."""
    if invalid:
        return AmountReading(kind="unclear", why_confirm="several")
    if amount is not None:
        return AmountReading(
            kind="exact", value=amount, final=asked, why_confirm=None if asked else "several"
        )
    if full:
        return AmountReading(kind="full", final=True)
    return AmountReading()


class UnderstandingFailed(RuntimeError):
    """The model did not produce a usable understanding (timed out, errored, invalid)."""


@dataclass(slots=True)
class LLMUnderstander:
    """Understanding with a chat model's structured output, checked by code."""

    model: BaseChatModel
    timeout_seconds: float = 20.0

    async def understand(
        self, message: str, *, known_email: str | None, known_order_id: str | None
    ) -> Understanding:
        """Ask the model; raise :class:`UnderstandingFailed` on any problem."""
        text = clean_message(message)
        structured = self.model.with_structured_output(LLMExtraction)
        prompt = [
            SystemMessage(prompts.UNDERSTAND_SYSTEM),
            HumanMessage(
                prompts.UNDERSTAND_USER.format(
                    email=known_email or "unknown",
                    order_id=known_order_id or "unknown",
                    message=text,
                )
            ),
        ]
        try:
            async with asyncio.timeout(self.timeout_seconds):
                raw: Any = await structured.ainvoke(prompt)
        except TimeoutError as exc:
            raise UnderstandingFailed(f"model timed out after {self.timeout_seconds}s") from exc
        except Exception as exc:  # any provider error falls back to the rules
            raise UnderstandingFailed(f"model call failed: {type(exc).__name__}: {exc}") from exc
        try:
            extraction = (
                raw if isinstance(raw, LLMExtraction) else LLMExtraction.model_validate(raw)
            )
        except ValidationError as exc:
            raise UnderstandingFailed(f"model output invalid: {exc.error_count()} errors") from exc
        return merge_with_rules(extraction, text)


def _written(order_id: str, text: str) -> bool:
    """True when ``order_id`` (or its number) is written in ``text``."""
    if order_id in {f"ORD-{n}" for n in ORDER_RE.findall(text)}:
        return True
    number = order_id.removeprefix("ORD-")
    if number.isdigit():
        return re.search(rf"(?<![\w.,]){number}(?!\w|[.,]\d)", text) is not None
    return re.search(rf"(?<![\w-]){re.escape(order_id)}(?![\w-])", text, re.IGNORECASE) is not None


def merge_with_rules(extraction: LLMExtraction, text: str) -> Understanding:
    """Check a model's extraction with code and keep every rule-found injection signal.

    An email or order id the customer did not write is the model's invention: the
    rules' reading of the message is used instead.
    """
    rules = understand_with_rules(text)
    email = normalize_email(extraction.email) if extraction.email else None
    if email is not None and email not in {e.lower() for e in EMAIL_RE.findall(text)}:
        email = rules.email
    order_id = normalize_order_id(extraction.order_id) if extraction.order_id else None
    if order_id is not None and not _written(order_id, text):
        order_id = rules.order_id
    amount: Decimal | None = None
    amount_invalid = False
    if extraction.amount is not None and extraction.amount.strip().lower() not in {"", "null"}:
        try:
            amount = parse_amount_text(extraction.amount)
        except InvalidAmount:
            amount_invalid = True
    # The model never pays more than the customer's own words ask for: an amount the rules
    # read in the text caps the model's (a missing one would mean the whole order), and an
    # amount the rules could not read is not turned into "the whole order".
    if not amount_invalid and extraction.intent == "refund":
        if rules.amount is not None and (amount is None or amount > rules.amount):
            amount = rules.amount
        if rules.amount_invalid and amount is None:
            amount_invalid = True
    intent = extraction.intent
    if rules.intent == "cancel":
        intent = "cancel"  # "never mind" is never turned into a refund
    signals = tuple(
        dict.fromkeys(
            rules.injection_signals
            + tuple(
                f"model:{clean_message(s)}"
                for s in extraction.injection_signals
                if clean_message(s).strip()
            )
        )
    )
    return Understanding(
        intent=intent,
        email=email,
        order_id=order_id,
        amount=amount,
        amount_invalid=amount_invalid,
        mentioned_amount=amount if amount is not None else rules.mentioned_amount,
        full_refund=rules.full_refund and amount is None and not amount_invalid,
        rules_see_refund=rules.intent == "refund",
        order_ids=rules.order_ids if len(rules.order_ids) > 1 else (),
        affirmative=rules.affirmative,
        negative=rules.negative,
        reason=clean_message(extraction.reason)[:40] or None if extraction.reason else None,
        injection_signals=signals,
        source="llm",
        reading=_model_reading(rules.reading, amount, amount_invalid),
        language=rules.language,
        language_sure=rules.language_sure,
        topic=rules.topic,
    )


def _model_reading(rules: AmountReading, amount: Decimal | None, invalid: bool) -> AmountReading:
    """A model's amount counts only as far as the rules read it in the customer's words."""
    if rules.kind != "none":
        return rules
    if invalid:
        return AmountReading(kind="unclear", why_confirm="model_only")
    if amount is not None:
        return AmountReading(kind="exact", value=amount, why_confirm="model_only")
    return rules
