"""Prometheus metrics of one process (a registry per app, so tests can run several)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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
        self.turn_seconds = Histogram(
            "refund_agent_turn_seconds",
            "Wall time of one customer turn.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

    def observe_turn(self, values: dict[str, Any], seconds: float) -> None:
        """Count what one turn did."""
        outcome = values.get("outcome") or {}
        kind = str(outcome.get("kind") or "none")
        self.turns.labels(kind).inc()
        self.turn_seconds.observe(seconds)
        refund = values.get("refund") or {}
        if refund.get("turn") == values.get("turn") and refund.get("status"):
            self.refunds.labels(str(refund["status"])).inc()
        if kind == "escalated":
            for reason in outcome.get("reasons") or []:
                self.escalations.labels(str(reason)).inc()
        if values.get("understood_by") == "fallback":
            self.llm_fallbacks.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
