from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters import resident_id

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
