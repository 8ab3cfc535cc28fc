"""Retention of federation data, on both databases and the fake. Requester side: the
fragments peers gave a check hold members' records, so their sealed envelopes go with
the check's personal data (its source records' period, 12 months for 370322), the rows
staying as provenance (peer, key, hash, release seq). Peer side: the answers given to
peers are deleted once the shortest source-records period in force ran out. Both are
audited as ``purged`` with counts only; a second run purges nothing; no sealed value is
left and no table holds the household's ID numbers or names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hedui_sdk import SourceKind
from tests.app_sql import audit_bodies, sql_db, sql_scalar
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, CALLER, household_draft, make_app, soon
from tests.pii import PiiScanner, assert_clean
from tests.stores import STORE_KINDS, running_record, store_under_test
from verifier.bootstrap import App, audit_verifier_keys, verify_audit_log
from verifier.domain.fragment import EmbeddedFragment
from verifier.domain.household import validate_request
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import Store
from verifier.domain.ports.peers import StoredAnswer
from verifier.service.retention import DueCount, RetentionService

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NAME = "测试甲"


def _fragment(body: dict[str, Any]) -> EmbeddedFragment:
    envelope = json.dumps(body, ensure_ascii=False).encode()
    return EmbeddedFragment(
        "hedui-linzi", "k" * 64, hashlib.sha256(envelope).hexdigest(), 17, envelope
    )


# A raw ID number and name stand in for the records a fragment holds: a purge that left
# the envelope behind (or a copy in clear) would show in the scan of every column.
FRAGMENT = _fragment({"payload": APPLICANT_ID, "name": NAME})


@pytest.fixture
async def app(database_url: str, keys_dir: Path) -> AsyncIterator[App]:
    a = await make_app(database_url, keys_dir, {SourceKind.TAX: FakeAdapter(SourceKind.TAX)})
    yield a
    await a.aclose()


async def test_fragments_and_answers_given_go_with_their_periods(app: App) -> None:
    view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    vid = view.record.id
    assert view.record.state is VerificationState.DONE
    done = datetime.now(UTC)
    answer = StoredAnswer("hedui-gaoqing", "req-9", "d" * 64, FRAGMENT.envelope, 5, done)

    async def keep(uow: Any) -> None:
        await uow.fragments.add(vid, FRAGMENT, done)
        await uow.answers.add(answer)

    await app.store.write(keep)
    sealed = "SELECT count(*) FROM {} WHERE envelope_sealed IS NOT NULL"
    assert await sql_scalar(app, sealed.format("federation_fragments")) == 1
    assert await sql_scalar(app, sealed.format("federation_answers")) == 1

    # Within every period: nothing of them is touched.
    early = await RetentionService(app.store, clock=lambda: done + timedelta(days=20)).run()
    assert early.fragments == 0 and early.federation_answers == 0
    async with app.store.unit_of_work(write=False) as uow:
        assert await uow.fragments.of(vid) == [FRAGMENT]
        assert await uow.answers.get("hedui-gaoqing", "req-9") == answer

    # Past the source records' 12 months.
    later = RetentionService(app.store, clock=lambda: done + timedelta(days=400))
    assert DueCount("federation_answers", "", 1) in await later.status()
    result = await later.run()
    assert result.fragments == 1 and result.federation_answers == 1
    async with app.store.unit_of_work(write=False) as uow:
        assert await uow.fragments.of(vid) == []
        assert await uow.answers.get("hedui-gaoqing", "req-9") is None
    assert await sql_scalar(app, sealed.format("federation_fragments")) == 0
    assert await sql_scalar(app, "SELECT count(*) FROM federation_answers") == 0
    # The provenance stays: which peer's fragment (by hash) answered, released at which seq.
    kept = "SELECT envelope_sha256, release_seq FROM federation_fragments"
    async with sql_db(app).read_sessions() as s:
        assert (await s.execute(text(kept))).one() == (FRAGMENT.envelope_sha256, 17)

    purged = [b["details"] for b in await audit_bodies(app, "purged")]
    records = [d for d in purged if d["kind"] == "source_records"]
    assert [d.get("fragments") for d in records] == [1]
    given = [d for d in purged if d["kind"] == "federation_answers"]
    assert [d["federation_answers"] for d in given] == [1]

    again = await RetentionService(app.store, clock=lambda: done + timedelta(days=401)).run()
    assert again.total == 0 and again.fragments == 0
    # Past the reports' 60 months the check's reports go; its fragments are gone already.
    last = await RetentionService(app.store, clock=lambda: done + timedelta(days=61 * 31)).run()
    assert last.checks == {"reports": 1} and last.fragments == 0

    assert_clean(await PiiScanner([APPLICANT_ID], [NAME]).database(sql_db(app)))
    assert_clean(await PiiScanner([APPLICANT_ID], [NAME]).audit(sql_db(app)))
    report = await verify_audit_log(app.config, verifier_keys=audit_verifier_keys(app.config))
    assert report.ok, report.problem


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Store]:
    async with store_under_test(request.param, database_url, T0) as s:
        yield s


async def test_the_repository_purges_fragments_once_and_old_answers_up_to_a_limit(
    store: Store,
) -> None:
    request = validate_request(household_draft("req-v1"), today=T0.date())
    other = _fragment({"payload": "other"})
    answers = [
        StoredAnswer("hedui-gaoqing", f"req-{i}", "d" * 64, b"{}", i, T0 + timedelta(days=i))
        for i in range(4)
    ]
    async with store.unit_of_work(write=True) as uow:
        for vid in ("v-1", "v-2"):
            await uow.verifications.add(
                running_record(vid, f"req-{vid}", T0), request, "SQ-1", run_lease=("o", T0)
            )
        await uow.fragments.add("v-1", FRAGMENT, T0)
        await uow.fragments.add("v-1", other, T0)
        await uow.fragments.add("v-2", FRAGMENT, T0)
        for a in answers:
            await uow.answers.add(a)
        await uow.commit()
    cut = T0 + timedelta(days=3)
    async with store.unit_of_work(write=True) as uow:
        assert await uow.retention.purge_fragments("v-1") == 2
        assert await uow.retention.purge_fragments("v-1") == 0
        assert await uow.retention.answers_held(cut) == 3
        assert await uow.retention.purge_answers(cut, 2) == 2
        assert await uow.retention.answers_held(cut) == 1
        await uow.commit()
    async with store.unit_of_work(write=False) as uow:
        assert await uow.fragments.of("v-1") == []
        assert await uow.fragments.of("v-2") == [FRAGMENT]
        assert await uow.answers.get("hedui-gaoqing", "req-0") is None
        assert await uow.answers.get("hedui-gaoqing", "req-1") is None
        assert await uow.answers.get("hedui-gaoqing", "req-2") is not None
        assert await uow.answers.get("hedui-gaoqing", "req-3") is not None
