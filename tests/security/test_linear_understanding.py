"""One message must not freeze the service: every pattern is linear in its input.

Two checks. A ReDoS analyser (regexploit) reads every compiled pattern in the
project's modules and must find no backtracking hazard. Then each understanding entry
point gets adversarial messages of the maximum length (the shapes that once took
minutes: a keyword followed by a long run of spaces, digits, separators) and must do
about the work of a plain message of the same length, measured in the same run as a
ratio of CPU time, never against a wall-clock threshold.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

with warnings.catch_warnings():  # the analyser reads patterns with the old sre modules
    warnings.simplefilter("ignore", DeprecationWarning)
    from regexploit.ast.sre import SreOpParser
    from regexploit.redos import find

from graph.understanding import (
    MAX_MESSAGE_CHARS,
    injection_signals,
    normalize_email,
    normalize_order_id,
    understand_with_rules,
)
from graph.understanding.amounts import parse_amount_text
from graph.understanding.injection import INJECTION_PATTERNS
from tests.helpers.cost import cpu_seconds

PACKAGES = ("core", "graph", "tools", "persistence", "server", "wiring", "moltpe_sandbox", "cli")


def _modules() -> Iterator[Any]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        yield package
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if not info.name.endswith("__main__"):  # running it would start a command
                yield importlib.import_module(info.name)


def _patterns_in(value: Any, depth: int = 0) -> Iterator[re.Pattern[str]]:
    if isinstance(value, re.Pattern):
        yield value
    elif isinstance(value, tuple | list) and depth < 3:
        for item in value:
            yield from _patterns_in(item, depth + 1)


def project_patterns() -> dict[str, re.Pattern[str]]:
    """Every compiled pattern held by a module of the project (constants and tables)."""
    found: dict[str, re.Pattern[str]] = {}
    for module in _modules():
        for attr, value in vars(module).items():
            for i, pattern in enumerate(_patterns_in(value)):
                if isinstance(pattern.pattern, str):
                    found.setdefault(pattern.pattern, pattern)
                    _ = f"{module.__name__}.{attr}[{i}]"
    return found


def test_the_project_holds_the_patterns_it_is_expected_to() -> None:
    patterns = project_patterns()
    # The understanding tables alone hold dozens: an empty scan would prove nothing.
    assert len(patterns) > 50
    # The manipulation patterns live in a module of their own: the scan reaches it too.
    for name, pattern in INJECTION_PATTERNS:
        assert patterns.get(pattern.pattern) is pattern, name


_POSSESSIVE = re.compile(r"(?<!\\)([*+?}])\+")


def for_analysis(source: str) -> str:
    """The pattern with possessive repeats and atomic groups made ordinary.

    The analyser does not read them; they never backtrack, so the ordinary pattern can
    only be worse: finding no hazard in it proves the original safe too.
    """
    return _POSSESSIVE.sub(r"\1", source).replace("(?>", "(?:")


def test_no_pattern_can_backtrack_catastrophically() -> None:
    hazards = {}
    for source, pattern in project_patterns().items():
        parsed = SreOpParser().parse_sre(for_analysis(source), pattern.flags)
        found = list(find(parsed))
        if found:
            hazards[source] = [str(h) for h in found]
    assert not hazards, hazards


def test_the_analyser_finds_the_pattern_that_once_froze_the_service() -> None:
    """The check can fail: the old order-id pattern (three adjacent \\s*) is a hazard."""
    old = r"(?:ORD|ORDER|ORDR)\s*(?:ID|NUMBER|NUM\.?|NO\.?|NR\.?)?\s*[-_#:]?\s*(\d{3,10})"
    assert list(find(SreOpParser().parse_sre(old, re.IGNORECASE)))


PREFIXES = (
    "ORD",
    "order",
    "system",
    "[admin",
    "20",
    "refund",
    "refund 20",
    "$",
    "usdc",
    "ignore",
    "thanks for the refund",
    "i am the",
    "send",
    "split",
    "not",
    "name",
    "bob",
    "a@b",
    "0x",
    "1,000",
    "pay",
    "wait",
    "<",
    "assistant",
)
FILLERS = (
    " ",
    "\t \n",
    "1",
    "1,",
    "1.",
    "1 ",
    ". ",
    "a ",
    "ab",
    "- ",
    "#",
    "x",
    "%",
    "s ",
    "dot ",
    "refund ",
    "20 ",
    "and another 5 ",
    "@",
    "A",
)


def _adversarial() -> Iterator[str]:
    for prefix in PREFIXES:
        for filler in FILLERS:
            body = prefix + filler * (MAX_MESSAGE_CHARS // len(filler))
            yield (body[: MAX_MESSAGE_CHARS - 1] + "!")


PLAIN = (
    "Hello, my order ORD-1001 arrived broken and I would like a refund of 20 USDC to the "
    "original payment, my email is alice@example.com, thanks a lot for your help today. "
)


ENTRY_POINTS: dict[str, Callable[[str], object]] = {
    "understand_with_rules": understand_with_rules,
    "injection_signals": injection_signals,
    "normalize_email": normalize_email,
    "normalize_order_id": normalize_order_id,
}


def _parse(text: str) -> object:
    try:
        return parse_amount_text(text)
    except ValueError:
        return None


ENTRY_POINTS["parse_amount_text"] = _parse


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_adversarial_messages_cost_about_what_a_plain_one_does(name: str) -> None:
    fn = ENTRY_POINTS[name]
    plain = (PLAIN * (MAX_MESSAGE_CHARS // len(PLAIN) + 1))[:MAX_MESSAGE_CHARS]
    fn(plain)  # warm caches (language models, compiled patterns)
    baseline = max(cpu_seconds(fn, plain), 1e-4)
    limit = 25 * baseline  # linear work keeps the ratio near 1; the old patterns: thousands
    worst, worst_text = 0.0, ""
    for text in _adversarial():
        spent = cpu_seconds(fn, text, rounds=1)
        if spent > limit:  # a pause of the machine or the collector, or a real blow-up:
            spent = min(spent, cpu_seconds(fn, text, rounds=3, best=True))  # it must recur
        if spent > worst:
            worst, worst_text = spent, text
    assert worst < limit, f"{name}: {worst:.4f}s vs plain {baseline:.4f}s on {worst_text[:40]!r}"
