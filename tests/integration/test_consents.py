"""The 授权书 registry and the authorization matrix, on both databases."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from audit.schema import AuditEntryRow
from hedui_sdk import IdType, SourceKind
from tests.consents import consent_draft, covering
from tests.fakes import FakeAdapter, synthetic_id
from tests.helpers import CALLER, config, household_draft, make_app
from verifier.bootstrap import App, build_app
from verifier.domain.consent import ConsentState, CoverageDecision
from verifier.domain.errors import FailedPrecondition, PermissionDenied
from verifier.domain.household import MemberDraft, Purpose, Relation, RequestDraft
from verifier.domain.ports import Caller, UnitOfWork
from verifier.service.consents import ConsentService, RegistryConsentGate
from verifier.storage.uow import SqlStore

TODAY = date.today()


@pytest.fixture
async def app(database_url: str, keys_dir: Path) -> AsyncIterator[App]:
    a = await make_app(
        database_url,
        keys_dir,
        {k: FakeAdapter(k) for k in (SourceKind.TAX, SourceKind.REAL_ESTATE, SourceKind.BANK)},
        real_consents=True,
    )
    yield a
    await a.aclose()


async def entries(app: App) -> list[dict[str, Any]]:
    assert isinstance(app.store, SqlStore)
    async with app.store.db.read_sessions() as s:
        rows = (await s.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq))).scalars()
        return [json.loads(r.body) for r in rows]


async def test_register_read_supersede_revoke_with_history_and_audit(app: App) -> None:
    assert app.consents is not None
    a, b = synthetic_id(seq=31, born=date(1960, 1, 1)), synthetic_id(seq=32, born=date(1962, 1, 1))
    v1, superseded = await app.consents.register(
        CALLER, consent_draft("SQ-A", [(a, Relation.APPLICANT), (b, Relation.SPOUSE)])
    )
    assert superseded == [] and v1.state is ConsentState.ACTIVE
    with pytest.raises(FailedPrecondition):
        await app.consents.register(CALLER, consent_draft("SQ-A", [(a, Relation.APPLICANT)]))
    # A new authorization for the same household (same applicant) supersedes the old.
    _, superseded = await app.consents.register(
        CALLER, consent_draft("SQ-B", [(a, Relation.APPLICANT)])
    )
    assert superseded == ["SQ-A"]
    old = await app.consents.get(CALLER, "SQ-A")
    assert old.state is ConsentState.SUPERSEDED and old.record.superseded_by == "SQ-B"
    assert [e.event for e in old.history] == ["registered", "superseded"]
    revoked = await app.consents.revoke(CALLER, "SQ-B", "assistance ended")
    assert revoked.state is ConsentState.REVOKED
    assert [e.event for e in revoked.history] == ["registered", "revoked"]
    actions = [(e["action"], e["outcome"]) for e in await entries(app)]
    assert actions == [
        ("consent_register", "allow"), ("consent_register", "allow"),
        ("consent_read", "allow"), ("consent_revoke", "allow"),
    ]  # fmt: skip
    dump = json.dumps(await entries(app), ensure_ascii=False)
    assert a not in dump and b not in dump and "测试0" not in dump


async def test_registration_outside_the_callers_regions_is_refused_and_audited(app: App) -> None:
    assert app.consents is not None
    a = synthetic_id(region="341824", seq=33, born=date(1960, 1, 1))
    with pytest.raises(PermissionDenied) as ei:
        await app.consents.register(
            CALLER, consent_draft("SQ-X", [(a, Relation.APPLICANT)], region="341824")
        )
    assert ei.value.reason == "OUT_OF_REGION"
    assert [(e["action"], e["outcome"], e["reason"]) for e in await entries(app)] == [
        ("consent_register", "deny", "OUT_OF_REGION")
    ]


# --------------------------------------------------------------------------- the matrix
STATES = ("ACTIVE", "REVOKED", "EXPIRED", "SUPERSEDED", "MISSING")


def household(state: str, extra: bool) -> list[tuple[str, Relation]]:
    """Distinct people per state; ``extra`` adds a member the authorization does not cover."""
    base = 100 + 10 * STATES.index(state)
    people = [
        (synthetic_id(seq=base, born=date(1965, 3, 1)), Relation.APPLICANT),
        (synthetic_id(seq=base + 1, born=date(1968, 4, 2)), Relation.SPOUSE),
    ]
    if extra:
        people.append((synthetic_id(seq=base + 2, born=date(1990, 5, 3)), Relation.CHILD))
    return people


async def register_states(app: App) -> None:
    assert app.consents is not None
    reg = app.consents.register
    purposes = (Purpose.DIBAO, Purpose.LINSHI)
    sources = (SourceKind.TAX, SourceKind.REAL_ESTATE)
    await reg(
        CALLER,
        consent_draft("C-ACTIVE", household("ACTIVE", False), purposes=purposes, sources=sources),
    )
    await reg(
        CALLER,
        consent_draft("C-REVOKED", household("REVOKED", False), purposes=purposes, sources=sources),
    )
    await app.consents.revoke(CALLER, "C-REVOKED", "withdrawn")
    past = TODAY - timedelta(days=400)
    await reg(
        CALLER,
        consent_draft(
            "C-EXPIRED",
            household("EXPIRED", False),
            valid_from=past,
            valid_until=TODAY - timedelta(days=1),
            purposes=purposes,
            sources=sources,
        ),
    )
    await reg(
        CALLER,
        consent_draft(
            "C-SUPERSEDED", household("SUPERSEDED", False), purposes=purposes, sources=sources
        ),
    )
    await reg(
        CALLER,
        consent_draft(
            "C-NEWER", household("SUPERSEDED", False)[:1], purposes=purposes, sources=sources
        ),
    )


def expected(
    role: str, in_region: bool, state: str, extra: bool, purpose_ok: bool, source_ok: bool
) -> str:
    if role != "caseworker":
        return "ROLE_NOT_ALLOWED"
    if not in_region:
        return "OUT_OF_REGION"
    if state == "MISSING":
        return "CONSENT_MISSING"
    if state in ("REVOKED", "SUPERSEDED"):
        return "CONSENT_REVOKED"
    if state == "EXPIRED":
        return "CONSENT_EXPIRED"
    if extra:
        return "CONSENT_SUBJECT_NOT_COVERED"
    if not source_ok:
        return "CONSENT_SOURCE_NOT_COVERED"
    if not purpose_ok:
        return "PURPOSE_NOT_AUTHORIZED"
    return "ALLOWED"


async def test_the_authorization_matrix_answers_every_cell_and_audits_every_denial(
    app: App,
) -> None:
    await register_states(app)
    before = len(await entries(app))
    cells = list(
        itertools.product(
            ("caseworker", "reviewer"),
            (True, False),
            STATES,
            (False, True),
            (True, False),
            (True, False),
        )
    )
    outcomes: dict[str, int] = {}
    for n, (role, in_region, state, extra, purpose_ok, source_ok) in enumerate(cells):
        caller = Caller(CALLER.system, "worker-1", role, ("3703",) if in_region else ("3415",))
        draft = RequestDraft(
            request_id=f"m-{n}", case_id=f"CASE-{n}", authorization_id=f"C-{state}",
            purposes=(Purpose.DIBAO if purpose_ok else Purpose.TEKUN,), region="370322",
            members=tuple(MemberDraft(IdType.RESIDENT_ID, num, "测试", rel)
                          for num, rel in household(state, extra)),
            sources=(SourceKind.TAX,) if source_ok else (SourceKind.BANK,),
            window_start="", window_end="",
        )  # fmt: skip
        want = expected(role, in_region, state, extra, purpose_ok, source_ok)
        if want == "ALLOWED":
            await app.service.create(caller, draft, wait=False)
            got = "ALLOWED"
        else:
            with pytest.raises(PermissionDenied) as ei:
                await app.service.create(caller, draft, wait=False)
            got = ei.value.reason
        assert got == want, f"cell {role}/{in_region}/{state}/{extra}/{purpose_ok}/{source_ok}"
        outcomes[got] = outcomes.get(got, 0) + 1
    # Every reason occurs, so no rule is untested.
    assert set(outcomes) == {
        "ALLOWED", "ROLE_NOT_ALLOWED", "OUT_OF_REGION", "CONSENT_MISSING", "CONSENT_REVOKED",
        "CONSENT_EXPIRED", "CONSENT_SUBJECT_NOT_COVERED", "CONSENT_SOURCE_NOT_COVERED",
        "PURPOSE_NOT_AUTHORIZED",
    }  # fmt: skip
    authorize = [e for e in (await entries(app))[before:] if e["action"] == "authorize"]
    denials = [e for e in authorize if e["outcome"] == "deny"]
    assert len(denials) == len(cells) - outcomes["ALLOWED"]
    for reason, count in outcomes.items():
        if reason != "ALLOWED":
            assert sum(e["reason"] == reason for e in denials) == count
    assert all(e["details"]["authorization_id"].startswith("C-") for e in denials)
    assert sum(e["outcome"] == "allow" for e in authorize) == outcomes["ALLOWED"]


async def test_a_covered_check_runs(app: App) -> None:
    assert app.consents is not None
    draft = household_draft()
    await app.consents.register(CALLER, covering(draft.authorization_id, draft))
    view = await app.service.create(CALLER, draft, wait=False)
    assert view.record.id


class RevokedWhileDeciding(RegistryConsentGate):
    """The real gate, but while it decides, the authorization is revoked concurrently:
    the revocation is given half a second to finish before the decision is returned."""

    def __init__(self) -> None:
        self.consents: ConsentService | None = None
        self.revocation: asyncio.Task[object] | None = None
        self.finished_while_deciding: bool | None = None

    async def check(self, uow: UnitOfWork, number: str, **kw: Any) -> CoverageDecision:
        decision = await super().check(uow, number, **kw)
        if self.revocation is None and self.consents is not None:
            self.revocation = asyncio.create_task(
                self.consents.revoke(CALLER, number, "withdrawn by the family")
            )
            done, _ = await asyncio.wait({self.revocation}, timeout=0.5)
            self.finished_while_deciding = bool(done)
        return decision


async def test_a_revocation_cannot_fall_between_the_decision_and_the_intent(
    database_url: str, keys_dir: Path
) -> None:
    gate = RevokedWhileDeciding()
    app = await build_app(
        config(database_url, keys_dir),
        adapters={SourceKind.TAX: FakeAdapter(SourceKind.TAX)},
        migrate=False,
        consent_gate=gate,
    )
    try:
        assert app.consents is not None
        draft = household_draft(sources=(SourceKind.TAX,))
        await app.consents.register(CALLER, covering(draft.authorization_id, draft))
        gate.consents = app.consents
        view = await app.service.create(CALLER, draft, wait=False)
        # The decision and the intent are one unit: the revocation waited for both.
        assert gate.finished_while_deciding is False
        assert gate.revocation is not None
        await asyncio.wait_for(gate.revocation, 10)
        order = [
            (e["action"], e["outcome"], e.get("verification_id", ""))
            for e in await entries(app)
            if e["action"] in ("authorize", "consent_revoke")
        ]
        assert order == [
            ("authorize", "allow", view.record.id),
            ("consent_revoke", "allow", ""),
        ]
        # And from then on the authorization is refused.
        again = household_draft(request_id="req-2", sources=(SourceKind.TAX,))
        with pytest.raises(PermissionDenied) as refused:
            await app.service.create(CALLER, again, wait=False)
        assert refused.value.reason == "CONSENT_REVOKED"
    finally:
        await app.aclose()


async def test_registering_the_same_authorization_again_returns_it(app: App) -> None:
    """A retry with the same content is the registration already made; other content under
    the same number stays a conflict, and neither changes what is stored."""
    assert app.consents is not None
    a, b = synthetic_id(seq=41, born=date(1961, 2, 2)), synthetic_id(seq=42, born=date(1963, 3, 3))
    draft = consent_draft("SQ-R", [(a, Relation.APPLICANT), (b, Relation.SPOUSE)])
    first, _ = await app.consents.register(CALLER, draft)
    again, superseded = await app.consents.register(CALLER, draft)
    assert superseded == []
    assert again.doc == first.doc and again.state is ConsentState.ACTIVE
    assert [e.event for e in again.history] == ["registered"]
    with pytest.raises(FailedPrecondition, match="other content"):
        await app.consents.register(CALLER, consent_draft("SQ-R", [(a, Relation.APPLICANT)]))
    stored = await app.consents.get(CALLER, "SQ-R")
    assert stored.doc == first.doc
    register = [e for e in await entries(app) if e["action"] == "consent_register"]
    assert [(e["outcome"], e["details"].get("replay", False)) for e in register] == [
        ("allow", False),
        ("allow", True),
    ]
