"""The simulated customer of a corpus conversation (``evals/corpora/README.md``).

It sends the conversation's scripted ``messages`` one by one, then reacts to what the
agent's last reply asked, read from the turn's ``outcome`` (the agent's contract):

* asked for the email / the order id (``{"kind": "asked", "for": [...]}``):
  ``answers.email`` / ``answers.order`` (default: ``customer.email`` / ``customer.order``),
  both joined by a space when both are asked;
* asked how much (``for: ["amount"]``): ``answers.amount``, else ``answers.no`` with the
  expected amount;
* asked to confirm (``for: ["confirmation"]`` with ``order_id`` and ``amount``):
  ``answers.yes`` when that is exactly the expected refund, else ``answers.no`` with
  ``{amount}`` replaced by the expected amount; ``answers.decline`` when no refund is due;
* offered a person (``"offer": "escalation"``): ``answers.yes`` when a person is
  expected, else it stops;
* anything else (refunded, escalated, denied, answered, none): it stops;

and it stops after 8 messages in any case.

Until the node layer produces the whole contract, a turn may lack some of it; the
agent's state then fills the gap (:attr:`AgentTurn.hints`): ``awaiting`` says what
the reply asked (``amount``, ``confirm_full``, ``escalation``), and a decision marked
``needs_confirmation`` says the proposal is the order's whole unrefunded amount. With
neither, a confirmation is answered ``yes`` only when the reply shows the expected
amount, written ``15.00`` or ``15,00``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from core.money import format_usdc
from evals.corpus import MAX_CUSTOMER_MESSAGES, CorpusConversation, plain_amount

__all__ = [
    "ASKABLE",
    "AgentTurn",
    "SimulatedCustomer",
    "asked_for",
    "offers_person",
    "proposal",
]

ASKABLE: Final = ("email", "order_id", "amount", "confirmation")
NUMBER_RE: Final = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)?")


@dataclass(frozen=True, slots=True)
class AgentTurn:
    """What the agent answered to one customer message."""

    reply: str
    """The reply's text."""

    outcome: Mapping[str, Any]
    """The turn's outcome (the agent's contract)."""

    hints: Mapping[str, Any] = field(default_factory=dict)
    """The agent's state where the outcome says too little: ``awaiting``, ``decision``."""


def asked_for(turn: AgentTurn) -> list[str]:
    """What the reply asked for: any of ``email``, ``order_id``, ``amount``, ``confirmation``."""
    outcome = turn.outcome
    if outcome.get("kind") == "asked":
        wanted = [str(f) for f in outcome.get("for") or [] if f in ASKABLE]
        if wanted:
            return wanted
    if outcome.get("kind") in (None, "none", "asked"):
        awaiting = turn.hints.get("awaiting")
        if awaiting == "amount":
            return ["amount"]
        if awaiting in ("confirm", "confirm_full"):
            return ["confirmation"]
    return []


def offers_person(turn: AgentTurn) -> bool:
    """True when the reply offers to pass the request to a person."""
    return turn.outcome.get("offer") == "escalation" or turn.hints.get("awaiting") == "escalation"


def proposal(turn: AgentTurn) -> tuple[str | None, Decimal | None]:
    """The order and amount a confirmation proposes, as far as the turn says."""
    order = turn.outcome.get("order_id")
    amount = turn.outcome.get("amount")
    if amount is None:
        decision = turn.hints.get("decision") or {}
        if decision.get("needs_confirmation"):
            order, amount = decision.get("order_id"), decision.get("amount")
    try:
        value = Decimal(str(amount)) if amount is not None else None
    except InvalidOperation:
        value = None
    return (str(order) if order else None), value


def _shows_amount(reply: str, amount: Decimal) -> bool:
    written = format_usdc(amount)
    forms = {written, written.replace(".", ",")}
    return any(re.search(rf"(?<![\d.,]){re.escape(form)}(?!\d)", reply) for form in forms)


def _amounts_in(texts: Sequence[str]) -> set[Decimal]:
    found: set[Decimal] = set()
    for text in texts:
        for token in NUMBER_RE.findall(text):
            try:
                found.add(Decimal(token.replace(",", ".")))
            except InvalidOperation:  # pragma: no cover - the pattern only finds numbers
                continue
    return found


@dataclass(slots=True)
class SimulatedCustomer:
    """Plays one corpus conversation's customer; see the module docstring."""

    conversation: CorpusConversation
    sent: list[str] = field(default_factory=list)
    """Every message sent so far."""
    _script: deque[str] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._script = deque(self.conversation.messages)

    def opening(self) -> str:
        """The first message."""
        return self._script.popleft()

    def send(self, text: str) -> None:
        """Note ``text`` as sent."""
        self.sent.append(text)

    def next_message(self, turn: AgentTurn) -> str | None:
        """The next message after ``turn``: scripted, a reaction, or None (it stops)."""
        if len(self.sent) >= MAX_CUSTOMER_MESSAGES:
            return None
        if self._script:
            return self._script.popleft()
        return self.react(turn)

    def react(self, turn: AgentTurn) -> str | None:
        """The answer to what ``turn`` asked or offered (None: nothing to answer)."""
        conversation = self.conversation
        answers = conversation.answers
        asked = asked_for(turn)
        if "confirmation" in asked:
            return self._confirm(turn)
        if asked:
            parts: list[str | None] = []
            for wanted in asked:
                if wanted == "email":
                    parts.append(answers.email or conversation.customer.email)
                elif wanted == "order_id":
                    parts.append(answers.order or conversation.customer.order)
                elif wanted == "amount":
                    parts.append(self._amount())
            said = [p for p in parts if p]
            return " ".join(said) if said else None
        if offers_person(turn):
            return answers.yes if conversation.expect.result == "escalate" else None
        return None

    def reasked(self, turn: AgentTurn) -> list[str]:
        """What ``turn`` asked for that the customer had already written (or is signed in)."""
        conversation = self.conversation
        written = " ".join(self.sent).lower()
        again: list[str] = []
        for wanted in asked_for(turn):
            if wanted == "email":
                if conversation.signed_in or conversation.customer.email.lower() in written:
                    again.append("email")
            elif wanted == "order_id":
                order = conversation.customer.order.lower()
                digits = "".join(ch for ch in order if ch.isdigit())
                if order in written or (
                    digits and re.search(rf"(?<!\d){digits}(?!\d)", written) is not None
                ):
                    again.append("order_id")
            elif wanted == "amount":
                due = conversation.expected_refund
                if due is not None and due[1] in _amounts_in(self.sent):
                    again.append("amount")
        return again

    def _confirm(self, turn: AgentTurn) -> str | None:
        answers = self.conversation.answers
        due = self.conversation.expected_refund
        if due is None:
            return answers.decline
        order, amount = proposal(turn)
        if amount is None:
            right = _shows_amount(turn.reply, due[1])
        else:
            right = amount == due[1] and (order is None or order == due[0])
        return answers.yes if right else self._no()

    def _no(self) -> str | None:
        due = self.conversation.expected_refund
        no = self.conversation.answers.no
        if no is None or due is None:
            return None
        return no.replace("{amount}", plain_amount(due[1]))

    def _amount(self) -> str | None:
        return self.conversation.answers.amount or self._no()
