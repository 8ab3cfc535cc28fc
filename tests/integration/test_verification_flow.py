"""The verification use case on a real database (SQLite and PostgreSQL) with fake sources."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from audit.schema import AuditEntryRow
from audit.verify import verify_chain
from hedui_sdk import PermanentSourceError, SourceDenied, SourceKind
from tests.fakes import FakeAdapter, failing
from tests.helpers import APPLICANT_ID, CALLER, CHILD_ID, SPOUSE_ID, household_draft, make_app, soon
from verifier.domain.errors import (
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import Caller
from verifier.service.fanout import SourcePolicy
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id
from verifier.storage.uow import SqlStore


def sources() -> dict[SourceKind, FakeAdapter]:
    return {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 1_234_56}),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={SPOUSE_ID: 45_000_000}
        ),
    }


async def audit_rows(store: SqlStore) -> list[dict[str, Any]]:
    async with store.db.read_sessions() as s:
        rows = (await s.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))).scalars().all()
        return [json.loads(r.body) for r in rows]


async def test_a_household_is_verified_signed_stored_and_audited(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources())
    try:
        view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert view.record.state is VerificationState.DONE
        assert view.record.latest_version == 1
        statuses = {(p.member_index, p.source): p.status for p in view.progress}
        assert statuses == {
            (0, "tax"): "FOUND",
            (0, "real_estate"): "NOT_FOUND",
            (1, "tax"): "NOT_FOUND",
            (1, "real_estate"): "FOUND",
            (2, "tax"): "NOT_FOUND",
            (2, "real_estate"): "NOT_FOUND",
        }
        report = await app.service.get_report(CALLER, view.record.id, 0)
        pub = app.keys.signing_key().public_key()
        doc = verify_envelope(report.envelope, {key_id(pub): pub}).document
        assert doc["totals"]["income_fen"] == 123456 and doc["totals"]["assets_fen"] == 45_000_000
        assert doc["completeness"]["status"] == "COMPLETE"
        assert [m["id_number_masked"] for m in doc["members"]] == [
            APPLICANT_ID[:4] + "*" * 10 + APPLICANT_ID[-4:],
            SPOUSE_ID[:4] + "*" * 10 + SPOUSE_ID[-4:],
            CHILD_ID[:4] + "*" * 10 + CHILD_ID[-4:],
        ]
        payload = base64.b64decode(json.loads(report.envelope)["payload"]).decode()
        for raw in (APPLICANT_ID, SPOUSE_ID, CHILD_ID, "测试甲"):
            assert raw not in payload

        assert isinstance(app.store, SqlStore)
        entries = await audit_rows(app.store)
        actions = [e["action"] for e in entries]
        assert actions == ["authorize", "access_intent", "released", "report_read"]
        released = entries[2]
        assert released["details"]["envelope_sha256"] == report.envelope_sha256
        assert released["seq"] == report.release_seq
        assert len(released["subject_refs"]) == 3
        dump = json.dumps(entries, ensure_ascii=False)
        for raw in (APPLICANT_ID, SPOUSE_ID, CHILD_ID, "测试甲"):
            assert raw not in dump
        async with app.store.db.read_sessions() as s:
            chain = await verify_chain(s)
        assert chain.ok and chain.entries == 4
    finally:
        await app.aclose()


async def test_every_returned_report_has_its_release_entry(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources())
    try:
        ids = []
        for i in range(5):
            v = await app.service.create(
                CALLER, household_draft(request_id=f"r{i}"), wait=True, wait_until=soon()
            )
            ids.append(v.record.id)
        assert isinstance(app.store, SqlStore)
        entries = await audit_rows(app.store)
        released = {
            (e["verification_id"], e["details"]["envelope_sha256"])
            for e in entries
            if e["action"] == "released"
        }
        for vid in ids:
            r = await app.service.get_report(CALLER, vid, 0)
            assert (vid, r.envelope_sha256) in released
    finally:
        await app.aclose()


@pytest.mark.parametrize(
    ("adapter_error", "status"),
    [
        (None, "FAILED"),  # transient, retried, then FAILED
        (PermanentSourceError("HTTP 400"), "FAILED"),
        (SourceDenied("no agreement"), "DENIED"),
        (RuntimeError("bug in adapter"), "FAILED"),
    ],
)
async def test_a_failing_source_is_failed_never_not_found(
    database_url: str, keys_dir: Path, adapter_error: Exception | None, status: str
) -> None:
    bad = (
        failing(SourceKind.TAX)
        if adapter_error is None
        else FakeAdapter(SourceKind.TAX, fail_with=adapter_error)
    )
    app = await make_app(
        database_url,
        keys_dir,
        {SourceKind.TAX: bad, SourceKind.REAL_ESTATE: FakeAdapter(SourceKind.REAL_ESTATE)},
        policies={SourceKind.TAX: SourcePolicy(breaker_threshold=100, backoff_initial=0.01)},
    )
    try:
        view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        tax = [p for p in view.progress if p.source == "tax"]
        assert {p.status for p in tax} == {status}
        assert all(p.reason for p in tax)
        assert view.record.completeness is not None and view.record.completeness.value == "PARTIAL"
        report = await app.service.get_report(CALLER, view.record.id, 0)
        doc = json.loads(base64.b64decode(json.loads(report.envelope)["payload"]))
        assert {s["status"] for s in doc["sources"] if s["source"] == "real_estate"} == {
            "NOT_FOUND"
        }
        assert len(doc["completeness"]["missing"]) == 3
        if adapter_error is None:
            assert bad.calls == 3 * 3  # each member: 1 try + 2 retries
    finally:
        await app.aclose()


async def test_a_hanging_source_fails_at_the_deadline_and_is_cancelled(
    database_url: str, keys_dir: Path
) -> None:
    hang = FakeAdapter(SourceKind.TAX, hang=True)
    app = await make_app(database_url, keys_dir, {SourceKind.TAX: hang}, deadline_seconds=0.5)
    try:
        view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert {p.status for p in view.progress} == {"FAILED"}
        assert view.record.latest_version == 1
        assert hang.cancelled == hang.calls > 0
    finally:
        await app.aclose()


async def test_same_request_id_is_idempotent_and_a_different_body_is_refused(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources())
    try:
        first = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        again = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert again.record.id == first.record.id
        with pytest.raises(FailedPrecondition):
            await app.service.create(CALLER, household_draft(case_id="CASE-2"), wait=False)
    finally:
        await app.aclose()


async def test_out_of_region_is_denied_and_the_denial_audited(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources())
    try:
        with pytest.raises(PermissionDenied) as ei:
            await app.service.create(CALLER, household_draft(region="341824"), wait=False)
        assert ei.value.reason == "OUT_OF_REGION"
        assert isinstance(app.store, SqlStore)
        entries = await audit_rows(app.store)
        assert [(e["action"], e["outcome"], e["reason"]) for e in entries] == [
            ("authorize", "deny", "OUT_OF_REGION")
        ]
        assert all(a.calls == 0 for a in sources().values())
    finally:
        await app.aclose()


async def test_another_system_cannot_see_the_verification(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources())
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        other = Caller("case-system-b", "x", "caseworker", ("3703",))
        with pytest.raises(NotFound):
            await app.service.get(other, v.record.id)
        with pytest.raises(NotFound):
            await app.service.get_report(other, v.record.id, 0)
    finally:
        await app.aclose()


async def test_reports_and_requests_are_encrypted_at_rest(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources())
    try:
        await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert isinstance(app.store, SqlStore)
        async with app.store.db.read_sessions() as s:
            blobs = [
                bytes(b) for (b,) in await s.execute(text("SELECT envelope_sealed FROM reports"))
            ]
            blobs += [
                bytes(b)
                for (b,) in await s.execute(text("SELECT request_sealed FROM verifications"))
            ]
            n = (await s.execute(select(func.count()).select_from(AuditEntryRow))).scalar_one()
        assert n == 3 and len(blobs) == 2
        for blob in blobs:
            for raw in (APPLICANT_ID, "测试甲", "hedui.report"):
                assert raw.encode() not in blob
    finally:
        await app.aclose()


async def test_a_source_failing_repeatedly_opens_its_circuit(
    database_url: str, keys_dir: Path
) -> None:
    bad = failing(SourceKind.TAX)
    app = await make_app(
        database_url,
        keys_dir,
        {SourceKind.TAX: bad},
        policies={SourceKind.TAX: SourcePolicy(retries=0, breaker_threshold=2, breaker_reset=60)},
    )
    try:
        view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        reasons = sorted(p.reason for p in view.progress)
        assert {p.status for p in view.progress} == {"FAILED"}
        # Two calls trip the breaker; the third member's call is not made at all.
        assert bad.calls == 2
        assert sum("circuit open" in r for r in reasons) == 1
    finally:
        await app.aclose()


async def test_unusual_volume_is_flagged_once_and_the_hard_limit_refuses(
    database_url: str, keys_dir: Path
) -> None:
    app = await make_app(database_url, keys_dir, sources(), volume_soft=2, volume_hard=3)
    try:
        for i in range(3):
            await app.service.create(
                CALLER, household_draft(request_id=f"v{i}", case_id=f"C{i}"), wait=False
            )
        with pytest.raises(ResourceExhausted) as ei:
            await app.service.create(
                CALLER, household_draft(request_id="v3", case_id="C3"), wait=False
            )
        assert ei.value.reason == "VOLUME_LIMIT"
        # Another user of the same system is not affected.
        other = Caller(CALLER.system, "worker-2", "caseworker", CALLER.regions)
        await app.service.create(other, household_draft(request_id="w0"), wait=False)
        assert isinstance(app.store, SqlStore)
        log = await audit_rows(app.store)
        anomalies = [e for e in log if e["action"] == "anomaly"]
        assert [a["details"]["checks_in_window"] for a in anomalies] == [2, 4]
        assert all(a["actor"]["user"] == "worker-1" for a in anomalies)
        denied = [e for e in log if e["action"] == "authorize" and e["outcome"] == "deny"]
        assert [d["reason"] for d in denied] == ["VOLUME_LIMIT"]
    finally:
        await app.aclose()


async def test_an_auditor_may_not_read_report_contents(database_url: str, keys_dir: Path) -> None:
    app = await make_app(database_url, keys_dir, sources())
    try:
        v = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        auditor = Caller(CALLER.system, "auditor-1", "auditor", CALLER.regions)
        with pytest.raises(NotFound):
            await app.service.get_report(auditor, v.record.id, 0)
        assert isinstance(app.store, SqlStore)
        denied = [e for e in await audit_rows(app.store) if e["action"] == "report_read"]
        assert [(e["outcome"], e["reason"]) for e in denied] == [("deny", "ROLE_NOT_ALLOWED")]
    finally:
        await app.aclose()


async def test_the_answer_to_a_waiting_caller_is_what_a_later_read_returns(
    database_url: str, keys_dir: Path
) -> None:
    # The waiting caller is answered from what the release wrote, not a read-back.
    adapters = {**sources(), SourceKind.VEHICLE: failing(SourceKind.VEHICLE)}
    app = await make_app(database_url, keys_dir, adapters)
    try:
        answered = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert answered.record.latest_version == 1
        assert {p.status for p in answered.progress} == {"FOUND", "NOT_FOUND", "FAILED"}
        assert answered == await app.service.view(answered.record.id)
    finally:
        await app.aclose()
