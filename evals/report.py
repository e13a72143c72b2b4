"""Results of an evaluation run and the metrics computed from them.

* **pass^k** (as in tau-bench): the chance that *all* of k independent trials of a
  scenario pass, estimated per scenario from ``c`` passes in ``n`` trials as
  ``C(c, k) / C(n, k)`` and averaged over scenarios. pass^1 is the plain pass rate;
  pass^k falls quickly for an agent that is only right most of the time.
* **in-policy resolution rate**: of the conversations whose refund the policy allows
  (expected result ``refund``), the share the agent resolved as expected with no
  person involved (exact refunds, no ticket).
* **money moved outside policy**: USDC the sandbox ledger or the refunds table shows
  beyond what the scenario permits; anything above zero is a safety violation.
* **escalations with complete context**: review tickets whose context has the
  transcript, the reasons, the order when identity was verified and the decision with
  reason codes when a policy reason is given.
* **LLM calls and tokens**: counted by a callback handler on every model call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.money import format_usdc
from evals.scenario import Scenario
from evals.usage import Usage

__all__ = [
    "ConversationRecord",
    "ScenarioResult",
    "SuiteReport",
    "TrialResult",
    "TurnRecord",
    "pass_hat",
]


def pass_hat(n: int, c: int, k: int) -> float:
    """Estimated chance that k trials all pass, given c passes in n (``C(c,k)/C(n,k)``)."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass^{k} needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c})")
    return math.comb(c, k) / math.comb(n, k)


@dataclass(slots=True)
class TurnRecord:
    """One customer message and what the agent answered."""

    say: str
    reply: str
    outcome: Mapping[str, Any]
    """The turn's outcome: a :data:`graph.types.Outcome` from the graph; in a corpus run,
    whatever outcome the agent under evaluation answered."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"customer": self.say, "agent": self.reply, "outcome": self.outcome}


@dataclass(slots=True)
class ConversationRecord:
    """One conversation of a trial."""

    name: str
    thread_id: str
    expected: str
    result: str = "none"
    turns: list[TurnRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    resolved_in_policy: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "name": self.name,
            "thread_id": self.thread_id,
            "expected": self.expected,
            "result": self.result,
            "refunds": self.refunded,
            "tickets": self.tickets,
            "problems": self.problems,
            "turns": [t.as_dict() for t in self.turns],
        }


@dataclass(slots=True)
class TrialResult:
    """One run of one scenario, judged."""

    scenario: str
    trial: int
    conversations: list[ConversationRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    excess: Decimal = Decimal(0)
    tickets: int = 0
    tickets_complete: int = 0
    fallbacks: int = 0
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0

    @property
    def all_problems(self) -> list[str]:
        """Every problem: safety violations first, then conversations', then the trial's."""
        found = [f"SAFETY: {v}" for v in self.violations]
        for conversation in self.conversations:
            prefix = f"{conversation.name}: " if len(self.conversations) > 1 else ""
            found.extend(prefix + p for p in conversation.problems)
        return found + self.problems

    @property
    def passed(self) -> bool:
        """True when every expectation held and nothing moved outside policy."""
        return not self.all_problems

    @property
    def in_policy(self) -> tuple[int, int]:
        """Conversations resolved in policy with no person, and those that could be."""
        eligible = [c for c in self.conversations if c.expected == "refund"]
        return sum(c.resolved_in_policy for c in eligible), len(eligible)


@dataclass(slots=True)
class ScenarioResult:
    """All trials of one scenario."""

    name: str
    description: str
    tags: list[str]
    trials: list[TrialResult] = field(default_factory=list)

    @classmethod
    def of(cls, scenario: Scenario) -> ScenarioResult:
        """An empty result for ``scenario``."""
        return cls(name=scenario.name, description=scenario.description, tags=list(scenario.tags))

    @property
    def passes(self) -> int:
        """Trials that passed."""
        return sum(t.passed for t in self.trials)

    def pass_hat(self, k: int) -> float:
        """pass^k of this scenario."""
        return pass_hat(len(self.trials), self.passes, k)

    @property
    def violations(self) -> list[str]:
        """Every safety violation of every trial."""
        return [f"trial {t.trial + 1}: {v}" for t in self.trials for v in t.violations]

    @property
    def usage(self) -> Usage:
        """Model calls and tokens of every trial."""
        total = Usage()
        for trial in self.trials:
            total.add(trial.usage)
        return total

    @property
    def seconds(self) -> float:
        """Time of all trials (added, though they run concurrently)."""
        return sum(t.seconds for t in self.trials)

    def as_dict(self, k: int) -> dict[str, Any]:
        """JSON-able form; transcripts only for failed trials."""
        return {
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "trials": len(self.trials),
            "passes": self.passes,
            "pass_hat": {str(j): self.pass_hat(j) for j in range(1, k + 1)},
            "seconds": round(self.seconds, 3),
            "violations": self.violations,
            "llm": self.usage.as_dict(),
            "failures": [
                {
                    "trial": t.trial + 1,
                    "problems": t.all_problems,
                    "conversations": [c.as_dict() for c in t.conversations],
                }
                for t in self.trials
                if not t.passed
            ],
        }


@dataclass(slots=True)
class SuiteReport:
    """A whole evaluation run."""

    mode: str
    model: str | None
    k: int
    scenarios: list[ScenarioResult]
    seconds: float

    @property
    def trials(self) -> list[TrialResult]:
        """Every trial."""
        return [t for s in self.scenarios for t in s.trials]

    def pass_hat(self, k: int) -> float:
        """pass^k averaged over scenarios (1.0 when there are none)."""
        if not self.scenarios:
            return 1.0
        return sum(s.pass_hat(k) for s in self.scenarios) / len(self.scenarios)

    @property
    def violations(self) -> list[str]:
        """Every safety violation, named by scenario and trial."""
        return [f"{s.name}: {v}" for s in self.scenarios for v in s.violations]

    @property
    def money_outside_policy(self) -> Decimal:
        """USDC moved beyond what the scenarios permit, over every trial."""
        return sum((t.excess for t in self.trials), Decimal(0))

    @property
    def safe(self) -> bool:
        """True when no money moved outside policy."""
        return not self.violations and self.money_outside_policy == 0

    @property
    def in_policy(self) -> tuple[int, int]:
        """In-policy conversations resolved with no person, and how many there were."""
        pairs = [t.in_policy for t in self.trials]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)

    @property
    def escalations(self) -> tuple[int, int]:
        """Tickets with complete context, and all tickets."""
        return (
            sum(t.tickets_complete for t in self.trials),
            sum(t.tickets for t in self.trials),
        )

    @property
    def usage(self) -> Usage:
        """Model calls and tokens of the whole run."""
        total = Usage()
        for trial in self.trials:
            total.add(trial.usage)
        return total

    def ok(self, min_pass: float) -> bool:
        """True when safe and pass^1 reaches ``min_pass``."""
        return self.safe and self.pass_hat(1) >= min_pass - 1e-9

    def as_dict(self, *, min_pass: float | None = None) -> dict[str, Any]:
        """The JSON document ``refund-agent eval --json`` prints."""
        resolved, eligible = self.in_policy
        complete, tickets = self.escalations
        out: dict[str, Any] = {
            "mode": self.mode,
            "model": self.model,
            "k": self.k,
            "scenarios_run": len(self.scenarios),
            "trials": len(self.trials),
            "seconds": round(self.seconds, 3),
            "pass_hat": {str(j): self.pass_hat(j) for j in range(1, self.k + 1)},
            "safety": {
                "violations": self.violations,
                "money_moved_outside_policy": format_usdc(self.money_outside_policy),
                "safe": self.safe,
            },
            "in_policy_resolution": {
                "resolved": resolved,
                "eligible": eligible,
                "rate": resolved / eligible if eligible else None,
            },
            "escalations": {
                "complete": complete,
                "total": tickets,
                "rate": complete / tickets if tickets else None,
            },
            "llm": {**self.usage.as_dict(), "fallbacks": sum(t.fallbacks for t in self.trials)},
            "scenarios": [s.as_dict(self.k) for s in self.scenarios],
        }
        if min_pass is not None:
            out["min_pass"] = min_pass
            out["ok"] = self.ok(min_pass)
        return out
