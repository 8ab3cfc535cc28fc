"""VerificationService on in-memory fakes: create, replay and refusals, with no database
(the SQL adapters have their own tests on both databases).

The store is ``tests.fakes.InMemoryStore`` (repositories that subclass the ports), the
sources are fake adapters behind the real fan-out, and reports are signed for real.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from hedui_sdk import SourceKind, SourceQuery, SourceResult
from tests import verification_service_rig
from tests.fakes import AllowAllConsents, FakeAdapter, InMemoryStore
from tests.helpers import APPLICANT_ID, CALLER, CHILD_ID, SPOUSE_ID, household_draft, soon
from tests.verification_service_rig import Rig, make_rig, tax
from verifier.domain.caller import Caller
from verifier.domain.consent import CoverageDecision
from verifier.domain.errors import (
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from verifier.domain.outcomes import Completeness, VerificationState

# The shared fixture, bound here so that pytest finds it for this module's tests.
rigs = verification_service_rig.rigs


# ---------------------------------------------------------------------- create
async def test_create_asks_every_member_and_releases_a_signed_report(rigs: list[Rig]) -> None:
    source = tax()
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())

    assert view.record.state is VerificationState.DONE
    assert view.record.latest_version == 1
    assert view.record.completeness is Completeness.COMPLETE
    assert [(p.member_index, p.source, p.status) for p in view.progress] == [
        (0, "tax", "FOUND"),
        (1, "tax", "NOT_FOUND"),
        (2, "tax", "NOT_FOUND"),
    ]
    assert source.calls == 3
    report = await rig.service.get_report(CALLER, view.record.id, 0)
    doc = rig.verify(report.envelope)
    assert doc["version"] == 1 and doc["verification_id"] == view.record.id
    assert report.release_seq == rig.entries("released")[0]["seq"]
    assert rig.actions() == ["authorize", "access_intent", "released", "report_read"]
    allow, intent, released, read = rig.store.entries()
    assert allow["outcome"] == "allow" and allow["verification_id"] == view.record.id
    assert intent["details"]["sources"] == ["tax"]
    assert released["details"]["envelope_sha256"] == report.envelope_sha256
    assert len(released["subject_refs"]) == 3
    assert read["details"] == {"version": 1, "report_id": doc["report_id"]}
    # Keyed references only: no ID number reaches the audit log.
    logged = json.dumps(rig.store.entries(), ensure_ascii=False)
    assert not any(n in logged for n in (APPLICANT_ID, SPOUSE_ID, CHILD_ID))


class RecordsTheLogWhenAsked(FakeAdapter):
    """A source that notes which audit entries were committed when it was first asked."""

    def __init__(self, store: InMemoryStore) -> None:
        super().__init__(SourceKind.TAX)
        self.store = store
        self.committed_before: list[str] | None = None

    async def query(self, q: SourceQuery) -> SourceResult:
        if self.committed_before is None:
            self.committed_before = [e["action"] for e in self.store.entries()]
        return await super().query(q)


async def test_the_intent_is_committed_before_any_source_is_asked(rigs: list[Rig]) -> None:
    store = InMemoryStore()
    source = RecordsTheLogWhenAsked(store)
    rigs.append(rig := make_rig({SourceKind.TAX: source}, store=store))
    await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert source.committed_before == ["authorize", "access_intent"]


async def test_create_without_waiting_answers_at_once_and_the_run_goes_on(
    rigs: list[Rig],
) -> None:
    source = FakeAdapter(SourceKind.TAX, hang=True)
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    view = await rig.service.create(CALLER, household_draft(), wait=False)
    assert view.record.state is VerificationState.RUNNING and view.record.latest_version == 0
    await asyncio.wait_for(source.started.wait(), 5)
    assert rig.service.running() == 1
    with pytest.raises(FailedPrecondition):
        await rig.service.get_report(CALLER, view.record.id, 0)


async def test_the_audit_log_unwritable_means_no_source_is_asked(rigs: list[Rig]) -> None:
    source = tax()
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    rig.store.audit_unavailable = True
    with pytest.raises(Unavailable):
        await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert source.calls == 0
    assert rig.store.tables.verifications == {} and rig.store.entries() == []


# ---------------------------------------------------------------------- replay
async def test_a_repeated_request_is_answered_as_a_replay(rigs: list[Rig]) -> None:
    source = tax()
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    first = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    again = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert again.record.id == first.record.id and again.record.latest_version == 1
    assert source.calls == 3
    assert rig.actions().count("access_intent") == 1


async def test_a_request_id_reused_for_another_request_is_refused(rigs: list[Rig]) -> None:
    rigs.append(rig := make_rig({SourceKind.TAX: tax()}))
    await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    with pytest.raises(FailedPrecondition):
        await rig.service.create(
            CALLER, household_draft(case_id="CASE-2"), wait=True, wait_until=soon()
        )
    assert len(rig.store.tables.verifications) == 1


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (Caller(CALLER.system, "worker-1", "reviewer", ("3703",)), "ROLE_NOT_ALLOWED"),
        (Caller(CALLER.system, "worker-1", "caseworker", ("3415",)), "OUT_OF_REGION"),
    ],
)
async def test_a_caller_who_may_not_check_is_refused_and_the_refusal_audited(
    rigs: list[Rig], caller: Caller, reason: str
) -> None:
    source = tax()
    rigs.append(rig := make_rig({SourceKind.TAX: source}))
    with pytest.raises(PermissionDenied) as refused:
        await rig.service.create(caller, household_draft(), wait=True, wait_until=soon())
    assert refused.value.reason == reason
    [entry] = rig.store.entries()
    assert (entry["action"], entry["outcome"], entry["reason"]) == ("authorize", "deny", reason)
    assert entry["details"]["authorization_id"] == "SQ-2026-001"
    assert source.calls == 0 and rig.store.tables.verifications == {}


class RefusingGate(AllowAllConsents):
    async def decide(self, number: str) -> CoverageDecision:
        return CoverageDecision(False, "CONSENT_REVOKED", "the authorization was revoked")


async def test_an_authorization_that_does_not_cover_the_check_refuses_it(
    rigs: list[Rig],
) -> None:
    source = tax()
    gate = RefusingGate()
    rigs.append(rig := make_rig({SourceKind.TAX: source}, consents=gate))
    with pytest.raises(PermissionDenied) as refused:
        await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    assert refused.value.reason == "CONSENT_REVOKED"
    assert gate.checked == ["SQ-2026-001"]
    [entry] = rig.store.entries()
    assert (entry["action"], entry["outcome"], entry["reason"]) == (
        "authorize",
        "deny",
        "CONSENT_REVOKED",
    )
    assert source.calls == 0 and rig.store.tables.verifications == {}


async def test_the_volume_limits_flag_then_refuse(rigs: list[Rig]) -> None:
    rigs.append(rig := make_rig({SourceKind.TAX: tax()}, volume_soft=2, volume_hard=3))
    for n in range(3):
        await rig.service.create(
            CALLER, household_draft(request_id=f"req-{n}"), wait=True, wait_until=soon()
        )
    with pytest.raises(ResourceExhausted) as refused:
        await rig.service.create(
            CALLER, household_draft(request_id="req-3"), wait=True, wait_until=soon()
        )
    assert refused.value.reason == "VOLUME_LIMIT"
    anomalies = rig.entries("anomaly")
    assert [a["details"]["checks_in_window"] for a in anomalies] == [2, 4]
    last = rig.entries("authorize")[-1]
    assert (last["outcome"], last["reason"]) == ("deny", "VOLUME_LIMIT")
    assert len(rig.store.tables.verifications) == 3


async def test_a_report_of_another_system_is_not_found_and_the_refusal_audited(
    rigs: list[Rig],
) -> None:
    rigs.append(rig := make_rig({SourceKind.TAX: tax()}))
    view = await rig.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
    other = Caller("case-system-b", "worker-9", "reviewer", ("3703",))
    with pytest.raises(NotFound):
        await rig.service.get_report(other, view.record.id, 1)
    with pytest.raises(NotFound):
        await rig.service.get(other, view.record.id)
    denied = rig.entries("report_read")
    assert [(e["outcome"], e["reason"]) for e in denied] == [("deny", "NOT_OWNER")]
