"""``VerificationRepository.latest_versions``: the change comparison's one read of two
checks' latest versions, the same on SQLite, PostgreSQL and the in-memory fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.test_repositories import T0, add_verification
from tests.stores import STORE_KINDS, store_under_test
from verifier.domain.outcomes import Completeness, VerificationState
from verifier.domain.ports import Store


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    async with store_under_test(request.param, database_url, T0) as s:
        yield s


async def test_each_existing_checks_latest_version_once(store: Store) -> None:
    await add_verification(store, "v-1")
    await add_verification(store, "v-2", "req-2")
    async with store.unit_of_work(write=True) as uow:
        await uow.verifications.set_state(
            "v-1", VerificationState.DONE, Completeness.COMPLETE, 2, T0
        )
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.verifications.latest_versions(["v-1", "v-2"]) == {"v-1": 2, "v-2": 0}
        assert await uow.verifications.latest_versions(["v-2", "v-2", "v-9"]) == {"v-2": 0}
        assert await uow.verifications.latest_versions([]) == {}
