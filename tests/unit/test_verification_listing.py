"""ListVerifications' use case on fakes: scope, filters, pages, tokens, audit, refusals."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.fakes import InMemoryStore
from tests.helpers import household_draft
from verifier.domain.errors import InvalidArgument, PermissionDenied
from verifier.domain.household import validate_request
from verifier.domain.outcomes import VerificationState
from verifier.domain.ports import Caller, UnitOfWork, VerificationRecord, VerificationTerms
from verifier.service.listing import VerificationFilter, VerificationListing
from verifier.service.page_tokens import PageTokens

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WORKER = Caller("case-system-a", "worker-1", "caseworker", ("3703",))
REVIEWER = Caller("case-system-a", "reviewer-1", "reviewer", ("3703",))


def vid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def seeded(n: int = 7) -> InMemoryStore:
    store = InMemoryStore(clock=lambda: NOW)

    async def work(uow: UnitOfWork) -> None:
        for i in range(n):
            region = "341824" if i == 3 else "370322"
            record = VerificationRecord(
                id=vid(i),
                caller_system="case-system-a",
                caller_user="worker-1",
                request_id=f"r-{i}",
                request_digest="d" * 64,
                case_id=f"CASE-{i % 2}",
                region=region,
                state=VerificationState.AWAITING_SOURCES,
                completeness=None,
                latest_version=1,
                created_at=NOW - timedelta(hours=i),
                member_count=3,
                source_count=2,
            )
            request = validate_request(household_draft(f"r-{i}", region), today=NOW.date())
            await uow.verifications.add(record, request, "SQ-1", run_lease=("x", NOW))
            due = NOW - timedelta(minutes=1) if i == 2 else NOW + timedelta(days=10)
            await uow.terms.add(VerificationTerms(vid(i), i == 1, due.date(), due))

    await store.write(work)
    return store


def listing(store: InMemoryStore) -> VerificationListing:
    return VerificationListing(store, PageTokens(os.urandom(32)), clock=lambda: NOW)


def numbers(page_items: object) -> list[int]:
    return [int(x.record.id[-12:]) for x in page_items]  # type: ignore[attr-defined]


async def test_pages_walk_every_match_newest_first_and_each_is_an_audited_read() -> None:
    store = await seeded()
    svc = listing(store)
    seen: list[int] = []
    token = ""
    for _ in range(5):
        page = await svc.list(WORKER, VerificationFilter(), page_size=2, page_token=token)
        seen += numbers(page.items)
        token = page.next_page_token
        if not token:
            break
    assert seen == [0, 1, 2, 4, 5, 6]  # 3 is in 341824, outside the caller's 3703
    reads = [e for e in store.entries() if e["action"] == "verification_list"]
    assert len(reads) == 3
    assert all(e["outcome"] == "allow" for e in reads)
    assert [e["details"]["continued"] for e in reads] == [False, True, True]


async def test_filters_narrow_and_overdue_is_judged_now() -> None:
    store = await seeded()
    svc = listing(store)

    async def found(**kw: object) -> list[int]:
        return numbers((await svc.list(REVIEWER, VerificationFilter(**kw))).items)  # type: ignore[arg-type]

    assert await found(case_id="CASE-1") == [1, 5]
    assert await found(urgent=True) == [1]
    assert await found(overdue=True) == [2]
    assert await found(created_from=date(2026, 12, 1), created_to=date(2026, 12, 1)) == [
        0, 1, 2, 4, 5, 6
    ]  # fmt: skip
    assert await found(created_to=date(2026, 11, 30)) == []
    page = await svc.list(REVIEWER, VerificationFilter(overdue=True))
    assert [page.overdue(i) for i in page.items] == [True]
    entry = store.entries()[-1]
    assert entry["details"]["filters"] == ["overdue"]
    assert "CASE" not in str(entry["details"])


async def test_a_token_for_other_filters_or_another_caller_or_altered_is_refused_unwritten() -> (
    None
):
    store = await seeded()
    svc = listing(store)
    token = (await svc.list(WORKER, VerificationFilter(), page_size=2)).next_page_token
    assert token
    before = len(store.entries())
    altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for caller, flt, tok in [
        (WORKER, VerificationFilter(case_id="CASE-1"), token),
        (REVIEWER, VerificationFilter(), token),
        (WORKER, VerificationFilter(), altered),
        (WORKER, VerificationFilter(), "c2VxOjE"),
    ]:
        with pytest.raises(InvalidArgument) as err:
            await svc.list(caller, flt, page_size=2, page_token=tok)
        assert [v.field for v in err.value.violations] == ["page_token"]
    assert len(store.entries()) == before


@pytest.mark.parametrize(
    ("caller", "flt", "reason"),
    [
        (Caller("case-system-a", "aud-1", "auditor", ("3703",)), VerificationFilter(),
         "ROLE_NOT_ALLOWED"),
        (WORKER, VerificationFilter(region_prefix="3418"), "OUT_OF_REGION"),
        (WORKER, VerificationFilter(region_prefix="37"), "OUT_OF_REGION"),
    ],
)  # fmt: skip
async def test_refusals_are_one_audited_denial_each(
    caller: Caller, flt: VerificationFilter, reason: str
) -> None:
    store = await seeded()
    before = len(store.entries())
    with pytest.raises(PermissionDenied) as err:
        await listing(store).list(caller, flt)
    assert err.value.reason == reason
    written = store.entries()[before:]
    assert [(e["action"], e["outcome"], e["reason"]) for e in written] == [
        ("verification_list", "deny", reason)
    ]


async def test_a_narrower_region_inside_the_callers_is_allowed() -> None:
    store = await seeded()
    page = await listing(store).list(WORKER, VerificationFilter(region_prefix="370322"))
    assert numbers(page.items) == [0, 1, 2, 4, 5, 6]


def test_page_tokens_round_trip_only_in_their_scope() -> None:
    tokens = PageTokens(os.urandom(32))
    t = tokens.issue(b"scope", NOW, vid(5))
    assert tokens.read(t, b"scope") == (NOW, vid(5))
    with pytest.raises(InvalidArgument):
        tokens.read(t, b"other")
    with pytest.raises(InvalidArgument):
        PageTokens(os.urandom(32)).read(t, b"scope")
    with pytest.raises(ValueError, match="32 bytes"):
        PageTokens(b"short")
