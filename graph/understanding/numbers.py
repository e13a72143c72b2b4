"""Numbers in a customer's message: found in digits with any grouping, or in words.

:func:`mark_numbers` finds every number by one linear scan and replaces each by
:data:`~.patterns.NUM` (see :mod:`~.amounts` for what the numbers then mean);
:func:`digits_for_words` writes numbers in words as digits first, per language
(text2num, and a small Hinglish table); :func:`parse_amount_text` reads one written
amount as USDC, never guessing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from text_to_num import alpha2digit

from core.money import InvalidAmount, parse_usdc
from graph.understanding import patterns as P
from graph.understanding.languages import HINDI_NUMBERS

# One number as written: digits with ',' '.' or ' ' grouping, or a decimal part. One
# character class repeated, then an optional exponent: nothing to backtrack into.
# A separator belongs to the number only when a digit follows it: "16." at the end of a
# sentence is 16 and a full stop ("make that 16. Order ..." does not count orders).
NUMBER_TOKEN: Final = re.compile(
    r"(?<![a-z0-9_.,-])-?\d(?:\d|[.,](?=\d)|'\d| \d{3}(?!\d))*(?:[eE][+-]?\d+)?"
)
_TEXT2NUM_LANG: Final = {"en": "en", "es": "es", "fr": "fr", "de": "de", "pt": "pt", "it": "it"}
_HINDI_NUMBER_RE: Final = re.compile(
    r"\b(?:" + "|".join(sorted(HINDI_NUMBERS, key=len, reverse=True)) + r")\b"
)
_ORDINAL: Final = re.compile(r"(?:st|nd|rd|th)s?\b")  # "3rd", "2 3rds"


@dataclass(frozen=True, slots=True)
class Number:
    """One number in the message."""

    raw: str
    value: Decimal | None  # None: not valid money (exponent, negative, 7 decimals...)
    words: bool  # written in words ("twenty")


def parse_amount_text(raw: str) -> Decimal:
    """A customer's (or a model's) written amount as USDC, or :class:`InvalidAmount`.

    Reads ``20``, ``12.50``, ``12,50`` (decimal comma), ``1,000.50``, ``1.000,50`` and
    ``1 000`` (thousands separators), with an optional ``$`` or ``USDC``. Refuses
    exponents (``1e9``), negative, zero, more than six decimals and anything that is not
    one of those shapes: an amount is never guessed.
    """
    text = " ".join(raw.split()).translate(_MINUS)
    text = re.sub(r"(?i)^\$ ?|(?: ?(?:usdc|usd|\$))$|^(?:usdc|usd) ?", "", text).strip()
    if re.fullmatch(r"-?[\d.,]{0,40}\d[.,]", text):
        text = text.rstrip(".,")
    negative = text.startswith("-")
    body = text.removeprefix("-")
    if re.fullmatch(r"\d{1,3}(?:[ ']\d{3})+(?:[.,]\d{1,6})?", body):
        number = body.replace(" ", "").replace("'", "").replace(",", ".")  # 1 000 / 1'000,50
    elif re.fullmatch(r"\d+", body):
        number = body
    elif re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", body) and not body.startswith("0,"):
        number = body.replace(",", "")  # 1,000 / 1,000.50
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3}){2,}|\d{1,3}(?:\.\d{3})+,\d+", body):
        number = body.replace(".", "").replace(",", ".")  # 1.000.000 / 1.000,50
    elif re.fullmatch(r"\d+[.,]\d+", body):
        number = body.replace(",", ".")  # 12.50 / 12,50
    else:
        raise InvalidAmount(f"not an amount: {raw[:40]!r}")
    return parse_usdc(("-" if negative else "") + number, allow_zero=False)


_MINUS: Final = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})


# Words text2num reads as numbers that are not numbers in what customers write here:
# French/Italian "non" (a Portuguese ordinal to text2num), "none" (Spanish "nona").
_NOT_NUMBERS: Final = re.compile(r"\b(?:non|none)\b")
_KEPT: Final = "\ue000"


_WORD: Final = re.compile(r"[^\W\d_]{4,}")
_WORD_RE: Final = re.compile(r"[^\W\d_]+")
"""Any word of letters (counting the number words a language left unread)."""
_ORDINAL_FORM: Final = re.compile(r"\d+(?:st|nd|rd|th|º|ª|o|a|eme|ème|ere|ère|e|er|\.)")


@functools.lru_cache(maxsize=4096)
def _is_ordinal(word: str, code: str) -> bool:
    """``word`` is an ordinal number to text2num ("dritten", "tercera", "troisième")."""
    try:
        return _ORDINAL_FORM.fullmatch(str(alpha2digit(word, code))) is not None
    except Exception:  # text2num refuses odd input: not an ordinal
        return False


def _not_numbers(text: str, code: str) -> list[str]:
    """Words of ``text`` that are never an amount: "non", "none", and ordinals.

    An ordinal counts ("the third time", "zum dritten Mal", "la tercera vez", "un
    terzo"): text2num writes it "3.", "3ª", "3º", which would read as the number 3.
    """
    return [
        m.group()
        for m in re.finditer(r"[^\W\d_]+", text)
        if _NOT_NUMBERS.fullmatch(m.group())
        or (_WORD.fullmatch(m.group()) and _is_ordinal(m.group(), code))
    ]


def _alpha2digit(text: str, code: str) -> str:
    kept = _not_numbers(text, code)
    masked = _mask(text, kept)
    try:
        out = str(alpha2digit(masked, code))
    except Exception:  # text2num refuses odd input: keep the text as it is
        return text
    if out.count(_KEPT) != len(kept):
        return text
    for word in kept:
        out = out.replace(_KEPT, word, 1)
    return out


def _mask(text: str, words: list[str]) -> str:
    """``text`` with each of ``words`` (found in it, in order) replaced by :data:`_KEPT`."""
    if not words:
        return text
    pieces, at = [], 0
    for word in words:
        start = text.index(word, at)
        pieces += [text[at:start], _KEPT]
        at = start + len(word)
    pieces.append(text[at:])
    return "".join(pieces)


def digits_for_words(text: str, language: str, *, sure: bool = True) -> str:
    """``text`` with numbers in words written in digits (``"twenty five"`` -> ``"25"``).

    In the message's language, then English. When the language is not clear (a short
    answer such as "veinticinco dólares"), a language whose words alone turn into
    numbers is used; two that would (Spanish and Portuguese "tres") change nothing.
    Hinglish numbers ("bees" = 20) are read only in a Hinglish message: "do", "das" and
    "bis" are words in other languages.
    """
    if language == "hi":
        return _HINDI_NUMBER_RE.sub(lambda m: str(HINDI_NUMBERS[m.group()]), text)
    lang = _TEXT2NUM_LANG.get(language)
    out = text
    for code in dict.fromkeys((lang, "en") if lang else ("en",)):
        out = _alpha2digit(out, code)
    if sure or out != text:
        return out
    converted = {code: _alpha2digit(text, code) for code in _TEXT2NUM_LANG if code != "en"}
    changed = {c for c in converted.values() if c != text}
    if len(changed) <= 1:
        return changed.pop() if changed else text
    # "quinze e noventa": French reads only "quinze", Spanish only "noventa", Portuguese
    # both. The one language that reads every number word wins; a tie changes nothing.
    words_left = {c: len(_WORD_RE.findall(c)) for c in changed}
    fewest = min(words_left.values())
    best = [c for c, n in words_left.items() if n == fewest]
    return best[0] if len(best) == 1 else text


def mark_numbers(text: str, *, words_text: str | None = None) -> tuple[str, list[Number]]:
    """The text with each number replaced by :data:`~.patterns.NUM`, and the numbers.

    ``words_text`` is the same text with numbers in words converted to digits; a number
    found there and not among the digits of ``text`` was written in words.
    """
    written = [m.group() for m in NUMBER_TOKEN.finditer(text)]
    source = words_text if words_text is not None else text
    source = source.replace(P.NUM, " ")
    numbers: list[Number] = []
    remaining = list(written)
    pieces: list[str] = []
    last = 0
    for match in NUMBER_TOKEN.finditer(source):
        raw = match.group().strip()
        if _ORDINAL.match(source, match.end()):
            continue  # "3rd", "2nd": an ordinal, never an amount
        by_words = raw not in remaining
        if not by_words:
            remaining.remove(raw)
        try:
            value: Decimal | None = parse_amount_text(raw)
        except InvalidAmount:
            value = None
        numbers.append(Number(raw=raw, value=value, words=by_words))
        pieces += [source[last : match.start()], P.NUM]
        last = match.end()
    pieces.append(source[last:])
    return "".join(pieces), numbers


__all__ = ["NUMBER_TOKEN", "Number", "digits_for_words", "mark_numbers", "parse_amount_text"]
