"""One normaliser of customer text, used by the rules and to ground a model's output.

Everything the rules match runs on :func:`fold` of :func:`normalise`: Unicode folded
to compatible forms (fullwidth letters, ligatures), invisible format characters
dropped, every run of whitespace collapsed to one space (or one newline), dashes
unified, accents stripped and case folded. Collapsing whitespace first is what keeps
every pattern's work linear in the message: no pattern ever meets a long run of
spaces it could try to split in many ways.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_MESSAGE_CHARS: Final = 4000

_DASHES: Final = str.maketrans(
    {"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-"}
)
_QUOTES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "`": "'"})
# Runs of whitespace without a line break first; then, with those already single
# spaces, runs holding line breaks (each a single class repeated: nothing to backtrack).
_SPACE_RUN: Final = re.compile(r"[^\S\n]+")
_BREAK_RUN: Final = re.compile(r" ?\n[ \n]*")


def clean_message(text: str) -> str:
    """Drop control characters and cut very long messages."""
    text = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable())
    return text[:MAX_MESSAGE_CHARS]


def normalise(text: str) -> str:
    """NFKC, no format characters, one space (or newline) per whitespace run, plain dashes."""
    text = unicodedata.normalize("NFKC", clean_message(text))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = text.translate(_DASHES).translate(_QUOTES)
    text = _SPACE_RUN.sub(" ", text)
    return _BREAK_RUN.sub("\n", text).strip()


def fold(text: str) -> str:
    """Case-folded, accents stripped: ``"Rückerstattung, SÍ"`` -> ``"ruckerstattung, si"``.

    Keywords of every language are written folded, so one pattern matches "reembolso",
    "Reembolsó" and "REEMBOLSO".
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def prepare(text: str) -> str:
    """:func:`fold` of :func:`normalise`: the form every rule pattern runs on."""
    return fold(normalise(text))
