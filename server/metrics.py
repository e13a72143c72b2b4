"""Prometheus metrics of one process (a registry per app, so tests can run several)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from graph.types import Outcome, RefundAttempt


class Metrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter(
            "refund_agent_turns",
            "Customer turns handled, by outcome kind.",
            ["outcome"],
            registry=self.registry,
        )
        self.refunds = Counter(
            "refund_agent_refunds", "Refunds by outcome.", ["outcome"], registry=self.registry
        )
        self.escalations = Counter(
            "refund_agent_escalations",
            "Escalations by reason code.",
            ["reason"],
            registry=self.registry,
        )
        self.llm_fallbacks = Counter(
            "refund_agent_llm_fallbacks",
            "Turns understood by the rules after an LLM failure.",
            registry=self.registry,
        )
        self.unsettled = Gauge(
            "refund_agent_refunds_unsettled",
            "Refunds whose outcome is not settled yet (intent or unknown), in the database.",
            registry=self.registry,
        )
        self.oldest_unsettled = Gauge(
            "refund_agent_oldest_unsettled_refund_seconds",
            "Age of the oldest unsettled refund (0 when there is none).",
            registry=self.registry,
        )
        self.audit_pending = Gauge(
            "refund_agent_audit_events_pending",
            "Audit events committed but not linked into the hash chain yet, in the database.",
            registry=self.registry,
        )
        self.oldest_audit_pending = Gauge(
            "refund_agent_oldest_audit_event_pending_seconds",
            "Age of the oldest audit event waiting to be chained (0 when there is none).",
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "refund_agent_turn_seconds",
            "Wall time of one customer turn.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

    def observe_turn(self, values: Mapping[str, Any], seconds: float) -> None:
        """Count what one turn did, from the conversation's state after it."""
        outcome: Outcome | None = values.get("outcome") or None  # {}: none yet
        self.turns.labels(outcome["kind"] if outcome else "none").inc()
        self.turn_seconds.observe(seconds)
        refund: RefundAttempt | None = values.get("refund")
        if refund and refund["turn"] == values.get("turn") and refund.get("status"):
            self.refunds.labels(str(refund["status"])).inc()
        if outcome and outcome["kind"] == "escalated":
            for reason in outcome["reasons"]:
                self.escalations.labels(str(reason)).inc()
        if values.get("understood_by") == "fallback":
            self.llm_fallbacks.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
