"""A demo-like signed report for the printout tests: three members, income and real
estate found, a source that failed, a bank still pending, the rest "no record"."""

from __future__ import annotations

from pathlib import Path

from hedui_sdk import Adapter, SourceKind
from tests.fakes import AsyncBankFake, FakeAdapter, failing
from tests.helpers import APPLICANT_ID, CALLER, SPOUSE_ID, household_draft, make_app, soon
from verifier.bootstrap import App
from verifier.signing.jwks import dumps_jwks

__all__ = ["demo_adapters", "demo_check", "printed_demo_report"]


def demo_adapters() -> dict[SourceKind, Adapter]:
    """Every kind of answer a printout must tell apart."""
    return {
        SourceKind.TAX: FakeAdapter(
            SourceKind.TAX, income_fen={APPLICANT_ID: 1_860_000, SPOUSE_ID: 624_000}
        ),
        SourceKind.REAL_ESTATE: FakeAdapter(
            SourceKind.REAL_ESTATE, asset_fen={APPLICANT_ID: 32_000_000}
        ),
        SourceKind.SOCIAL_INSURANCE: failing(SourceKind.SOCIAL_INSURANCE),
        SourceKind.BANK: AsyncBankFake(),
    }


async def demo_check(app: App) -> str:
    """One check of the three-member household; returns its verification id once the first
    report version (partial: the bank is still pending) is out."""
    view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon(3))
    return view.record.id


async def printed_demo_report(database_url: str, keys_dir: Path) -> tuple[bytes, str, str]:
    """The demo check's first signed report: (DSSE envelope, the signing JWKS, its id)."""
    app = await make_app(database_url, keys_dir, demo_adapters())
    try:
        vid = await demo_check(app)
        report = await app.service.get_report(CALLER, vid, 0)
        return report.envelope, dumps_jwks(app.keys.public_keys("signing")), vid
    finally:
        await app.aclose()
