"""Re-check due days: months by the Civil Code's rules, holidays on China's calendar, and
cycles read from the regions' dated parameters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from verifier.domain.roster import (
    RosterClass,
    add_months,
    china_date,
    due_after,
    first_working_day,
)
from verifier.domain.roster.recheck import (
    JobState,
    RecheckState,
    recheck_request_id,
    recheck_state,
)
from verifier.domain.workdays import is_workday
from verifier.policy.recheck import recheck_cycle
from verifier.service.roster.schedule import schedule_for


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 3, 10), 12, date(2026, 3, 10)),
        (date(2025, 3, 10), 6, date(2025, 9, 10)),
        # No corresponding day: the month's last day (民法典 第二百零二条).
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2025, 3, 31), 6, date(2025, 9, 30)),
        # Leap days: 29 February plus a year is 28 February; plus four years, 29 February.
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 2, 29), 6, date(2024, 8, 29)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2025, 7, 1), 0, date(2025, 7, 1)),
    ],
)
def test_add_months_follows_the_civil_code(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_negative_months_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_months(date(2025, 1, 1), -1)


def test_a_due_day_on_a_holiday_moves_to_the_first_working_day_after() -> None:
    # National Day 2025: 1-8 October off, 9 October a working day.
    assert due_after(date(2024, 10, 1), 12) == date(2025, 10, 9)
    assert due_after(date(2025, 4, 5), 6) == date(2025, 10, 9)
    # Spring Festival 2026: 15-23 February off.
    assert due_after(date(2025, 8, 16), 6) == date(2026, 2, 24)


def test_a_make_up_working_day_is_a_due_day() -> None:
    # Sunday 28 September 2025 and Saturday 14 February 2026 are worked (调休).
    assert date(2025, 9, 28).weekday() == 6
    assert due_after(date(2025, 3, 28), 6) == date(2025, 9, 28)
    assert date(2026, 2, 14).weekday() == 5
    assert due_after(date(2025, 8, 14), 6) == date(2026, 2, 14)


def test_a_weekend_moves_to_monday() -> None:
    assert date(2025, 6, 7).weekday() == 5
    assert due_after(date(2024, 6, 7), 12) == date(2025, 6, 9)


def test_first_working_day_is_a_working_day_and_never_earlier() -> None:
    day = date(2025, 1, 1)
    for _ in range(800):
        found = first_working_day(day)
        assert found >= day and is_workday(found)
        assert all(not is_workday(day + timedelta(d)) for d in range((found - day).days))
        day += timedelta(days=1)


def test_china_date_is_utc_plus_eight() -> None:
    assert china_date(datetime(2025, 12, 31, 15, 59, tzinfo=UTC)) == date(2025, 12, 31)
    assert china_date(datetime(2025, 12, 31, 16, 0, tzinfo=UTC)) == date(2026, 1, 1)
    with pytest.raises(ValueError, match="aware"):
        china_date(datetime(2025, 12, 31, 16, 0))


def test_jixi_cycles_are_its_documents() -> None:
    today = date(2026, 6, 1)
    for cls in (RosterClass.DIBAO_A, RosterClass.DIBAO_B, RosterClass.TEKUN):
        cycle = recheck_cycle("341824", cls.value, today, today)
        assert cycle is not None and cycle.months == 12
        assert cycle.reference == "绩办〔2021〕27号" and not cycle.example
    half = recheck_cycle("341824", RosterClass.DIBAO_C.value, today, today)
    assert half is not None and half.months == 6 and not half.example
    # The county's document states no cycle for 低保边缘: an example, marked as one.
    edge = recheck_cycle("341824", RosterClass.DIBAO_BIANYUAN.value, today, today)
    assert edge is not None and edge.example
    # 临时救助 is one-off: no cycle.
    assert recheck_cycle("341824", RosterClass.LINSHI.value, today, today) is None


def test_other_regions_cycles_are_examples() -> None:
    today = date(2026, 6, 1)
    for region in ("370322", "370305", "370281", "371522"):
        cycle = recheck_cycle(region, RosterClass.DIBAO_A.value, today, today)
        assert cycle is not None and cycle.example and cycle.reference.startswith("示例值")
    assert recheck_cycle("110101", RosterClass.DIBAO_A.value, today, today) is None


def test_a_check_before_the_first_value_uses_the_cycle_in_force_today() -> None:
    today = date(2026, 6, 1)
    old = recheck_cycle("341824", RosterClass.DIBAO_C.value, date(2019, 5, 1), today)
    assert old is not None and old.months == 6


def test_schedule_from_the_last_check_or_the_first_import() -> None:
    today = date(2026, 3, 2)
    # 31 August + 6 months: 28 February 2026, a Saturday worked for the Spring Festival.
    s = schedule_for("341824", RosterClass.DIBAO_C, date(2025, 8, 31), today)
    assert s.next_due == date(2026, 2, 28) and s.cycle is not None and s.cycle.months == 6
    weekend = schedule_for("341824", RosterClass.DIBAO_A, date(2025, 3, 1), today)
    assert weekend.next_due == date(2026, 3, 2)  # Sunday 1 March moves to Monday
    never = schedule_for("341824", RosterClass.TEKUN, None, today)
    assert never.next_due == today
    # Imported again later without a check: still due on the first day.
    again = schedule_for("341824", RosterClass.TEKUN, None, date(2026, 3, 9), first_due=today)
    assert again.next_due == today
    none = schedule_for("341824", RosterClass.LINSHI, date(2025, 8, 31), today)
    assert none.next_due is None and none.cycle is None


def test_request_ids_are_stable_distinct_and_never_id_shaped() -> None:
    from hedui_sdk import resident_id
    from verifier.domain.identifiers import REQUEST_ID

    a = recheck_request_id("e1", date(2026, 3, 2))
    assert a == recheck_request_id("e1", date(2026, 3, 2))
    assert a != recheck_request_id("e1", date(2026, 9, 2))
    assert a != recheck_request_id("e2", date(2026, 3, 2))
    assert REQUEST_ID.problem(a) is None and not resident_id.appears_in(a)


@pytest.mark.parametrize(
    ("due", "job", "state"),
    [
        (None, None, RecheckState.NO_CYCLE),
        (date(2026, 3, 3), None, RecheckState.NOT_DUE),
        (date(2026, 3, 2), None, RecheckState.DUE),
        (date(2026, 3, 1), JobState.PENDING, RecheckState.DUE),
        (date(2026, 3, 1), JobState.STARTED, RecheckState.RUNNING),
        (date(2026, 3, 1), JobState.REAUTHORIZATION_NEEDED, RecheckState.REAUTHORIZATION_NEEDED),
        (date(2026, 3, 1), JobState.FAILED, RecheckState.FAILED),
    ],
)
def test_recheck_state(due: date | None, job: JobState | None, state: RecheckState) -> None:
    assert recheck_state(due, job, date(2026, 3, 2)) is state
