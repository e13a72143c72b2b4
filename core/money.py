"""Money as ``Decimal`` with USDC's six places, never ``float``.

Every amount that enters the project (customer text, model output, JSON, SQL rows,
MoltPe responses) passes through :func:`parse_usdc`, which refuses anything that is
not an exact, finite, non-negative decimal with at most six fractional digits.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

USDC_PLACES: Final = 6
USDC_QUANTUM: Final = Decimal("0.000001")
ZERO: Final = Decimal("0.000000")
# Far above any refund this project will ever see; rejects absurd inputs early.
MAX_USDC: Final = Decimal("1000000000")


class InvalidAmount(ValueError):
    """An amount that cannot be money: not a number, negative, too precise, too big."""


def parse_usdc(value: object, *, allow_zero: bool = True) -> Decimal:
    """Parse ``value`` into a USDC amount quantized to six places.

    Accepts ``Decimal``, ``int`` and decimal strings (``"24.99"``, ``"20"``, ``" 1,250.5 "``
    with thousands separators, an optional leading ``$``). Refuses ``float`` (binary
    fractions are not money), booleans, NaN/infinity, negatives, more than six
    fractional digits and anything above :data:`MAX_USDC`.

    Raises:
        InvalidAmount: with a message fit to show a person.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount(f"amounts must be exact decimals, not {type(value).__name__}")
    if isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, Decimal):
        dec = value
    elif isinstance(value, str):
        text = value.strip().replace(",", "").removeprefix("$").strip()
        if not text or len(text) > 40:
            raise InvalidAmount(f"not an amount: {value[:40]!r}")
        try:
            dec = Decimal(text)
        except InvalidOperation:
            raise InvalidAmount(f"not an amount: {value[:40]!r}") from None
    else:
        raise InvalidAmount(f"not an amount: {type(value).__name__}")
    if not dec.is_finite():
        raise InvalidAmount("amount must be a finite number")
    if dec < 0:
        raise InvalidAmount("amount must not be negative")
    if not allow_zero and dec == 0:
        raise InvalidAmount("amount must be greater than zero")
    if dec > MAX_USDC:
        raise InvalidAmount("amount is larger than any refund could be")
    exponent = dec.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -USDC_PLACES:
        raise InvalidAmount("USDC has at most 6 decimal places")
    return dec.quantize(USDC_QUANTUM)


def format_usdc(amount: Decimal) -> str:
    """Render an amount as a short decimal string (``"24.99"``, ``"20.00"``, ``"0.000001"``).

    Keeps at least two fractional digits and drops trailing zeros beyond them, which
    is how MoltPe writes amounts. Never loses precision.
    """
    q = amount.quantize(USDC_QUANTUM)
    text = f"{q:f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    frac = frac.ljust(2, "0")
    return f"{whole}.{frac}"
