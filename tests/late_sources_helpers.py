"""Shared ground for the asynchronous-source tests: an app with a bank that answers late,
a clock moved by hours with a scheduler tick, and readers for report envelopes and the
audit log.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hedui_sdk import SourceKind
from tests.fakes import AsyncBankFake, FakeAdapter
from tests.helpers import APPLICANT_ID, make_app
from verifier.bootstrap import App
from verifier.domain.ports import Store
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources
from verifier.service.poller import Poller
from verifier.service.verifications import VerificationService


def later(hours: float = 1.0) -> Callable[[], datetime]:
    """A clock ahead of real time, so scheduled polls and expired leases are due now."""
    return lambda: datetime.now(UTC) + timedelta(hours=hours)


async def tick_at(app: App, hours: float) -> int:
    """One poller round as if ``hours`` had passed."""
    return await Poller(app.service, app.store, app.fanout, clock=later(hours)).tick()


async def resume_left_run(service: VerificationService, store: Store) -> None:
    """A second process takes up the one check the first left running when it died: its
    poller, five minutes on (the first's run lease gone), resumes the run to its end."""
    poller = Poller(service, store, FanOut(bind_sources({}, {})), clock=later(5 / 60))
    assert await poller.tick() == 1
    await poller.drain()


def payload(envelope: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    return doc


async def bank_app(database_url: str, keys_dir: Path, bank: AsyncBankFake, **policy: Any) -> App:
    return await make_app(
        database_url,
        keys_dir,
        {
            SourceKind.BANK: bank,
            SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100}),
        },
        policies={SourceKind.BANK: SourcePolicy(**policy)},
    )
