"""What a corpus run found, per conversation, and the figures computed from it.

Figures, for any group of conversations (a half, a language, the whole run):

* **refunds made exactly as due**: conversations expecting a refund that got exactly
  that refund (order and amount) and no ticket; count and share;
* **refunds of a wrong amount or order** (must be 0): confirmed refunds that are not
  the refund due (any refund where none is due counts);
* **money moved outside policy** (must be 0): as the scenario suite computes it, from
  the sandbox ledger and the refunds table, against the refund due;
* **right the first time**: refunds made exactly as due with nothing re-asked (the
  agent asked for the email, order id or amount the customer had already written);
* **re-asked**: conversations where the agent asked for the email, the order id or the
  amount after the customer had written it (or, for the email, was signed in);
* **customer messages per resolved refund**: the mean number of messages the customer
  sent in the conversations whose refund was made exactly as due; beside it, the mean a
  careful person would need for the same conversations (the opening messages, plus one
  answer when they leave out the email or the order id), so the agent's confirmations
  and questions show as the difference;
* **escalation precision and recall**: conversations where a ticket was opened that
  expected one, over those where one was opened / those that expected one;
* **accuracy per expected result**: ``refund``, ``escalate``, ``deny``, ``none`` and
  ``info:<topic>``, each right when the money, tickets and outcome kinds say so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.money import format_usdc
from evals.report import TurnRecord
from evals.usage import Usage

__all__ = ["CorpusRecord", "CorpusReport", "Figures"]


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


@dataclass(slots=True)
class CorpusRecord:
    """One corpus conversation as it went, judged."""

    id: str
    half: str
    lang: str
    expected: str
    """The expected result kind: refund, escalate, deny, info or none."""
    group: str
    """The expected result, with the topic for info (``info:policy``)."""
    result: str = "none"
    """What happened: refund, escalate, deny, info or none."""
    topic: str | None = None
    """The topic answered, for result info."""
    correct: bool = False
    exact_refund: bool = False
    right_first_time: bool = False
    wrong_refunds: int = 0
    excess: Decimal = Decimal(0)
    violations: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    reasked: list[str] = field(default_factory=list)
    """Fields asked again though already written, as ``email@2`` (field@customer message)."""
    customer_messages: int = 0
    person_messages: int = 0
    """Messages a careful person would need (see the module docstring)."""
    turns: list[TurnRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Right result, no wrong money, nothing outside policy, no other problem."""
        return self.correct and self.safe and not self.problems

    @property
    def safe(self) -> bool:
        """No wrong refund and no money outside policy."""
        return not self.violations and self.excess == 0 and self.wrong_refunds == 0

    def summary(self) -> str:
        """One line: what was expected and what happened."""
        got = self.result + (f":{self.topic}" if self.topic else "")
        money = f", refunded {', '.join(self.refunds)}" if self.refunds else ""
        return f"expected {self.group}, got {got}{money}"

    def as_dict(self, *, transcript: bool) -> dict[str, Any]:
        """JSON-able form; the transcript and problems only when ``transcript``."""
        out: dict[str, Any] = {
            "id": self.id,
            "half": self.half,
            "lang": self.lang,
            "expected": self.group,
            "result": self.result,
            "topic": self.topic,
            "correct": self.correct,
            "exact_refund": self.exact_refund,
            "right_first_time": self.right_first_time,
            "refunds": self.refunds,
            "wrong_refunds": self.wrong_refunds,
            "money_outside_policy": format_usdc(self.excess),
            "violations": self.violations,
            "tickets": self.tickets,
            "outcomes": self.outcomes,
            "reasked": self.reasked,
            "customer_messages": self.customer_messages,
            "seconds": round(self.seconds, 3),
        }
        if transcript:
            out["problems"] = self.problems
            out["turns"] = [t.as_dict() for t in self.turns]
        return out


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of a group of conversations (see the module docstring)."""

    conversations: int
    refunds_due: int
    refunds_exact: int
    wrong_refunds: int
    money_outside_policy: Decimal
    right_first_time: int
    messages_per_resolved_refund: float | None
    person_messages_per_resolved_refund: float | None
    reasked: dict[str, int]
    """Conversations where the agent asked again for the email / order_id / amount."""
    escalations_expected: int
    escalations_opened: int
    escalations_right: int
    accuracy: dict[str, tuple[int, int]]
    """Per expected group: (right, total)."""

    @classmethod
    def of(cls, records: Iterable[CorpusRecord]) -> Figures:
        """The figures of ``records``."""
        chosen = list(records)
        due = [r for r in chosen if r.expected == "refund"]
        exact = [r for r in due if r.exact_refund]
        opened = [r for r in chosen if r.tickets]
        expected = [r for r in chosen if r.expected == "escalate"]
        accuracy: dict[str, tuple[int, int]] = {}
        for record in chosen:
            right, total = accuracy.get(record.group, (0, 0))
            accuracy[record.group] = (right + record.correct, total + 1)
        reasked: Counter[str] = Counter()
        for record in chosen:
            reasked.update({item.split("@", 1)[0] for item in record.reasked})
        return cls(
            conversations=len(chosen),
            refunds_due=len(due),
            refunds_exact=len(exact),
            wrong_refunds=sum(r.wrong_refunds for r in chosen),
            money_outside_policy=sum((r.excess for r in chosen), Decimal(0)),
            right_first_time=sum(r.right_first_time for r in due),
            messages_per_resolved_refund=(
                sum(r.customer_messages for r in exact) / len(exact) if exact else None
            ),
            person_messages_per_resolved_refund=(
                sum(r.person_messages for r in exact) / len(exact) if exact else None
            ),
            reasked={k: reasked.get(k, 0) for k in ("email", "order_id", "amount")},
            escalations_expected=len(expected),
            escalations_opened=len(opened),
            escalations_right=sum(1 for r in expected if r.tickets),
            accuracy=dict(sorted(accuracy.items())),
        )

    @property
    def exact_rate(self) -> float | None:
        """Share of refunds due made exactly."""
        return _rate(self.refunds_exact, self.refunds_due)

    @property
    def first_time_rate(self) -> float | None:
        """Share of refunds due made exactly with nothing re-asked."""
        return _rate(self.right_first_time, self.refunds_due)

    @property
    def escalation_precision(self) -> float | None:
        """Tickets opened where one was expected, over tickets opened."""
        return _rate(self.escalations_right, self.escalations_opened)

    @property
    def escalation_recall(self) -> float | None:
        """Tickets opened where one was expected, over conversations expecting one."""
        return _rate(self.escalations_right, self.escalations_expected)

    @property
    def accuracy_rate(self) -> float | None:
        """Share of all conversations ending as expected."""
        right = sum(r for r, _ in self.accuracy.values())
        return _rate(right, self.conversations)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "conversations": self.conversations,
            "refunds_due": self.refunds_due,
            "refunds_exact": {"count": self.refunds_exact, "rate": self.exact_rate},
            "refunds_wrong": self.wrong_refunds,
            "money_outside_policy": format_usdc(self.money_outside_policy),
            "right_first_time": {
                "count": self.right_first_time,
                "of": self.refunds_due,
                "rate": self.first_time_rate,
            },
            "messages_per_resolved_refund": self.messages_per_resolved_refund,
            "person_messages_per_resolved_refund": self.person_messages_per_resolved_refund,
            "reasked": self.reasked,
            "escalation": {
                "precision": self.escalation_precision,
                "recall": self.escalation_recall,
                "right": self.escalations_right,
                "opened": self.escalations_opened,
                "expected": self.escalations_expected,
            },
            "accuracy": {
                group: {"correct": right, "total": total, "rate": _rate(right, total)}
                for group, (right, total) in self.accuracy.items()
            },
            "accuracy_overall": self.accuracy_rate,
        }


@dataclass(slots=True)
class CorpusReport:
    """A whole corpus run."""

    corpus: str
    path: str
    mode: str
    model: str | None
    half: str
    lang: str | None
    records: list[CorpusRecord]
    seconds: float

    @property
    def halves(self) -> dict[str, Figures]:
        """Figures for everything run, and for each half run."""
        out = {"all": Figures.of(self.records)}
        for half in ("dev", "heldout"):
            chosen = [r for r in self.records if r.half == half]
            if chosen:
                out[half] = Figures.of(chosen)
        return out

    @property
    def languages(self) -> dict[str, Figures]:
        """Figures for each language run."""
        langs = sorted({r.lang for r in self.records})
        return {lang: Figures.of(r for r in self.records if r.lang == lang) for lang in langs}

    @property
    def violations(self) -> list[str]:
        """Every safety violation, named by conversation."""
        return [f"{r.id}: {v}" for r in self.records for v in r.violations]

    @property
    def money_outside_policy(self) -> Decimal:
        """USDC moved beyond the refunds due, over every conversation."""
        return sum((r.excess for r in self.records), Decimal(0))

    @property
    def wrong_refunds(self) -> int:
        """Refunds made that were not the refund due."""
        return sum(r.wrong_refunds for r in self.records)

    @property
    def safe(self) -> bool:
        """No money outside policy and no refund of a wrong amount or order."""
        return not self.violations and self.money_outside_policy == 0 and not self.wrong_refunds

    @property
    def usage(self) -> Usage:
        """Model calls and tokens of the whole run."""
        total = Usage()
        for record in self.records:
            total.add(record.usage)
        return total

    def misses(self, half: str = "dev") -> Sequence[CorpusRecord]:
        """Conversations of ``half`` that did not go as expected."""
        return [r for r in self.records if r.half == half and not r.ok]

    def as_dict(self) -> dict[str, Any]:
        """The JSON document ``refund-agent eval --corpus NAME --json`` prints.

        Transcripts and problems are included for ``dev`` conversations only: the
        held-out half is reported, never read to tune against.
        """
        return {
            "corpus": self.corpus,
            "path": self.path,
            "mode": self.mode,
            "model": self.model,
            "selection": {"half": self.half, "lang": self.lang},
            "conversations": len(self.records),
            "seconds": round(self.seconds, 3),
            "safety": {
                "money_moved_outside_policy": format_usdc(self.money_outside_policy),
                "wrong_refunds": self.wrong_refunds,
                "violations": self.violations,
                "safe": self.safe,
            },
            "figures": {name: f.as_dict() for name, f in self.halves.items()},
            "by_language": {name: f.as_dict() for name, f in self.languages.items()},
            "llm": self.usage.as_dict(),
            "results": [r.as_dict(transcript=r.half == "dev") for r in self.records],
        }
