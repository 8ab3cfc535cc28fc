"""What this deployment may ask a peer about (``asks_sources``): a member whose 户籍 is at
the peer is asked there only for those sources; the check's other sources for that member
are DENIED here with FEDERATION_SOURCE_NOT_AGREED and nothing about them leaves, so one
source the agreement lacks no longer makes the peer refuse the agreed ones too."""

from __future__ import annotations

import time

from hedui_sdk import SourceKind
from tests.unit.test_federation_requester import (
    NOW,
    PEER,
    FakePeer,
    _consent,
    _request,
    _requester,
)
from verifier.domain.outcomes import SourceStatus

TAX, BANK = SourceKind.TAX, SourceKind.BANK


async def test_only_agreed_sources_are_sent_the_rest_is_denied_here() -> None:
    peer = FakePeer()
    requester, store = await _requester(peer)  # asks_sources: tax only
    async with store.unit_of_work(write=True) as uow:
        await uow.consents.add(_consent(), "ref", (), NOW)
        await uow.commit()
    request = _request()
    routing = requester.routing(request, (TAX, BANK))
    answers = await requester.ask_all("vid-1", request, routing, time.monotonic() + 5)
    [sent] = peer.asks
    assert sent.sources == (TAX,)
    got = {(o.member_index, o.source): (o.status, o.reason, o.deployment) for o in answers.outcomes}
    assert got == {
        (1, TAX): (SourceStatus.FOUND, "", PEER),
        (2, TAX): (SourceStatus.FOUND, "", PEER),
        (1, BANK): (SourceStatus.DENIED, "FEDERATION_SOURCE_NOT_AGREED", PEER),
        (2, BANK): (SourceStatus.DENIED, "FEDERATION_SOURCE_NOT_AGREED", PEER),
    }
    assert answers.retries == () and len(answers.fragments) == 1
    # Only the agreed ask is in the audit log as sent; the unagreed one never was.
    sent_entries = [e.body for e in store.tables.audit if e.body["action"] == "federation_request"]
    assert [e["details"]["sources"] for e in sent_entries] == [["tax"]]
