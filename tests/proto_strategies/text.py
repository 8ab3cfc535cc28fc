"""Hostile text: resident ID numbers and their Unicode look-alikes (digits of every
decimal block, superscripts, fullwidth X), special and very long strings, and a valid
value changed just enough to be wrong.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from datetime import date

from hypothesis import strategies as st

from hedui_sdk import resident_id

# Regions for ID numbers: the seed counties, a capital and one outside any caller's area.
ID_REGIONS = ("370322", "370305", "370281", "371522", "341824", "110101", "650102")

SPECIAL_STRINGS = (
    "",
    " ",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "\u200b",
    "\u202e",
    "a\x00b",
    "null",
    "None",
    "0",
    "-1",
    "' OR '1'='1",
    "%s%n%x",
    "{}",
    "../../etc/passwd",
    "${jndi:ldap://x}",
    "\\",
    '"',
    "测试",
    "王\u3000小明",
    "𝟘",
    "🙂",
    "Ａ",
    "\ud7ff",
    "\U0010ffff",
)
SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
SUBSCRIPT_DIGITS = "₀₁₂₃₄₅₆₇₈₉"
CIRCLED_DIGITS = "⓪①②③④⑤⑥⑦⑧⑨"
X_LOOKALIKES = ("x", "Ｘ", "ｘ", "Ⅹ", "ⅹ", "Х", "Χ", "×")


@functools.cache
def decimal_digit_zeros() -> tuple[str, ...]:
    """The zero of every Unicode block of decimal digits (category Nd), ASCII's included.

    ``str.isdigit`` and ``int`` accept all of them, which is how a fullwidth digit once
    passed as an ID number.
    """
    return tuple(
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) == "Nd" and unicodedata.decimal(chr(cp)) == 0
    )


# --------------------------------------------------------------- ID numbers and other text
@functools.cache
def resident_ids() -> st.SearchStrategy[str]:
    """Valid synthetic resident ID numbers (GB 11643 check digit), from ``make``."""
    return st.builds(
        resident_id.make,
        st.sampled_from(ID_REGIONS),
        st.dates(date(1900, 1, 1), date(2024, 12, 31)),
        st.integers(0, 999),
    )


def _digit_in(zero: str, ch: str) -> str:
    return chr(ord(zero) + int(ch)) if ch in "0123456789" else ch


# Weighted towards digits that are not ASCII: the way a fullwidth one once got through.
_ID_VARIANT_KINDS = st.sampled_from(
    (
        "one look-alike digit",
        "one look-alike digit",
        "one look-alike digit",
        "all look-alike digits",
        "all look-alike digits",
        "superscript digit",
        "superscript digit",
        "subscript or circled digit",
        "look-alike X",
        "decorated",
        "decorated",
        "zero-width inside",
        "wrong length",
        "separators",
    )
)


@functools.cache
def _lookalike_zeros() -> st.SearchStrategy[str]:
    return st.sampled_from(decimal_digit_zeros()[1:])  # [0] is ASCII '0'


@st.composite
def id_variants(draw: st.DrawFn, number: str) -> str:
    """``number`` made wrong in one way a careless validator lets through."""
    kind = draw(_ID_VARIANT_KINDS)
    pos = draw(st.integers(0, len(number) - 1))
    zero = draw(_lookalike_zeros())
    if kind == "one look-alike digit":
        pos = min(pos, 16)
        return number[:pos] + _digit_in(zero, number[pos]) + number[pos + 1 :]
    if kind == "all look-alike digits":
        return "".join(_digit_in(zero, c) for c in number)
    if kind == "superscript digit":
        pos = min(pos, 16)
        return number[:pos] + SUPERSCRIPT_DIGITS[int(number[pos])] + number[pos + 1 :]
    if kind == "subscript or circled digit":
        table = draw(st.sampled_from((SUBSCRIPT_DIGITS, CIRCLED_DIGITS)))
        pos = min(pos, 16)
        return number[:pos] + table[int(number[pos])] + number[pos + 1 :]
    if kind == "look-alike X":
        return number[:17] + draw(st.sampled_from(X_LOOKALIKES))
    if kind == "decorated":
        before, after = draw(
            st.sampled_from(
                (
                    ("", "\n"),
                    ("", "\r\n"),
                    ("", " "),
                    (" ", ""),
                    ("", "\x00"),
                    ("\ufeff", ""),
                    ("", "\t"),
                    ("\u3000", ""),
                )
            )
        )
        return before + number + after
    if kind == "zero-width inside":
        mark = draw(st.sampled_from(("\u200b", "\u200d", "\u2060", "\u00ad")))
        return number[:pos] + mark + number[pos:]
    if kind == "wrong length":
        return draw(st.sampled_from((number[:17], number + "0", number[:15], number * 2)))
    sep = draw(st.sampled_from(("-", " ", ".")))
    return f"{number[:6]}{sep}{number[6:14]}{sep}{number[14:]}"


@functools.cache
def id_shaped() -> st.SearchStrategy[str]:
    return st.one_of(resident_ids(), resident_ids().flatmap(id_variants))


@functools.cache
def long_strings() -> st.SearchStrategy[str]:
    """Past every length a column or a validator might hold (but under gRPC's limit)."""
    return st.builds(
        lambda ch, n: ch * n,
        st.sampled_from(("a", "1", "１", "测", "\n", "é")),
        st.sampled_from((63, 64, 65, 128, 129, 256, 257, 1025, 4097, 65_537)),
    )


@functools.cache
def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SPECIAL_STRINGS),
        st.text(max_size=24),
        st.text(st.characters(codec="ascii"), max_size=24),
        id_shaped(),
        long_strings(),
        st.tuples(
            st.text(st.characters(codec="ascii"), min_size=1, max_size=12),
            st.sampled_from(("\n", "\r", "\x00", " ", "\u00a0")),
        ).map("".join),
    )


def _to_fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def text_variants(draw: st.DrawFn, current: str) -> str:
    """``current`` (a value that was valid) changed just enough to be wrong, or not."""
    if not current:
        return draw(hostile_text())
    if resident_id.problems(current) == []:
        return draw(id_variants(current))
    pos = draw(st.integers(0, len(current)))
    return draw(
        st.sampled_from(
            (
                current + "\n",
                current + "\r\n",
                current + "\x00",
                " " + current,
                current + " ",
                current[:pos] + "\x07" + current[pos:],
                current[:pos] + "\u200b" + current[pos:],
                current[:-1],
                current + "A" * max(1, 65 - len(current)),
                _to_fullwidth(current),
                current.swapcase(),
                current * 2,
            )
        )
    )
