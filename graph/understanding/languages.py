"""Which language a message is in, and the words for asking, agreeing and refusing in each.

Detection combines a statistical detector whose model ships in its wheel
(lingua-language-detector, restricted to the supported languages) with the words
below: short answers ("sí", "oui", "ja", "sim", "haan") are too short for statistics,
and Hinglish (Hindi written in Latin letters) is not a language the detector knows.

Every word here is written folded (see :func:`graph.understanding.text.fold`): lower
case, no accents. Phrases use single spaces (the normaliser collapses whitespace).
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # pragma: no cover
    from lingua import LanguageDetector

SUPPORTED: Final = ("en", "es", "fr", "de", "pt", "it", "hi")
"""Languages understood (``hi`` is Hinglish in Latin script; replies to it are English)."""


def words(*items: str) -> str:
    """An alternation of folded words/phrases, longest first (no pattern operators)."""
    return "|".join(
        re.escape(w).replace(r"\ ", " ") for w in sorted(set(items), key=len, reverse=True)
    )


def _load() -> dict[str, dict[str, tuple[str, ...]]]:
    """The word lists of :file:`words.toml` (one table per kind, one list per language)."""
    raw = tomllib.loads((resources.files(__package__) / "words.toml").read_text("utf-8"))
    return {kind: {lang: tuple(ws) for lang, ws in table.items()} for kind, table in raw.items()}


_WORDS: Final = _load()
REFUND_WORDS: Final = _WORDS["refund_words"]
"""Asking for money back (stems: patterns allow a word ending after them)."""
YES_WORDS: Final = _WORDS["yes_words"]
NO_WORDS: Final = _WORDS["no_words"]
FULL_WORDS: Final = _WORDS["full_words"]
HALF_WORDS: Final = _WORDS["half_words"]
WHOLE_MONEY_WORDS: Final = _WORDS["whole_money_words"]
"""The whole amount in loose words ("my money back"): stated back before paying."""
CANCEL_WORDS: Final = _WORDS["cancel_words"]
"""Withdrawing a refund request ("never mind", "cancel the refund")."""
KEEP_WORDS: Final = _WORDS["keep_words"]
"""Keeping the item ("I'll keep it"): no refund, unless the message asks for an amount."""
ACK_WORDS: Final = _WORDS["ack_words"]
"""Saying no refund is needed ("no refund needed", "just letting you know")."""
HUMAN_WORDS: Final = _WORDS["human_words"]
CORRECTION_WORDS: Final = _WORDS["correction_words"]
"""Markers after which a later amount replaces an earlier one."""
POLICY_WORDS: Final = _WORDS["policy_words"]
"""Asking how refunds work (answered from the configured policy, no identity needed)."""
STATUS_WORDS: Final = _WORDS["status_words"]
"""Asking whether a refund already went through."""
UNSUPPORTED_WORDS: Final = _WORDS["unsupported_words"]
"""Things the agent cannot do: said plainly, with a person offered."""
OTHER_HALF_WORDS: Final = _WORDS["other_half_words"]
"""The remaining half after a first half was refunded: the whole unrefunded amount."""
NEUTRAL_WORDS: Final = _WORDS["neutral_words"]
"""Words with no fact of their own (pronouns, articles, courtesy): see :mod:`~.coverage`."""
HINDI_NUMBERS: Final = {
    word: int(number) for word, number in (entry.split() for entry in _WORDS["hindi_numbers"]["hi"])
}
"""Hinglish numbers in words (text2num has no Hindi): ``"bees"`` -> 20."""
TYPOS: Final = {
    wrong: right
    for entries in _WORDS["typos"].values()
    for wrong, right in (entry.split("=") for entry in entries)
}
"""Misspellings, as typed -> as meant ("refnd" -> "refund"): read as meant."""
_TYPO_RE: Final = re.compile(rf"(?<![\w@.+-])(?:{words(*TYPOS)})(?![\w@+-]|\.\w)", re.IGNORECASE)
MARKERS: Final = _WORDS["markers"]
"""Words only one language uses: evidence for detection of very short messages."""
DISTINCT: Final = _WORDS["distinct"]
"""Markers that alone decide a short message's language."""


def spelled_right(text: str) -> str:
    """``text`` with the misspellings of :data:`TYPOS` written as meant (whole words only).

    Never inside an address or an id: a word glued to ``@``, ``.`` (then a letter),
    ``+`` or ``-`` is left as it is.
    """
    return _TYPO_RE.sub(lambda m: TYPOS[m.group().lower()], text)


def all_words(table: Mapping[str, Sequence[str]], languages: Iterable[str] = SUPPORTED) -> str:
    """One alternation of every language's words in ``table``."""
    return words(*(w for lang in languages for w in table.get(lang, ())))


_TOKEN: Final = re.compile(r"[a-z']+")
_MARKER_SETS: Final = {lang: frozenset(ws) for lang, ws in MARKERS.items()}
_DISTINCT_SETS: Final = {lang: frozenset(ws) for lang, ws in DISTINCT.items()}


@dataclass(frozen=True, slots=True)
class Detected:
    """A message's language and whether it is clear enough to switch replies to it."""

    language: str = "en"
    sure: bool = False


@functools.cache
def _detector() -> LanguageDetector:
    from lingua import Language, LanguageDetectorBuilder

    return (
        LanguageDetectorBuilder.from_languages(
            Language.ENGLISH,
            Language.SPANISH,
            Language.FRENCH,
            Language.GERMAN,
            Language.PORTUGUESE,
            Language.ITALIAN,
        )
        .with_preloaded_language_models()
        .build()
    )


def warm_up() -> None:
    """Load the detector's models now (a second or two) rather than on the first message."""
    _detector()


def detect(folded: str, original: str) -> Detected:
    """The language of a message, from its folded form and its original letters.

    Words decide short messages and Hinglish; the detector decides the rest, and is
    trusted only when it is confident and the words do not contradict it.
    """
    tokens = _TOKEN.findall(folded)
    if not tokens:
        return Detected()
    joined = " " + " ".join(tokens) + " "
    hits = {
        lang: sum(1 for w in markers if (" " + w + " ") in joined)
        for lang, markers in _MARKER_SETS.items()
    }
    hinglish = hits["hi"]
    if hinglish >= 2 or (hinglish == 1 and len(tokens) <= 3 and _distinct(tokens) == "hi"):
        return Detected("hi", True)
    if len(tokens) <= 3:
        lang = _distinct(tokens)
        return Detected(lang, True) if lang else Detected()
    from lingua import IsoCode639_1

    values = _detector().compute_language_confidence_values(original[:300])
    if not values:
        return Detected()
    best = values[0]
    code = {
        IsoCode639_1.EN: "en",
        IsoCode639_1.ES: "es",
        IsoCode639_1.FR: "fr",
        IsoCode639_1.DE: "de",
        IsoCode639_1.PT: "pt",
        IsoCode639_1.IT: "it",
    }.get(best.language.iso_code_639_1, "en")
    if best.value >= 0.5 or hits.get(code, 0) >= 1:
        return Detected(code, best.value >= 0.5 or hits.get(code, 0) >= 2)
    return Detected(code, False)


def _distinct(tokens: list[str]) -> str | None:
    """The one language whose distinctive words appear, if exactly one does."""
    found = {lang for lang, ws in _DISTINCT_SETS.items() for t in tokens if t in ws}
    return found.pop() if len(found) == 1 else None
