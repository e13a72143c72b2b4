"""Understanding with a chat model's structured output, every claim checked by the rules.

Whatever the model says is a *claim*: an email or order id counts only if the customer
wrote it (else the rules' reading stands); an amount counts only as far as the rules
read it in the customer's words (a model-only amount is something to confirm, never to
pay); a refund intent only the model sees waits for the customer's yes; injection
signals found by the rules are always kept (a model can add signals, never remove them).
A message the rules read fully is not sent to the model at all.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import ValidationError

from core.money import InvalidAmount
from graph import prompts
from graph.understanding import patterns as P
from graph.understanding.amounts import parse_amount_text
from graph.understanding.coverage import read_fully
from graph.understanding.model import AmountReading, LLMExtraction, Understanding
from graph.understanding.rules import (
    emails_in,
    normalize_email,
    normalize_order_id,
    order_ids_in,
    rules_off_the_loop,
    understand_with_rules,
)
from graph.understanding.text import clean_message, prepare


class UnderstandingFailed(RuntimeError):
    """The model did not produce a usable understanding (timed out, errored, invalid)."""


@dataclass(slots=True)
class LLMUnderstander:
    """Understanding with a chat model's structured output, checked by code."""

    model: BaseChatModel
    timeout_seconds: float = 20.0
    every_message: bool = False
    """Ask the model even about a message the rules read fully (to test what a model can
    do with every message, or to measure it); off in the product."""

    async def understand(
        self, message: str, *, known_email: str | None, known_order_id: str | None
    ) -> Understanding:
        """Ask the model; raise :class:`UnderstandingFailed` on any problem.

        A message the rules read fully (:func:`~.coverage.read_fully`: nothing but facts,
        refund and reason words and words with no fact of their own) is not sent: the
        rules' reading is returned as it is.
        """
        text = clean_message(message)
        rules = await rules_off_the_loop(text)
        if not self.every_message and read_fully(text, rules):
            return rules
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
        return merge_with_rules(extraction, text, rules=rules)


def _written(order_id: str, text: str) -> bool:
    """True when ``order_id`` (or its number) is written in ``text``."""
    folded = prepare(text)
    if order_id in order_ids_in(folded):
        return True
    number = order_id.removeprefix("ORD-")
    if number.isdigit():
        return re.search(rf"(?<![\w.,]){number}(?!\w|[.,]\d)", folded) is not None
    return re.search(rf"(?<![\w-]){re.escape(order_id.lower())}(?![\w-])", folded) is not None


def merge_with_rules(
    extraction: LLMExtraction, text: str, *, rules: Understanding | None = None
) -> Understanding:
    """Check a model's extraction with code and keep every rule-found injection signal."""
    rules = rules or understand_with_rules(text)
    email = normalize_email(extraction.email) if extraction.email else None
    if email is not None and email not in emails_in(prepare(text)):
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
    intent = extraction.intent
    if rules.intent in ("cancel", "human") or P.NOT_A_REQUEST_RE.search(prepare(text)):
        # "never mind", "please don't refund it", "let me talk to a person": what the
        # customer's words plainly ask for wins over a refund a model reads into them.
        intent = rules.intent
    if rules.intent == "provide_info" and rules.reason is None:
        intent = rules.intent  # only an email or an order id: it asks for nothing itself
    if rules.topic is not None and rules.intent != "refund":
        intent = rules.intent  # a question is answered, whatever the model reads into it
    reading = _model_reading(rules.reading, amount if intent == "refund" else None, amount_invalid)
    value = reading.value if reading.kind == "exact" else None
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
        amount=value if reading.final else None,
        amount_invalid=reading.kind == "unclear",
        mentioned_amount=rules.mentioned_amount,  # never the model's number
        full_refund=reading.kind == "full",
        rules_see_refund=rules.intent == "refund",
        order_ids=rules.order_ids if len(rules.order_ids) > 1 else (),
        affirmative=rules.affirmative,
        again=rules.again,
        negative=rules.negative,
        reason=clean_message(extraction.reason)[:40] or None if extraction.reason else None,
        injection_signals=signals,
        source="llm",
        reading=reading,
        followup=rules.followup,  # what a follow-up says, read by the rules only
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
