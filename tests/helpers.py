"""Building a real app (real database, real keys) around fake sources."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest

from hedui_sdk import Adapter, IdType, SourceKind
from tests.fakes import AllowAllConsents, FakeAdapter, synthetic_id
from verifier.bootstrap import App, build_app
from verifier.cli.main import main
from verifier.config import Config, Principal
from verifier.domain.household import MemberDraft, Purpose, Relation, RequestDraft
from verifier.domain.ports import Caller
from verifier.service.fanout import SourcePolicy

SYSTEM = "case-system-a"
CALLER = Caller(SYSTEM, "worker-1", "caseworker", ("3703",))
APPLICANT_ID = synthetic_id(seq=1, born=date(1970, 3, 9))
SPOUSE_ID = synthetic_id(seq=2, born=date(1972, 8, 21))
CHILD_ID = synthetic_id(seq=3, born=date(2005, 1, 30))


def config(database_url: str, keys_dir: Path, **kw: object) -> Config:
    base: dict[str, object] = dict(
        database_url=database_url,
        keys_dir=keys_dir,
        deadline_seconds=10.0,
        principals={
            SYSTEM: Principal(SYSTEM, ("caseworker", "reviewer", "auditor"), ("3703",)),
            "case-system-b": Principal("case-system-b", ("caseworker",), ("3415",)),
        },
        sources={},
    )
    base.update(kw)
    return Config(**base)  # type: ignore[arg-type]


async def make_app(
    database_url: str,
    keys_dir: Path,
    adapters: Mapping[SourceKind, Adapter],
    policies: Mapping[SourceKind, SourcePolicy] | None = None,
    *,
    real_consents: bool = False,
    **kw: object,
) -> App:
    """An app on a migrated database. Consents are a fake that covers everything unless
    ``real_consents``: only the authorization tests need the registry in the way."""
    return await build_app(
        config(database_url, keys_dir, **kw),
        adapters=adapters,
        migrate=False,
        policies=policies,
        consent_gate=None if real_consents else AllowAllConsents(),
    )


def household_draft(
    request_id: str = "req-1", region: str = "370322", **kw: object
) -> RequestDraft:
    base: dict[str, object] = dict(
        request_id=request_id,
        case_id="CASE-1",
        authorization_id="SQ-2026-001",
        purposes=(Purpose.DIBAO, Purpose.LINSHI),
        region=region,
        members=(
            MemberDraft(IdType.RESIDENT_ID, APPLICANT_ID, "测试甲", Relation.APPLICANT),
            MemberDraft(IdType.RESIDENT_ID, SPOUSE_ID, "测试乙", Relation.SPOUSE),
            MemberDraft(IdType.RESIDENT_ID, CHILD_ID, "测试丙", Relation.CHILD),
        ),
        sources=(),
        window_start="",
        window_end="",
    )
    base.update(kw)
    return RequestDraft(**base)  # type: ignore[arg-type]


def soon(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


def use_database_from_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, keys_dir: Path
) -> None:
    """Point ``hedui`` commands run in-process at this test's database and keys."""
    monkeypatch.setenv("HEDUI_DATABASE_URL", database_url)
    monkeypatch.setenv("HEDUI_KEYS_DIR", str(keys_dir))
    monkeypatch.delenv("HEDUI_CONFIG", raising=False)


async def one_printed_report(database_url: str, keys_dir: Path) -> str:
    """One check of :func:`household_draft` against a tax source, its report written next to
    the keys as ``report.dsse.json`` (the printout an auditor keeps). Returns its id."""
    adapters = {SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 1})}
    app = await make_app(database_url, keys_dir, adapters)
    try:
        view = await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        report = await app.service.get_report(CALLER, view.record.id, 0)
        (keys_dir.parent / "report.dsse.json").write_bytes(report.envelope)
        return view.record.id
    finally:
        await app.aclose()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``hedui ARGV`` in-process: its exit code, stdout and stderr."""
    code = main(["--log-level", "ERROR", *argv])
    out, err = capsys.readouterr()
    return code, out, err
