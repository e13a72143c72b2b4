"""Turning a customer's message into a typed :class:`Understanding`.

* :mod:`~.text`: the one normaliser of customer text (Unicode, whitespace, case, accents);
* :mod:`~.languages`: language detection and each language's words;
* :mod:`~.patterns`: every pattern, linear-time, on normalised text;
* :mod:`~.injection`: the manipulation patterns, each naming a signal;
* :mod:`~.amounts`: numbers (digits with any grouping, words) and the amount reading;
* :mod:`~.rules`: offline understanding, the default and the fallback;
* :mod:`~.llm`: a chat model's structured output, every claim checked by the rules.

The money rule decides on :attr:`Understanding.reading` alone: money moves only for an
amount deterministic code read as the customer's final request, or one the agent stated
and the customer confirmed.
"""

from graph.understanding.amounts import parse_amount_text
from graph.understanding.llm import LLMUnderstander, UnderstandingFailed, merge_with_rules
from graph.understanding.model import (
    AmountKind,
    AmountReading,
    ConfirmWhy,
    Intent,
    LLMExtraction,
    Topic,
    Understander,
    Understanding,
)
from graph.understanding.rules import (
    INLINE_RULES_CHARS,
    RULES_DEADLINE_SECONDS,
    injection_signals,
    normalize_email,
    normalize_order_id,
    rules_off_the_loop,
    understand_with_rules,
)
from graph.understanding.text import MAX_MESSAGE_CHARS, clean_message, normalise


class RulesUnderstander:
    """Offline understanding with patterns and keywords."""

    async def understand(
        self, message: str, *, known_email: str | None, known_order_id: str | None
    ) -> Understanding:
        """Understand one message without any model (off the event loop)."""
        return await rules_off_the_loop(message)


__all__ = [
    "INLINE_RULES_CHARS",
    "RULES_DEADLINE_SECONDS",
    "MAX_MESSAGE_CHARS",
    "AmountKind",
    "AmountReading",
    "ConfirmWhy",
    "Intent",
    "LLMExtraction",
    "LLMUnderstander",
    "RulesUnderstander",
    "Topic",
    "Understander",
    "Understanding",
    "UnderstandingFailed",
    "clean_message",
    "injection_signals",
    "merge_with_rules",
    "normalise",
    "normalize_email",
    "normalize_order_id",
    "parse_amount_text",
    "rules_off_the_loop",
    "understand_with_rules",
]
