"""A VerificationService rig on in-memory fakes, with no database: the store is
``tests.fakes.InMemoryStore`` (repositories that subclass the ports), the sources are fake
adapters behind the real fan-out, and reports are signed for real. The ``rigs`` fixture
builds rigs and closes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import Adapter, SourceKind
from tests.fakes import AllowAllConsents, FakeAdapter, InMemoryStore
from tests.helpers import APPLICANT_ID
from verifier.service.fanout import FanOut, SourcePolicy, bind_sources
from verifier.service.poller import Poller
from verifier.service.verifications import VerificationService
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id
from verifier.signing.signer import ReportSigner

PSEUDONYM_KEY = bytes(range(32))


@dataclass
class Rig:
    """A service on an in-memory store, and what the tests look at."""

    service: VerificationService
    store: InMemoryStore
    fanout: FanOut
    signing_key: Ed25519PrivateKey
    pollers: list[Poller] = field(default_factory=list)

    def entries(self, action: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.store.entries() if action is None or e["action"] == action]

    def actions(self) -> list[str]:
        return [e["action"] for e in self.store.entries()]

    def verify(self, envelope: bytes) -> dict[str, Any]:
        pub = self.signing_key.public_key()
        document: dict[str, Any] = verify_envelope(envelope, {key_id(pub): pub}).document
        return document

    async def tick(self, hours: float) -> int:
        """One poller round as if ``hours`` had passed."""
        poller = Poller(self.service, self.store, self.fanout, clock=later(hours))
        self.pollers.append(poller)
        return await poller.tick()


def later(hours: float) -> Callable[[], datetime]:
    """A clock ahead of real time, so scheduled polls and expired leases are due now."""
    return lambda: datetime.now(UTC) + timedelta(hours=hours)


def make_rig(
    adapters: Mapping[SourceKind, Adapter],
    *,
    store: InMemoryStore | None = None,
    policies: Mapping[SourceKind, SourcePolicy] | None = None,
    **kw: Any,
) -> Rig:
    store = store or InMemoryStore()
    fanout = FanOut(bind_sources(dict(adapters), dict(policies or {})))
    key = Ed25519PrivateKey.generate()
    kw.setdefault("consents", AllowAllConsents())
    service = VerificationService(
        store=store,
        fanout=fanout,
        signer=ReportSigner(key),
        pseudonym_key=PSEUDONYM_KEY,
        deadline_seconds=5.0,
        **kw,
    )
    return Rig(service, store, fanout, key)


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    """Rigs made in a test, closed after it (runs cancelled, pollers' resumes stopped)."""
    made: list[Rig] = []
    yield made
    for rig in made:
        for poller in rig.pollers:
            await poller.aclose()
        await rig.service.aclose()


def tax(**income: int) -> FakeAdapter:
    return FakeAdapter(SourceKind.TAX, income_fen=income or {APPLICANT_ID: 300_000})
