"""A caller that goes away while its intent is being recorded: the recorded intent's run
starts at once (not when its lease expires), and its report is issued."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hedui_sdk import SourceKind
from tests.fakes import FakeAdapter, PausedGate
from tests.helpers import APPLICANT_ID, CALLER, SYSTEM, config, household_draft, soon
from verifier.bootstrap import build_app
from verifier.domain.outcomes import VerificationState
from verifier.service.events import StateEvent


async def test_a_recorded_intent_runs_though_its_caller_went_away(
    database_url: str, keys_dir: Path
) -> None:
    tax = FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100})
    gate = PausedGate()
    app = await build_app(
        config(database_url, keys_dir),
        adapters={SourceKind.TAX: tax},
        migrate=False,
        consent_gate=gate,
    )
    try:
        draft = household_draft(sources=(SourceKind.TAX,))
        create = asyncio.create_task(
            app.service.create(CALLER, draft, wait=True, wait_until=soon())
        )
        await asyncio.wait_for(gate.entered.wait(), 10)
        create.cancel()
        with pytest.raises(asyncio.CancelledError):
            await create
        gate.go_on.set()
        # No poller runs here: only the cancelled call itself can have started the run.
        await asyncio.wait_for(tax.started.wait(), 10)

        async with app.store.unit_of_work(write=False) as uow:
            record = await uow.verifications.find_by_request(SYSTEM, draft.request_id)
        assert record is not None
        async with asyncio.timeout(10):
            async for event in app.service.watch(CALLER, record.id):
                if isinstance(event, StateEvent) and event.state is VerificationState.DONE:
                    break
        view = await app.service.view(record.id)
        assert view.record.latest_version == 1
    finally:
        await app.aclose()
