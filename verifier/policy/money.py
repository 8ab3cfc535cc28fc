"""Money helpers: integer fen, exact intermediate values, one half-up rounding at the end.

Intermediate values are :class:`fractions.Fraction` (prorated income, averages) or
:class:`decimal.Decimal` (policy multipliers); neither loses precision, so rounding can
happen exactly once, where a result leaves a computation.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

Exact = Fraction | Decimal | int


def half_up(x: Exact) -> int:
    """Round to the nearest integer, ties away from zero (the 四舍五入 people expect)."""
    # Integer arithmetic on the exact value: an assessment rounds thousands of times.
    if isinstance(x, int):
        return x
    if isinstance(x, Decimal):
        return int(x.to_integral_value(rounding=ROUND_HALF_UP))
    whole, rest = divmod(abs(x.numerator), x.denominator)
    if 2 * rest >= x.denominator:
        whole += 1
    return whole if x.numerator >= 0 else -whole


def times(fen: int, multiplier: Decimal | Fraction | int) -> int:
    """``fen × multiplier`` rounded half-up once."""
    return half_up(Fraction(fen) * Fraction(multiplier))


def yuan(fen: int) -> str:
    """``61234`` → ``"612.34"``: fen shown as yuan with two decimals, never via float."""
    sign = "-" if fen < 0 else ""
    a = abs(fen)
    return f"{sign}{a // 100}.{a % 100:02d}"


def dec_str(d: Decimal | Fraction, places: int = 2) -> str:
    """A decimal quantity (area, multiplier) as a plain string, half-up to ``places``."""
    scaled = half_up(d.scaleb(places) if isinstance(d, Decimal) else d * 10**places)
    sign = "-" if scaled < 0 else ""
    a = abs(scaled)
    whole, frac = divmod(a, 10**places)
    if places == 0:
        return f"{sign}{whole}"
    text = f"{sign}{whole}.{frac:0{places}d}".rstrip("0").rstrip(".")
    return text or "0"
