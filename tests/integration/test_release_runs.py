"""PollRepository.release_runs on the SQL repository and the fake alike: a process lets
go of the runs a storage failure stopped, and only of its own RUNNING ones, so the next
claim of stale runs (any replica's) resumes them at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import household_draft
from tests.stores import STORE_KINDS, running_record, store_under_test
from verifier.domain.household import validate_request
from verifier.domain.ports import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LEASED = T0 + timedelta(hours=1)


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    async with store_under_test(request.param, database_url, T0) as s:
        yield s


async def _running(store: Store, vid: str, owner: str) -> None:
    request_id = f"req-{vid}"
    request = validate_request(household_draft(request_id), today=T0.date())
    async with store.unit_of_work(write=True) as uow:
        await uow.verifications.add(
            running_record(vid, request_id, T0), request, "SQ-1", run_lease=(owner, LEASED)
        )
        await uow.commit()


async def test_released_runs_are_claimed_at_once_and_only_the_owners(store: Store) -> None:
    await _running(store, "v-1", "owner-a")
    await _running(store, "v-2", "owner-a")
    await _running(store, "v-3", "owner-b")
    now = T0 + timedelta(minutes=1)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.polls.claim_stale_runs("C", now, now + timedelta(minutes=1), 10) == []
        # v-3 is another process's; v-9 does not exist.
        assert await uow.polls.release_runs("owner-a", ["v-1", "v-3", "v-9"], now) == 1
        assert await uow.polls.release_runs("owner-a", [], now) == 0
        await uow.commit()
    later = now + timedelta(seconds=1)
    async with store.unit_of_work(write=False) as uow:
        assert await uow.polls.has_due_work(later)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.polls.claim_stale_runs("C", later, later + timedelta(minutes=1), 10) == [
            "v-1"
        ]
        await uow.commit()
    async with store.unit_of_work(write=True) as uow:
        # Claimed by C now: owner-a's release no longer touches it.
        assert await uow.polls.release_runs("owner-a", ["v-1"], later) == 0
        await uow.commit()
