"""The service's writes go through the group committer: concurrent requests share
transactions, and each is still answered only after its own entries are committed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from audit.entry import Actor, EntryDraft
from audit.schema import AuditEntryRow
from audit.verify import verify_log
from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, CALLER, household_draft, make_app, soon
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import UnitOfWork
from verifier.storage.uow import SqlStore

REQUESTS = 12


def sources() -> dict[SourceKind, FakeAdapter]:
    return {SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 1_234_56})}


async def entries(store: SqlStore) -> list[dict[str, Any]]:
    async with store.db.read_sessions() as s:
        rows = (await s.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))).scalars()
        return [json.loads(r.body) for r in rows]


async def test_concurrent_requests_share_transactions_and_each_has_its_entries(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources())
    store = app.store
    assert isinstance(store, SqlStore)
    commits = [0]

    @event.listens_for(store.db.write_engine.sync_engine, "commit")
    def _count(_conn: Any) -> None:
        commits[0] += 1

    try:
        views = await asyncio.gather(
            *(
                app.service.create(
                    CALLER,
                    household_draft(request_id=f"g-{i}", case_id=f"C-{i}"),
                    wait=True,
                    wait_until=soon(),
                )
                for i in range(REQUESTS)
            )
        )
        # Every caller was answered after its report and release entry committed ...
        assert all(v.record.state is VerificationState.DONE for v in views)
        log = await entries(store)
        for v in views:
            mine = [e for e in log if e["verification_id"] == v.record.id]
            assert [e["action"] for e in mine] == ["authorize", "access_intent", "released"]
        # ... and the intents and releases of the twelve rode in fewer transactions than
        # the 24 they would take one by one.
        assert commits[0] < 2 * REQUESTS
        async with store.db.read_sessions() as s:
            report = await verify_log(s)
        assert report.ok and report.entries == len(log)
    finally:
        await app.aclose()


async def test_a_duplicate_in_the_same_batch_is_answered_as_a_replay(
    database_url: str, keys_dir: Path
) -> None:
    # The second insert fails on the unique request id inside the batch that holds the
    # first; its caller must be told only after that batch committed, so the replay
    # lookup finds the original instead of answering an error.
    app = await make_app(database_url, keys_dir, sources())
    try:
        first, second = await asyncio.gather(
            app.service.create(CALLER, household_draft(), wait=True, wait_until=soon()),
            app.service.create(CALLER, household_draft(), wait=True, wait_until=soon()),
        )
        assert first.record.id == second.record.id
        assert isinstance(app.store, SqlStore)
        log = await entries(app.store)
        assert [e["action"] for e in log].count("access_intent") == 1
    finally:
        await app.aclose()


async def test_work_that_raises_leaves_nothing_and_the_others_commit(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources())
    store = app.store
    assert isinstance(store, SqlStore)

    def work(i: int) -> Any:
        async def run(uow: UnitOfWork) -> int:
            await uow.audit.append([EntryDraft(Actor("t"), "probe", "allow", case_id=f"P{i}")])
            if i == 1:
                raise ValueError("unit 1 refuses")
            return i

        return run

    try:
        results = await asyncio.gather(
            *(store.write(work(i)) for i in range(3)), return_exceptions=True
        )
        assert results[0] == 0 and results[2] == 2
        assert isinstance(results[1], ValueError)
        log = await entries(store)
        assert [e["case_id"] for e in log if e["action"] == "probe"] == ["P0", "P2"]
        assert [e["seq"] for e in log] == list(range(len(log)))
    finally:
        await app.aclose()
