r"""The merchant's order-id format: read the way customers write it, written canonically.

``ORDER_ID_FORMAT`` is a template. Letters and the separators ``- _ / . :`` are
literal, ``#`` stands for one digit and ``#{m,n}`` (or ``#{m}``) for m to n digits; a
literal ``#`` is written ``\#``. At most one digit group may have a range, so the digits
a customer wrote always fill the groups one way. Examples:

* ``ORD-#{3,10}`` (the default): ``ORD-1001``, read from "ord 1001", "order 1001";
* ``SO-####-#####``: ``SO-2024-00042``, read from "so 2024 00042", "SO2024-00042",
  "order 2024-00042";
* ``###-#######-#######``: ``112-1234567-1234567``, read from "112 1234567 1234567";
* ``\##{4,8}``: ``#1001``, read from "#1001", "order 1001".

The understanding rules read one form only (``ORD-`` and the digits, see
:data:`RULES_PREFIX`): :meth:`OrderIdFormat.to_rules_form` rewrites the merchant's ids in a
message into it before the rules (or a model) read the message, and
:meth:`OrderIdFormat.to_merchant_form` turns what they read back into the canonical id.
A number that cannot be the merchant's id (too few or too many digits) is left as the
rules read it, and the lookup then says plainly that no such order exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

RULES_PREFIX: Final = "ORD-"
"""The order-id form the rules read and produce (``ORD-`` and 3 to 20 digits)."""
RULES_MAX_DIGITS: Final = 20
DEFAULT_FORMAT: Final = "ORD-#{3,10}"

_LITERAL: Final = re.compile(r"[A-Za-z]+|[-_/.:]|\\#")
_DIGITS: Final = re.compile(r"#(?:\{(\d{1,2})(?:,(\d{1,2}))?\})?")
_SEPARATORS: Final = "-_/.:#"
_EXAMPLE_DIGITS: Final = "1234567890"


class OrderIdFormatError(ValueError):
    """A template that cannot describe order ids (says what is wrong and where)."""


@dataclass(frozen=True)
class _Group:
    low: int
    high: int


@dataclass(frozen=True)
class OrderIdFormat:
    """A parsed ``ORDER_ID_FORMAT`` template."""

    template: str
    parts: tuple[str | _Group, ...]

    @classmethod
    def parse(cls, template: str) -> OrderIdFormat:
        """Read ``template``; :class:`OrderIdFormatError` names the first thing wrong."""
        text = template.strip()
        if not text or len(text) > 40:
            raise OrderIdFormatError("an order-id format is 1 to 40 characters, e.g. SO-#{3,10}")
        parts: list[str | _Group] = []
        at = 0
        while at < len(text):
            digits = _DIGITS.match(text, at)
            if digits is not None:
                low = int(digits.group(1) or 1)
                high = int(digits.group(2) or low)
                if not 1 <= low <= high <= RULES_MAX_DIGITS:
                    raise OrderIdFormatError(
                        f"{text!r}: #{{{low},{high}}} must be 1 to {RULES_MAX_DIGITS} digits, "
                        "the smaller first"
                    )
                last = parts[-1] if parts else None
                if isinstance(last, _Group):  # "####": one run of four digits
                    parts[-1] = _Group(last.low + low, last.high + high)
                else:
                    parts.append(_Group(low, high))
                at = digits.end()
                continue
            literal = _LITERAL.match(text, at)
            if literal is None:
                raise OrderIdFormatError(
                    f"{text!r}: {text[at]!r} at position {at + 1} is not a letter, a separator "
                    "(- _ / . : or \\#) or a digit group (#, #{m,n})"
                )
            parts.append(literal.group().replace("\\#", "#"))
            at = literal.end()
        groups = [p for p in parts if isinstance(p, _Group)]
        if not groups:
            raise OrderIdFormatError(f"{text!r}: an order id needs digits: add # or #{{m,n}}")
        if sum(1 for g in groups if g.low != g.high) > 1:
            raise OrderIdFormatError(
                f"{text!r}: at most one digit group may have a range, so digits fill it one way"
            )
        if sum(g.high for g in groups) > RULES_MAX_DIGITS or sum(g.low for g in groups) < 3:
            raise OrderIdFormatError(
                f"{text!r}: an order id has 3 to {RULES_MAX_DIGITS} digits in all"
            )
        return cls(text, tuple(parts))

    @property
    def groups(self) -> tuple[_Group, ...]:
        """The digit groups, in order."""
        return tuple(p for p in self.parts if isinstance(p, _Group))

    @property
    def prefix(self) -> str:
        """The letters and separators before the first digit (``SO-``), may be empty."""
        out = ""
        for part in self.parts:
            if isinstance(part, _Group):
                break
            out += part
        return out

    @property
    def letters(self) -> str:
        """The prefix's letters (``SO``), may be empty."""
        return "".join(ch for ch in self.prefix if ch.isalpha())

    @property
    def is_rules_form(self) -> bool:
        """``ORD-`` and 3 to 10 digits: what the rules read already, nothing to rewrite."""
        return self.letters.upper() == "ORD" and self.groups == (_Group(3, 10),)

    def canonical(self, digits: str) -> str | None:
        """``digits`` written in this format, or None when they cannot be an id of it."""
        if not digits.isdigit():
            return None
        groups = self.groups
        fixed = sum(g.low for g in groups if g.low == g.high)
        free = len(digits) - fixed
        ranged = next((g for g in groups if g.low != g.high), None)
        if ranged is None and free != 0:
            return None
        if ranged is not None and not ranged.low <= free <= ranged.high:
            return None
        out, at = [], 0
        for part in self.parts:
            if isinstance(part, _Group):
                size = part.low if part.low == part.high else free
                out.append(digits[at : at + size])
                at += size
            else:
                out.append(part.upper() if part.isalpha() else part)
        return "".join(out)

    def example(self) -> str:
        """An id of this format for replies ("e.g. SO-1234")."""
        groups = self.groups
        ranged = next((g for g in groups if g.low != g.high), None)
        fixed = sum(g.low for g in groups if g.low == g.high)
        free = max(ranged.low, min(4, ranged.high)) if ranged is not None else 0
        digits = (_EXAMPLE_DIGITS * 3)[: fixed + free]
        return self.canonical(digits) or self.template

    @property
    def reader(self) -> re.Pattern[str] | None:
        """The loose pattern of a customer's writing of an id, or None.

        None when the rules read this format's ids as they are. Linear: bounded repeats.
        """
        return _reader(self.template)

    def to_rules_form(self, text: str) -> str:
        """``text`` with this format's ids written the rules' way.

        ``SO-2024-00042`` -> ``ORD-202400042``.
        """
        pattern = self.reader
        if pattern is None:
            return text

        def rewrite(match: re.Match[str]) -> str:
            digits = re.sub(r"\D", "", match.group("digits"))
            return f"{RULES_PREFIX}{digits}" if self.canonical(digits) else match.group()

        return pattern.sub(rewrite, text)

    def to_merchant_form(self, order_id: str | None) -> str | None:
        """An id the rules read (``ORD-202400042``), canonical in this format."""
        if order_id is None or not order_id.startswith(RULES_PREFIX):
            return order_id
        return self.canonical(order_id.removeprefix(RULES_PREFIX)) or order_id

    def from_bare_number(self, digits: str) -> str | None:
        """A bare number the customer gave as their order, in this format."""
        return self.canonical(digits)


@lru_cache(maxsize=16)
def _reader(template: str) -> re.Pattern[str] | None:
    fmt = OrderIdFormat.parse(template)
    letters = fmt.letters
    if fmt.is_rules_form or (not letters and len(fmt.groups) == 1):
        # ORD-1001 is the rules' own form; "#1001" and "order 1001" are read by the
        # rules too (as ORD-1001), and a lone number anywhere else is not an order id.
        return None
    sep = r"[\s_./:#-]?"
    body = sep.join(
        rf"\d{{{g.low}}}" if g.low == g.high else rf"\d{{{g.low},{g.high}}}" for g in fmt.groups
    )
    # With letters, customers write them ("so 12345"); several digit groups are shape
    # enough without them ("2024-00042").
    head = ""
    if letters:
        head = rf"(?:{re.escape(letters)}{sep} ?)" + ("?" if len(fmt.groups) > 1 else "")
    return re.compile(rf"(?i)(?<![a-z0-9]){head}(?P<digits>{body})(?![0-9])")


@lru_cache(maxsize=16)
def order_id_format(template: str) -> OrderIdFormat:
    """The parsed ``template`` (cached: settings hold the text)."""
    return OrderIdFormat.parse(template)


__all__ = [
    "DEFAULT_FORMAT",
    "RULES_MAX_DIGITS",
    "RULES_PREFIX",
    "OrderIdFormat",
    "OrderIdFormatError",
    "order_id_format",
]
