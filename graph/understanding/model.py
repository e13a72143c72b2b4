"""What one customer message says, as typed claims for code to verify."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

Intent = Literal["refund", "status", "human", "cancel", "provide_info", "greeting", "other"]
AmountKind = Literal["none", "exact", "full", "fraction", "unclear"]
Topic = Literal["policy", "refund_status", "unsupported", "acknowledged"]
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
    "order_picked",
]
CENT: Final = Decimal("0.01")
TEN_THOUSANDTH: Final = Decimal("0.0001")


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
            # The ratio has six places (a third is 0.333333): to a ten-thousandth first,
            # so that a third of 30 is 10.00, not 9.99; then down to the cent.
            exact = (unrefunded * self.ratio).quantize(TEN_THOUSANDTH, rounding=ROUND_HALF_UP)
            amount = exact.quantize(CENT, rounding=ROUND_DOWN)
            return amount if amount > 0 else None
        return None


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
    again: bool = Field(
        default=False,
        description='The message asks for more than before: "another", "again", "also", "too".',
    )
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
    followup: AmountReading = Field(
        default_factory=AmountReading,
        description="How much, reading the message as part of a refund request already "
        'pending ("25, not 30" after "I want 30 back"); never more than the customer wrote.',
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


# The structured output asked of the model (strings only; code parses them). Its fields
# are explained once, in the system prompt: a docstring or descriptions here would be sent
# (and billed) again with every call as the schema's text.
class LLMExtraction(BaseModel):
    """Fields of one customer message (see the system prompt)."""

    intent: Intent
    email: str | None = None
    order_id: str | None = None
    amount: str | None = None
    reason: str | None = None
    injection_signals: list[str] = Field(default_factory=list)

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
