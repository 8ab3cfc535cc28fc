"""Key rotation with re-wrap, on both databases: every sealed column moves to the new data
key, every report still opens and verifies (also once the old key file is gone), a run
can stop half-way and be finished, and tampered rows are reported, never re-sealed."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hedui_sdk import IdType, SourceKind
from tests.fakes import AsyncBankFake, FakeAdapter, synthetic_id
from tests.helpers import (
    APPLICANT_ID,
    CALLER,
    SPOUSE_ID,
    SYSTEM,
    config,
    household_draft,
    make_app,
    soon,
)
from tests.late_sources_helpers import tick_at
from verifier.api.client import Client
from verifier.bootstrap import App, serve_app
from verifier.cli import offline
from verifier.domain.household import MemberDraft, Relation
from verifier.service.fanout import SourcePolicy
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import parse_jwks
from verifier.signing.keystore import KeyStore
from verifier.storage.engine import Database, open_database
from verifier.storage.rewrap import SEALED_COLUMNS, groups, rewrap
from verifier.storage.sealing import Sealer

OTHER = (
    MemberDraft(IdType.RESIDENT_ID, synthetic_id(seq=41, born=date(1961, 2, 3)), "测试丁",
                Relation.APPLICANT),
    MemberDraft(IdType.RESIDENT_ID, synthetic_id(seq=42, born=date(1963, 6, 7)), "测试戊",
                Relation.SPOUSE),
)  # fmt: skip
TABLES = ("verifications", "reports", "source_outcomes", "result_cache")


class Interrupted(Exception):
    pass


def adapters(bank: AsyncBankFake) -> dict[SourceKind, Any]:
    return {
        SourceKind.BANK: bank,
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100}),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={SPOUSE_ID: 30_000_000}
        ),
    }


async def app_with(database_url: str, keys_dir: Path, bank: AsyncBankFake) -> App:
    return await make_app(
        database_url,
        keys_dir,
        adapters(bank),
        policies={SourceKind.BANK: SourcePolicy(reuse_days=30)},
    )


async def populate(database_url: str, keys_dir: Path) -> list[tuple[str, int]]:
    """Rows in every sealed column: requests, reports v1 and v2, outcomes, the bank's
    result cache, and bank tickets still pending. Returns every (verification, version)."""
    bank = AsyncBankFake({APPLICANT_ID: 1_500_000})
    app = await app_with(database_url, keys_dir, bank)
    try:
        a = await app.service.create(CALLER, household_draft("a"), wait=True, wait_until=soon())
        bank.ready.set()
        assert await tick_at(app, 1) == 3  # the bank answers: report v2 and cached results
        bank.ready.clear()
        c = await app.service.create(
            CALLER, household_draft("c", case_id="CASE-3", members=OTHER), wait=True,
            wait_until=soon(),
        )  # fmt: skip
        assert (await app.service.view(c.record.id)).record.latest_version == 1
        return [(a.record.id, 1), (a.record.id, 2), (c.record.id, 1)]
    finally:
        await app.aclose()


async def scalars(db: Database, sql: str) -> list[Any]:
    async with db.read_engine.connect() as conn:
        return list((await conn.execute(text(sql))).scalars())


async def key_ids(db: Database) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for g in groups():
        if g.table in TABLES:
            out[f"{g.table}.{g.key_id}"] = set(
                await scalars(db, f"SELECT DISTINCT {g.key_id} FROM {g.table}")
            )
    return out


async def row_counts(db: Database) -> dict[str, int]:
    return {t: (await scalars(db, f"SELECT count(*) FROM {t}"))[0] for t in TABLES}


def sealer(keys_dir: Path) -> Sealer:
    active, every = KeyStore(keys_dir).data_keys()
    return Sealer(active.kid, every)


async def test_rotate_rewrap_then_every_report_opens_and_verifies_without_the_old_key(
    database_url: str, keys_dir: Path
) -> None:
    reports = await populate(database_url, keys_dir)
    old_kid = KeyStore(keys_dir).data_keys()[0].kid
    new_kid = KeyStore(keys_dir).rotate()["data"]
    db = open_database(database_url)
    try:
        rows = await row_counts(db)
        assert all(rows.values()), rows  # every kind of sealed row exists before the re-wrap
        assert await key_ids(db) == {k: {old_kid} for k in await key_ids(db)}
        pending = await scalars(
            db, "SELECT count(*) FROM source_outcomes WHERE ticket_sealed IS NOT NULL"
        )
        assert pending == [2]  # the second household's bank tickets, re-wrapped too

        seen: list[tuple[str, int, int]] = []
        report = await rewrap(
            db, sealer(keys_dir), lambda t, d, n: seen.append((t, d, n)), batch_size=4
        )
        assert report.ok, report.failures
        assert {t: report.counts[t] for t in TABLES} == rows
        assert sum(report.counts.values()) == sum(rows.values())  # other tables: empty
        assert report.skipped == {t: 0 for t in report.counts}
        assert await key_ids(db) == {k: {new_kid} for k in await key_ids(db)}
        assert report.unused_keys == [old_kid] and report.keys_in_use == {new_kid}
        # In batches: several progress calls for the biggest table, ending at its total.
        outcome_progress = [(d, n) for t, d, n in seen if t == "source_outcomes"]
        assert len(outcome_progress) > 1 and outcome_progress[-1] == (rows["source_outcomes"],) * 2

        # Idempotent: a second run has nothing to do.
        again = await rewrap(db, sealer(keys_dir))
        assert again.ok and set(again.counts.values()) == {0}
        assert {t: again.skipped[t] for t in TABLES} == rows
    finally:
        await db.dispose()

    # An operator deletes the now-unused key; everything still opens, through the server.
    (keys_dir / "data" / f"{old_kid}.key").unlink()
    bank = AsyncBankFake({APPLICANT_ID: 1_500_000})
    app = await app_with(database_url, keys_dir, bank)
    try:
        async with app.store.unit_of_work(write=False) as uow:
            for vid in {v for v, _ in reports}:
                assert len((await uow.verifications.load_request(vid)).household.members) in (2, 3)
                assert len(await uow.outcomes.summaries(vid)) >= 6
            # The open check's outcome rows (a closed one's live in its report) still open.
            assert len(await uow.outcomes.load(reports[-1][0])) >= 6
        # The pending tickets were re-wrapped: the bank can still be asked about them.
        bank.ready.set()
        assert await tick_at(app, 2) == 2
        reports.append((reports[-1][0], 2))
        server = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
        try:
            async with Client(f"127.0.0.1:{server.port}", user="w", system=SYSTEM) as c:
                keys = parse_jwks(await c.jwks())
                for vid, version in reports:
                    resp = await c.report(vid, version)
                    doc = verify_envelope(resp.envelope, keys).document
                    assert (doc["verification_id"], doc["version"]) == (vid, version)
        finally:
            await server.stop(0)
    finally:
        await app.aclose()
    db = open_database(database_url)
    try:  # the version written after the rotation is sealed under the new key as well
        after = await key_ids(db)
        # Both checks are closed now: their outcome rows were dropped with the last version.
        assert after.pop("source_outcomes.records_key_id") == set()
        assert after == {k: {new_kid} for k in after}
    finally:
        await db.dispose()


async def test_an_interrupted_rewrap_keeps_its_committed_batches_and_resumes(
    database_url: str, keys_dir: Path
) -> None:
    await populate(database_url, keys_dir)
    KeyStore(keys_dir).rotate()
    s = sealer(keys_dir)
    db = open_database(database_url)

    def crash(table: str, _done: int, _total: int) -> None:
        if table == "source_outcomes":
            raise Interrupted  # e.g. the operator's Ctrl-C after the first committed batch

    try:
        with pytest.raises(Interrupted):
            await rewrap(db, s, crash, batch_size=5)
        moved = await scalars(
            db, f"SELECT count(*) FROM source_outcomes WHERE records_key_id = '{s.active_kid}'"
        )
        assert moved == [5]
        report = await rewrap(db, s)
        total = (await row_counts(db))["source_outcomes"]
        assert report.ok and report.counts["source_outcomes"] == total - 5
        assert report.skipped["source_outcomes"] == 5
        assert await key_ids(db) == {k: {s.active_kid} for k in await key_ids(db)}
    finally:
        await db.dispose()


async def test_tampered_rows_are_reported_and_left_as_they_are(
    database_url: str, keys_dir: Path
) -> None:
    reports = await populate(database_url, keys_dir)
    old = sealer(keys_dir)
    KeyStore(keys_dir).rotate()
    (a, _), _, (c, _) = reports
    db = open_database(database_url)
    try:
        async with db.write_engine.begin() as conn:
            # Swap two reports' ciphertexts: both are valid under the old key, wrong row.
            rows = (
                await conn.execute(
                    text("SELECT verification_id, envelope_sealed FROM reports WHERE version = 1")
                )
            ).all()
            env = {r[0]: bytes(r[1]) for r in rows}
            for vid, other in ((a, c), (c, a)):
                await conn.execute(
                    text("UPDATE reports SET envelope_sealed = :v WHERE verification_id = :id "
                         "AND version = 1"),
                    {"v": env[other], "id": vid},
                )  # fmt: skip
            # Seal a request under the right key but another row's associated data.
            forged, _ = old.seal(b"{}", f"verifications/{c}")
            await conn.execute(
                text("UPDATE verifications SET request_sealed = :v WHERE id = :id"),
                {"v": forged, "id": a},
            )
        report = await rewrap(db, sealer(keys_dir), batch_size=2)
        bad = sorted((f.table, f.row, f.column, f.key_id) for f in report.failures)
        assert bad == sorted(
            [
                ("reports", f"verification_id={a}, version=1", "envelope_sealed", old.active_kid),
                ("reports", f"verification_id={c}, version=1", "envelope_sealed", old.active_kid),
                ("verifications", f"id={a}", "request_sealed", old.active_kid),
            ]
        )
        assert not report.ok and old.active_kid in report.keys_in_use
        assert old.active_kid not in report.unused_keys
        for f in report.failures:
            for raw in (APPLICANT_ID, SPOUSE_ID, "测试甲"):
                assert raw not in str(f)
        # Left exactly as they were, on the old key; the rest moved.
        still = await scalars(
            db, f"SELECT envelope_sealed FROM reports WHERE version = 1 AND verification_id = '{a}'"
        )
        assert bytes(still[0]) == env[c]
        assert await scalars(db, f"SELECT request_key_id FROM verifications WHERE id = '{a}'") == [
            old.active_kid
        ]
        assert report.counts["reports"] == 1 and report.counts["verifications"] == 1
        # Running again reports the same rows again and finishes (no endless retry).
        again = await rewrap(db, sealer(keys_dir), batch_size=2)
        assert len(again.failures) == 3 and set(again.counts.values()) == {0}
    finally:
        await db.dispose()


def test_keys_rotate_command_rewraps_and_names_the_unused_key(
    database_url: str, keys_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(populate(database_url, keys_dir))
    old_kid = KeyStore(keys_dir).data_keys()[0].kid
    cfg = config(database_url, keys_dir)
    assert offline.keys_rotate(cfg, argparse.Namespace(rewrap=False)) == 0
    assert "--no-rewrap" in capsys.readouterr().out

    async def on_keys() -> dict[str, set[str]]:
        db = open_database(database_url)
        try:
            return await key_ids(db)
        finally:
            await db.dispose()

    assert set().union(*asyncio.run(on_keys()).values()) == {old_kid}
    assert offline.keys_rotate(cfg, argparse.Namespace(rewrap=True)) == 0
    out = capsys.readouterr().out
    new_kid = KeyStore(keys_dir).data_keys()[0].kid
    assert set().union(*asyncio.run(on_keys()).values()) == {new_kid}
    # Both earlier keys are now unused and named, so the operator may delete them.
    unused = sorted(set(KeyStore(keys_dir).data_keys()[1]) - {new_kid})
    assert len(unused) == 2 and old_kid in unused
    assert "may be deleted" in out and all(k in out for k in unused)


def test_every_sealed_column_of_the_schema_is_covered() -> None:
    """A new sealed column in the models without a line in SEALED_COLUMNS fails here."""
    from verifier.storage.models import Base

    listed = {(c.table, c.sealed) for c in SEALED_COLUMNS}
    for t in Base.metadata.sorted_tables:
        for col in t.columns:
            if col.name.endswith("_sealed") or col.name == "sealed":
                assert (t.name, col.name) in listed, f"{t.name}.{col.name} is not re-wrapped"
