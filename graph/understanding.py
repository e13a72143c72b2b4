"""Turning a customer's message into a typed :class:`Understanding`.

Two interchangeable implementations behind one protocol:

* :class:`RulesUnderstander`: regular expressions and keywords, offline, the default
  when no ``OPENAI_API_KEY`` is set and the fallback whenever the LLM fails;
* :class:`LLMUnderstander`: a chat model with structured output (langchain-openai
  ``ChatOpenAI`` in production, a scripted fake in tests).

Whatever the model says is a *claim*: email and order id are verified by the lookup,
the amount is only a request the policy gate judges, and injection signals found by
the rules are always kept (a model can add signals, never remove them).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
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

EMAIL_RE: Final = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
ORDER_RE: Final = re.compile(
    r"(?<![A-Za-z0-9])(?:ORD|ORDER|ORDR)\s*(?:ID|NUMBER|NO\.?)?\s*[-_#:]?\s*(\d{3,10})(?!\d)",
    re.IGNORECASE,
)
WALLET_RE: Final = re.compile(r"0x[0-9a-fA-F]{6,}")
AMOUNT_PATTERNS: Final = (
    re.compile(r"(?:\$|usd\s*|usdc\s*)(\d{1,12}(?:[.,]\d{1,8})?)", re.IGNORECASE),
    re.compile(
        r"(-?\d{1,12}(?:[.,]\d{1,8})?)\s*(?:usdc|usd|dollars?|bucks|\$)(?![a-z])", re.IGNORECASE
    ),
    re.compile(r"(?<![\w.-])(\d{1,12}(?:[.,]\d{1,8})?)\s+more\b", re.IGNORECASE),
    re.compile(
        r"(?:refund|back|return|reimburse)\w*\s+(?:me\s+)?(?:of\s+|for\s+|just\s+|only\s+)?"
        r"(-?\d{1,12}(?:[.,]\d{1,8})?)(?![\d-])",
        re.IGNORECASE,
    ),
)
FULL_RE: Final = re.compile(
    r"\b(full|entire|whole|everything|all of (?:it|my money))\b", re.IGNORECASE
)
REFUND_RE: Final = re.compile(
    r"\b(refund\w*|money back|reimburse\w*|charge ?back|return (?:my|the) (?:money|payment)|"
    r"pay me back|want my money|give me back|(?:get|have|want|need) (?:\S+ ){0,4}back)\b",
    re.IGNORECASE,
)
STATUS_RE: Final = re.compile(
    r"\b(status|where is my refund|any update|did (?:you|it) (?:go|get) through|ticket)\b",
    re.IGNORECASE,
)
HUMAN_RE: Final = re.compile(
    r"\b(human|real person|agent|manager|supervisor|someone else|escalate)\b", re.IGNORECASE
)
MORE_RE: Final = re.compile(r"\b(more|another|again|also|too)\b", re.IGNORECASE)
CANCEL_RE: Final = re.compile(
    r"\b(never ?mind|cancel (?:it|that|the refund)|forget (?:it|about it)|no longer want a refund|"
    r"don'?t want a refund)\b",
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
            r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(rules?|instructions?|polic(?:y|ies)|"
            r"limits?|prompt|guidelines|restrictions?|caps?)\b",
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
            r"prompt|mode)?\s*\]?\s*:|\bauthori[sz]ed by\b|\bi am (?:the|an?) "
            r"(?:admin|developer|manager|ceo|owner)\b|<\s*/?\s*system\s*>)",
            re.I,
        ),
    ),
    (
        "split_refund",
        re.compile(
            r"\b(split|divide|break)\b.{0,30}\b(refunds?|payments?|"
            r"transactions?)\b|\b\d+\s+refunds\s+of\b",
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
    ("prompt_leak", re.compile(r"\b(system prompt|your instructions|reveal your)\b", re.I)),
)
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
    reason: str | None = None
    injection_signals: tuple[str, ...] = ()
    source: Literal["rules", "llm"] = "rules"


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


def injection_signals(text: str) -> tuple[str, ...]:
    """Names of the manipulation patterns found in ``text`` (decoding base64 too)."""
    found = [name for name, pattern in INJECTION_PATTERNS if pattern.search(text)]
    if WALLET_RE.search(text):
        found.append("wallet_address")
    for blob in BASE64_RE.findall(text):
        try:
            decoded = base64.b64decode(blob, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        inner = [name for name, pattern in INJECTION_PATTERNS if pattern.search(decoded)]
        if inner or WALLET_RE.search(decoded):
            found.append("encoded_instructions")
    return tuple(dict.fromkeys(found))


def _amount(text: str) -> tuple[Decimal | None, bool]:
    """The first amount asked for, and whether a named amount was invalid."""
    for pattern in AMOUNT_PATTERNS:
        match = pattern.search(text)
        if match:
            raw = match.group(1).replace(",", ".")
            try:
                return parse_usdc(raw, allow_zero=False), False
            except InvalidAmount:
                return None, True
    return None, False


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
    order_match = ORDER_RE.search(text)
    order_id = f"ORD-{order_match.group(1)}" if order_match else None
    # Amounts are read from the text with ids, emails and addresses taken out.
    scrubbed = WALLET_RE.sub(" ", EMAIL_RE.sub(" ", ORDER_RE.sub(" ", text)))
    amount, amount_invalid = _amount(scrubbed)
    if FULL_RE.search(scrubbed) and amount is None:
        amount = None
    reason = next((name for name, pattern in REASONS if pattern.search(text)), None)
    intent: Intent
    if CANCEL_RE.search(text):
        intent = "cancel"
    elif REFUND_RE.search(text) or (amount is not None and (reason or MORE_RE.search(text))):
        intent = "refund"
    elif HUMAN_RE.search(text):
        intent = "human"
    elif STATUS_RE.search(text):
        intent = "status"
    elif email or order_id:
        intent = "provide_info"
    elif GREETING_RE.search(text):
        intent = "greeting"
    elif reason is not None:
        intent = "refund"
    else:
        intent = "other"
    return Understanding(
        intent=intent,
        email=email,
        order_id=order_id,
        amount=amount,
        amount_invalid=amount_invalid,
        reason=reason,
        injection_signals=signals,
        source="rules",
    )


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


def merge_with_rules(extraction: LLMExtraction, text: str) -> Understanding:
    """Check a model's extraction with code and keep every rule-found injection signal."""
    rules = understand_with_rules(text)
    email = normalize_email(extraction.email) if extraction.email else None
    order_id = normalize_order_id(extraction.order_id) if extraction.order_id else None
    amount: Decimal | None = None
    amount_invalid = False
    if extraction.amount is not None and extraction.amount.strip().lower() not in {"", "null"}:
        try:
            amount = parse_usdc(extraction.amount, allow_zero=False)
        except InvalidAmount:
            amount_invalid = True
    signals = tuple(
        dict.fromkeys(
            rules.injection_signals
            + tuple(f"model:{s}" for s in extraction.injection_signals if s.strip())
        )
    )
    return Understanding(
        intent=extraction.intent,
        email=email,
        order_id=order_id,
        amount=amount,
        amount_invalid=amount_invalid,
        reason=(extraction.reason or None) and extraction.reason[:40]
        if extraction.reason
        else None,
        injection_signals=signals,
        source="llm",
    )
