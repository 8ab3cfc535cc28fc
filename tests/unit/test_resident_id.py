from __future__ import annotations

import sys
import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedui_sdk import resident_id

TODAY = date(2026, 11, 26)


def test_check_digit_matches_the_gb11643_worked_example() -> None:
    # GB 11643-1999 appendix example: 11010519491231002 → X
    assert resident_id.check_digit("11010519491231002") == "X"


def test_a_made_number_is_valid() -> None:
    assert (
        resident_id.problems(resident_id.make("370322", date(1980, 5, 17), 12), today=TODAY) == []
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda n: n[:-1], "must be 18 characters, got 17"),
        (lambda n: n[:5] + "A" + n[6:], "the first 17 characters must be digits"),
        (lambda n: n[:17] + "Y", "the last character must be a digit or X"),
        (
            lambda n: "99" + n[2:17] + resident_id.check_digit("99" + n[2:17]),
            "region prefix is not a known GB/T 2260 province code",
        ),
        (
            lambda n: (
                n[:10] + "0230" + n[14:17] + resident_id.check_digit(n[:10] + "0230" + n[14:17])
            ),
            "birth date is not a real date",
        ),
        (
            lambda n: (
                n[:6]
                + "20300101"
                + n[14:17]
                + resident_id.check_digit(n[:6] + "20300101" + n[14:17])
            ),
            "birth date is in the future",
        ),
    ],
)
def test_each_problem_is_named(mutate: object, expected: str) -> None:
    base = resident_id.make("370322", date(1980, 5, 17), 12)
    assert callable(mutate)
    assert expected in resident_id.problems(mutate(base), today=TODAY)


def test_wrong_check_digit_names_the_right_one() -> None:
    good = resident_id.make("370322", date(1980, 5, 17), 12)
    wrong = "0" if good[-1] != "0" else "1"
    assert resident_id.problems(good[:17] + wrong, today=TODAY) == [
        f"check digit should be {good[-1]}"
    ]


def test_messages_never_repeat_the_number() -> None:
    bad = resident_id.make("370322", date(1980, 5, 17), 12)[:17] + "0"
    for message in resident_id.problems(bad, today=TODAY):
        assert bad not in message and bad[:17] not in message


@given(
    st.sampled_from(["370322", "370305", "370281", "371522", "341824", "110105"]),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)
def test_every_made_number_validates_and_any_single_digit_change_is_caught(
    region: str, born: date, seq: int
) -> None:
    number = resident_id.make(region, born, seq)
    assert resident_id.problems(number, today=TODAY) == []
    # Changing the sequence digit alone always breaks the check digit.
    changed = number[:16] + str((int(number[16]) + 1) % 10) + number[17]
    assert resident_id.problems(changed, today=TODAY) != []


# --------------------------------------------------------------------- ASCII only
# Python's isdigit()/int() read every Unicode decimal digit as a digit: a fullwidth "１"
# once passed validation and was sent to every source, which answered "no record".

BASE = resident_id.make("370322", date(1980, 5, 17), 12)


def non_ascii_decimal_digits() -> list[str]:
    """Every character Unicode says is a decimal digit, except ASCII 0-9 (650 of them)."""
    return [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if not (0x30 <= cp <= 0x39) and unicodedata.decimal(chr(cp), None) is not None
    ]


def digit_look_alikes() -> list[str]:
    """Characters with a digit value that are not decimal digits: superscripts, circled
    and parenthesized digits, Ethiopic digits… (isdigit() is True for most of them)."""
    return [
        chr(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.decimal(chr(cp), None) is None
        and unicodedata.digit(chr(cp), None) is not None
    ]


# Look-alikes of the check character: lowercase x is refused too (GB 11643 writes X;
# hedui sends a source the number exactly as the caller wrote it, so it must be canonical).
X_LOOK_ALIKES = ["x", "\uff38", "\uff58", "\u00d7", "\u2169", "\u2179", "\u03a7", "\u0425"]


def test_there_are_hundreds_of_unicode_decimal_digits() -> None:
    # The test below is only as good as this list.
    assert len(non_ascii_decimal_digits()) >= 600
    assert {"\uff11", "\u0661", "\u06f1", "\u0967", "\U0001d7cf"} <= set(non_ascii_decimal_digits())
    assert {"\u00b2", "\u2460", "\u2474"} <= set(digit_look_alikes())


def test_every_non_ascii_digit_is_refused_at_its_position_without_echoing_it() -> None:
    for n, ch in enumerate(non_ascii_decimal_digits() + digit_look_alikes()):
        pos = n % 18  # every position, the check character's included
        number = BASE[:pos] + ch + BASE[pos + 1 :]
        found = resident_id.problems(number, today=TODAY)
        assert any(p.startswith(f"character {pos + 1} ") for p in found), (hex(ord(ch)), found)
        assert all(ch not in p and BASE[:6] not in p for p in found)


def test_the_digit_classes_are_named() -> None:
    fullwidth = BASE[:3] + "\uff17" + BASE[4:]
    assert resident_id.problems(fullwidth, today=TODAY) == [
        "the first 17 characters must be digits",
        "character 4 is a non-ASCII digit; only the ASCII digits 0-9 are allowed",
    ]
    superscript = BASE[:16] + "\u00b2" + BASE[17]
    assert (
        "character 17 is a digit look-alike (superscript, circled, …), not an ASCII digit 0-9"
        in (resident_id.problems(superscript, today=TODAY))
    )


@pytest.mark.parametrize("x", X_LOOK_ALIKES)
def test_only_a_capital_ascii_x_is_a_check_character(x: str) -> None:
    number = next(
        resident_id.make("370322", date(1980, 5, 17), s)
        for s in range(1000)
        if resident_id.make("370322", date(1980, 5, 17), s).endswith("X")
    )
    assert resident_id.problems(number, today=TODAY) == []
    found = resident_id.problems(number[:17] + x, today=TODAY)
    assert found[0] == "the last character must be a digit or X"
    assert found[1].startswith("character 18 ")


def test_a_superscript_digit_no_longer_crashes() -> None:
    # int("²") raises: this once escaped as INTERNAL.
    number = BASE[:7] + "\u00b2" + BASE[8:]
    assert resident_id.problems(number, today=TODAY)
    assert resident_id.birth_date(number) is None


def test_helpers_refuse_non_ascii_digits() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        resident_id.check_digit("\uff11" + BASE[1:17])
    with pytest.raises(ValueError, match="ASCII"):
        resident_id.make("\uff13\uff17\uff10\uff13\uff12\uff12", date(1980, 5, 17), 1)
    assert resident_id.birth_date(BASE[:8] + "\u0668" + BASE[9:]) is None
    assert resident_id.birth_date(BASE) == date(1980, 5, 17)


@pytest.mark.parametrize(
    "text",
    [
        BASE,
        f"CASE-{BASE}",
        f"{BASE}-2026",
        f"9{BASE}9",  # inside a longer run of digits
        BASE[:17] + "x",
        "档案" + "".join(chr(0xFF10 + int(d)) for d in BASE[:17]) + "\uff38",
    ],
)
def test_an_id_number_is_found_inside_other_text(text: str) -> None:
    assert resident_id.appears_in(text)


@pytest.mark.parametrize("text", ["CASE-2026-000123", "INV-2026-0412", "", "20260101120000"])
def test_ordinary_identifiers_are_not_taken_for_id_numbers(text: str) -> None:
    assert not resident_id.appears_in(text)


def test_a_valid_number_is_told_from_a_chance_run_of_digits() -> None:
    assert resident_id.valid_in(f"ab{BASE}cd", today=TODAY)
    chance = BASE[:17] + ("0" if BASE[17] != "0" else "1")
    assert resident_id.appears_in(chance)
    assert not resident_id.valid_in(f"ab{chance}cd", today=TODAY)
