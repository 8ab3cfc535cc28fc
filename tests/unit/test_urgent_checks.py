"""Urgent checks on fakes: version 1 without waiting for a slow source, version 2 with its
answer; and when the process dies in between, another takes the run over."""

from __future__ import annotations

from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import Adapter, SourceKind
from tests.fakes import AllowAllConsents, FakeAdapter, InMemoryStore
from tests.helpers import CALLER, household_draft
from tests.late_sources_helpers import resume_left_run
from verifier.domain.outcomes import SourceStatus, VerificationState
from verifier.service.fanout import FanOut, bind_sources
from verifier.service.time_limits import CheckTerms
from verifier.service.verifications import VerificationService
from verifier.signing.signer import ReportSigner

KEY = b"p" * 32


def service(store: InMemoryStore, adapters: dict[SourceKind, Adapter]) -> VerificationService:
    return VerificationService(
        store=store,
        fanout=FanOut(bind_sources(adapters, {})),
        signer=ReportSigner(Ed25519PrivateKey.generate()),
        pseudonym_key=KEY,
        consents=AllowAllConsents(),
        deadline_seconds=5.0,
        urgent_first_seconds=0.05,
    )


async def test_version_1_does_not_wait_for_a_slow_source() -> None:
    store = InMemoryStore()
    slow = FakeAdapter(SourceKind.BANK, hang=True)
    svc = service(store, {SourceKind.TAX: FakeAdapter(SourceKind.TAX), SourceKind.BANK: slow})
    v1 = await svc.create(
        CALLER, household_draft(), wait=True, terms=CheckTerms.interactive(urgent=True)
    )
    assert v1.record.latest_version == 1
    assert v1.record.state is VerificationState.RUNNING
    assert v1.terms is not None and v1.terms.urgent
    assert v1.terms.due_at is not None
    assert v1.terms.due_at - v1.record.created_at == timedelta(hours=24)
    statuses = {(p.source, p.status) for p in v1.progress}
    assert statuses == {("tax", "NOT_FOUND"), ("bank", "PENDING")}
    slow.hang = False  # calls made from now on answer; the hanging ones end at the deadline
    await svc.aclose()


async def test_a_run_interrupted_after_version_1_is_taken_over_and_finished() -> None:
    store = InMemoryStore()
    first = service(
        store,
        {SourceKind.TAX: FakeAdapter(SourceKind.TAX),
         SourceKind.BANK: FakeAdapter(SourceKind.BANK, hang=True)},
    )  # fmt: skip
    v1 = await first.create(
        CALLER,
        household_draft(),
        wait=True,
        terms=CheckTerms.interactive(urgent=True),
    )
    await first.aclose()  # the process dies while the bank is still being asked
    second = service(
        store, {SourceKind.TAX: FakeAdapter(SourceKind.TAX), SourceKind.BANK: FakeAdapter(
            SourceKind.BANK)},
    )  # fmt: skip
    await resume_left_run(second, store)
    done = await second.view(v1.record.id)
    assert done.record.state is VerificationState.DONE
    assert done.record.latest_version == 2
    assert {p.status for p in done.progress} == {SourceStatus.NOT_FOUND.value}
    resumed = [e for e in store.entries() if e["reason"] == "RESUMED"]
    assert len(resumed) == 1
    assert done.terms == v1.terms
    await second.aclose()
