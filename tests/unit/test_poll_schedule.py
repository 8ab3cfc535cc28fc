"""When a pending ticket is asked about next: the source's hint, bounded, and the due date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from verifier.domain.outcomes import MAX_POLL_INTERVAL, MIN_POLL_INTERVAL, next_poll_at

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (None, timedelta(seconds=1)),
        (30.0, timedelta(seconds=30)),
        (0.0, MIN_POLL_INTERVAL),
        (-5.0, MIN_POLL_INTERVAL),
        (float("nan"), timedelta(seconds=1)),
        (1e12, MAX_POLL_INTERVAL),
        (float("inf"), MAX_POLL_INTERVAL),
    ],
)
def test_the_hint_is_kept_within_bounds(hint: float | None, expected: timedelta) -> None:
    assert next_poll_at(NOW, hint, None, False) == NOW + expected


def test_a_source_not_yet_flagged_is_asked_again_by_its_due_date() -> None:
    due = NOW + timedelta(hours=5)
    assert next_poll_at(NOW, 86400.0, due, False) == due
    assert next_poll_at(NOW, 60.0, due, False) == NOW + timedelta(seconds=60)
    # Once flagged, the due date no longer pulls the next poll forward.
    assert next_poll_at(NOW, 86400.0, due, True) == NOW + timedelta(days=1)
    # A due date already passed: ask soon, so the flag is raised.
    assert next_poll_at(NOW, 86400.0, NOW - timedelta(hours=1), False) == NOW + MIN_POLL_INTERVAL
