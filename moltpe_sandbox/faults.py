"""Fault injection: the knobs that make the sandbox misbehave like a real network.

Faults apply to the MoltPe API (``/v1/...``) only, never to ``/_sandbox/`` admin
calls. They are set as a whole (``POST /_sandbox/faults`` replaces them; ``{}``
clears them) and the ``*_next`` counters count down as they fire. The order of
effects on one ``/v1`` request is: ``latency_ms``, then a 429 from
``rate_limit_next``, then a 5xx from ``fail_next``/``fail_rate`` (both before any
processing), then processing, then for a refund that committed ``drop_next``, and
finally ``drip_ms_per_byte`` while the answer is sent.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Faults"]


class Faults(BaseModel):
    """What the sandbox should do wrong. All off by default."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(default=0, ge=0, le=60_000)
    """Added delay before every ``/v1`` request is handled."""
    fail_next: int = Field(default=0, ge=0)
    """The next N ``/v1`` requests answer ``fail_status`` without being processed."""
    fail_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Probability that a ``/v1`` request answers ``fail_status`` unprocessed."""
    fail_status: int = Field(default=500, ge=500, le=599)
    """The 5xx status ``fail_next``/``fail_rate`` answer with."""
    rate_limit_next: int = Field(default=0, ge=0)
    """The next N ``/v1`` requests answer 429 with ``Retry-After``, unprocessed."""
    retry_after_seconds: int = Field(default=1, ge=0, le=3600)
    """The ``Retry-After`` value sent with those 429s."""
    drop_next: int = Field(default=0, ge=0)
    """The next N refunds that commit (money moves) lose their answer."""
    drop_mode: Literal["abort", "500"] = "abort"
    """How an answer is lost: ``abort`` sends the status line and headers then
    closes the connection mid-response; ``500`` answers 500 INTERNAL_ERROR."""
    drip_ms_per_byte: int = Field(default=0, ge=0, le=10_000)
    """While set, ``/v1`` answers are sent one byte at a time with this delay."""

    def take_rate_limit(self) -> bool:
        """Whether this request gets a 429 (counts ``rate_limit_next`` down)."""
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return True
        return False

    def take_failure(self, rng: random.Random) -> bool:
        """Whether this request gets a 5xx (counts ``fail_next`` down)."""
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return self.fail_rate > 0 and rng.random() < self.fail_rate

    def take_drop(self) -> bool:
        """Whether this committed refund loses its answer (counts ``drop_next`` down)."""
        if self.drop_next > 0:
            self.drop_next -= 1
            return True
        return False
