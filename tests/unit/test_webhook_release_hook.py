"""Each released report version writes its ``report.issued`` event in the release's own
transaction: version 1 and the late version 2 each have one, with the envelope's SHA-256;
a release that fails leaves neither report nor event."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import SourceKind
from tests.fakes import AllowAllConsents, AsyncBankFake, FakeAdapter, InMemoryStore
from tests.fakes.tables import Tables
from tests.helpers import APPLICANT_ID, CALLER, household_draft, soon
from verifier.domain.webhooks import EventType, report_issued
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources
from verifier.service.poller import Poller
from verifier.service.verifications import VerificationService
from verifier.signing.signer import ReportSigner


def service(store: InMemoryStore, bank: AsyncBankFake) -> tuple[VerificationService, FanOut]:
    fanout = FanOut(
        bind_sources(
            {SourceKind.TAX: FakeAdapter(SourceKind.TAX), SourceKind.BANK: bank},
            {SourceKind.BANK: SourcePolicy()},
        )
    )
    return (
        VerificationService(
            store=store,
            fanout=fanout,
            signer=ReportSigner(Ed25519PrivateKey.generate()),
            pseudonym_key=bytes(range(32)),
            deadline_seconds=5.0,
            consents=AllowAllConsents(),
        ),
        fanout,
    )


async def test_every_released_version_has_its_event() -> None:
    store, bank = InMemoryStore(), AsyncBankFake({APPLICANT_ID: 1_000})
    svc, fanout = service(store, bank)
    poller = Poller(svc, store, fanout, clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    try:
        view = await svc.create(CALLER, household_draft(), wait=True, wait_until=soon())
        vid = view.record.id
        bank.ready.set()
        assert await poller.tick() == 3
        reports = [await svc.get_report(CALLER, vid, v) for v in (1, 2)]
    finally:
        await poller.aclose()
        await svc.aclose()
    outbox = store.tables.webhooks.outbox
    assert len(outbox) == 2
    for r in reports:
        expected = report_issued(
            verification_id=vid,
            case_id=view.record.case_id,
            version=r.version,
            envelope_sha256=r.envelope_sha256,
            at=r.created_at,
        )
        event = outbox[expected.id].event
        assert event.type is EventType.REPORT_ISSUED
        assert event.data_dict() == expected.data_dict()
        body = json.loads(event.payload())
        assert set(body) == {"type", "timestamp", "data"}
    # Identifiers only: nothing about the household's people in any body.
    bodies = b"".join(row.event.payload() for row in outbox.values())
    assert APPLICANT_ID.encode() not in bodies


class CommitFailsOnce(InMemoryStore):
    """The transaction that would hold the first outbox event fails to commit."""

    failed = False

    def commit(self, tables: Tables) -> None:
        if tables.webhooks.outbox and not self.failed:
            self.failed = True
            raise RuntimeError("the database went away at commit")
        super().commit(tables)


async def test_a_release_that_fails_to_commit_leaves_neither_report_nor_event() -> None:
    store, bank = CommitFailsOnce(), AsyncBankFake()
    svc, _ = service(store, bank)
    try:
        with contextlib.suppress(Exception):
            await svc.create(CALLER, household_draft(), wait=True, wait_until=soon())
    finally:
        await svc.aclose()
    assert store.failed
    assert store.tables.reports == {}
    assert store.tables.webhooks.outbox == {}
