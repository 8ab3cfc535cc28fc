"""Money is integer fen (分); nothing here uses float.

Intermediate values are :class:`fractions.Fraction` (prorated income, averages, lines
derived from a standard) or :class:`decimal.Decimal` (policy multipliers); neither loses
precision, so an amount is rounded exactly once, half-up, where it leaves a computation.

Two ways to show fen as yuan: :func:`yuan` (``"1234.50"``) is the figure inside the
sentences of a signed assessment, whose wording must not change once signed;
:func:`format_yuan` (``"¥1,234.50"``) is how every command and report view shows an
amount.
"""

from __future__ import annotations

import math
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


def format_yuan(fen: int) -> str:
    """``123450`` → ``"¥1,234.50"``, ``-5`` → ``"-¥0.05"``: how every view shows an amount."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def format_amount(value: object) -> str:
    """A fen amount read from a JSON document, as :func:`format_yuan`; "—" when absent."""
    if isinstance(value, int) and not isinstance(value, bool):
        return format_yuan(value)
    return "—"


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


def exact_str(x: Fraction | int) -> str:
    """An exact rational as text: ``"83333"`` or ``"250000/3"`` (fen, never rounded)."""
    f = Fraction(x)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def fen_text(x: Fraction | int) -> str:
    """Fen shown as yuan; a value that is not a whole fen says so with its exact value."""
    f = Fraction(x)
    if f.denominator == 1:
        return f"{yuan(f.numerator)} 元"
    return f"约 {yuan(half_up(f))} 元（精确值 {exact_str(f)} 分）"


# Comparisons for the rules. ``rule`` is the policy's ``fen_tie_rule``: "exact" compares
# the exact rationals; "family" settles a fraction of a fen in the family's favour: the
# figure the family must keep low is taken down to the whole fen, a limit it must stay
# under is taken up, and a figure it must reach is taken down. Each stays monotone: more
# income can never turn a refusal into an award.


def below(value: Fraction | int, limit: Fraction | int, rule: str) -> bool:
    """``value < limit`` where the family is helped by a low ``value`` (income)."""
    v, lim = Fraction(value), Fraction(limit)
    if rule == "family":
        return math.floor(v) < math.ceil(lim)
    return v < lim


def at_most(value: Fraction | int, limit: Fraction | int, rule: str) -> bool:
    """``value <= limit`` where the family is helped by a low ``value`` (assets)."""
    v, lim = Fraction(value), Fraction(limit)
    if rule == "family":
        return math.floor(v) <= math.ceil(lim)
    return v <= lim


def at_least(value: Fraction | int, need: Fraction | int, rule: str) -> bool:
    """``value >= need`` where the family is helped by a high ``value`` (expenses)."""
    v, n = Fraction(value), Fraction(need)
    if rule == "family":
        return math.ceil(v) >= math.floor(n)
    return v >= n
