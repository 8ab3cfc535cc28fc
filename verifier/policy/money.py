"""Money helpers: integer fen, exact intermediate values, one half-up rounding at the end.

Intermediate values are :class:`fractions.Fraction` (prorated income, averages) or
:class:`decimal.Decimal` (policy multipliers); neither loses precision, so rounding can
happen exactly once, where a result leaves a computation.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

Exact = Fraction | Decimal | int


def half_up(x: Exact) -> int:
    """Round to the nearest integer, ties away from zero (the 四舍五入 people expect)."""
    f = Fraction(x)
    sign = -1 if f < 0 else 1
    a = abs(f)
    return sign * int((a + Fraction(1, 2)).__floor__())


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
    f = Fraction(d)
    scaled = half_up(f * 10**places)
    sign = "-" if scaled < 0 else ""
    a = abs(scaled)
    whole, frac = divmod(a, 10**places)
    if places == 0:
        return f"{sign}{whole}"
    text = f"{sign}{whole}.{frac:0{places}d}".rstrip("0").rstrip(".")
    return text or "0"
