"""Faulty departments through the whole pipeline: the real reference adapters over HTTP to
the sandbox, loaded through the entry points, on both databases.

Whatever a department does — fail 30% of calls, hang, answer garbage, rate-limit — the
report says so per member × source, within the deadline, and nothing keeps running.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hedui_sdk import SourceKind
from hedui_sdk.sandbox import (
    Population,
    SandboxHandle,
    generate_population,
    start_sandbox,
)
from hedui_sdk.sandbox.server import current_as_of
from tests.fakes import AllowAllConsents
from tests.helpers import CALLER, config, soon
from verifier.bootstrap import App, build_app
from verifier.config import sandbox_sources
from verifier.domain.household import MemberDraft, Purpose, Relation, RequestDraft
from verifier.service.fanout import SourcePolicy

SOURCES = (SourceKind.TAX, SourceKind.REAL_ESTATE, SourceKind.VEHICLE, SourceKind.SOCIAL_INSURANCE)


@functools.cache
def population() -> Population:
    return generate_population(11, households_per_county=40, as_of=current_as_of())


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(population=population(), faults={})
    yield handle
    await handle.stop()


def draft(request_id: str = "fault-1") -> RequestDraft:
    hh = population().sample_household("370322", 1)
    return RequestDraft(
        request_id=request_id, case_id="CASE-F", authorization_id="SQ-F", purposes=(Purpose.DIBAO,),
        region=hh.region,
        members=tuple(
            MemberDraft(p.id_type, p.id_number, p.name,
                        Relation.APPLICANT if p.relation.value == "self" else Relation(p.relation.value))
            for p in hh.members
        ),
        sources=SOURCES, window_start="", window_end="",
    )  # fmt: skip


async def app_for(
    sb: SandboxHandle,
    database_url: str,
    keys_dir: Path,
    deadline: float = 10.0,
    **policies: SourcePolicy,
) -> App:
    sources = {k: v for k, v in sandbox_sources(sb.port).items() if k in SOURCES}
    cfg = config(database_url, keys_dir, sources=sources, deadline_seconds=deadline)
    return await build_app(
        cfg,
        migrate=False,
        policies={SourceKind(k): p for k, p in policies.items()},
        consent_gate=AllowAllConsents(),
    )


def truth(source: SourceKind) -> list[bool]:
    """Whether the department holds records on each member."""
    hh = population().sample_household("370322", 1)
    return [bool(p.facts_for(source)) for p in hh.members]


async def run(app: App) -> dict[str, Any]:
    v = await app.service.create(CALLER, draft(), wait=True, wait_until=soon(30))
    assert v.record.latest_version == 1
    env = (await app.service.get_report(CALLER, v.record.id, 0)).envelope
    doc: dict[str, Any] = json.loads(base64.b64decode(json.loads(env)["payload"]))
    return doc


def statuses(doc: dict[str, Any], source: SourceKind) -> list[str]:
    rows = sorted(
        (s for s in doc["sources"] if s["source"] == source.value), key=lambda s: s["member_index"]
    )
    return [s["status"] for s in rows]


def our_tasks() -> list[asyncio.Task[Any]]:
    """Running tasks of hedui or its HTTP client (the sandbox's own handlers excluded)."""
    out = []
    for t in asyncio.all_tasks():
        if t.done() or t is asyncio.current_task():
            continue
        code = getattr(t.get_coro(), "cr_code", None)
        where = code.co_filename if code else ""
        if "/aiohttp/" in where or "/hedui_sdk/sandbox/" in where:
            continue
        out.append(t)
    return out


async def test_thirty_percent_errors_never_become_no_record(
    sandbox: SandboxHandle, database_url: str, keys_dir: Path
) -> None:
    await sandbox.set_faults(SourceKind.TAX, error_rate=0.3)
    app = await app_for(
        sandbox,
        database_url,
        keys_dir,
        tax=SourcePolicy(retries=3, breaker_threshold=50, backoff_initial=0.01),
    )
    try:
        doc = await run(app)
        for has_records, status in zip(
            truth(SourceKind.TAX), statuses(doc, SourceKind.TAX), strict=True
        ):
            assert status in ({"FOUND", "FAILED"} if has_records else {"NOT_FOUND", "FAILED"})
        assert sandbox.stats().get("tax:503", 0) > 0  # the faults did happen
    finally:
        await app.aclose()
    assert our_tasks() == []


async def test_a_hanging_source_is_failed_at_the_deadline_and_nothing_keeps_running(
    sandbox: SandboxHandle, database_url: str, keys_dir: Path
) -> None:
    await sandbox.set_faults(SourceKind.REAL_ESTATE, hang_rate=1.0)
    app = await app_for(
        sandbox,
        database_url,
        keys_dir,
        deadline=1.5,
        real_estate=SourcePolicy(timeout=0.5, retries=1),
    )
    try:
        doc = await run(app)
        assert set(statuses(doc, SourceKind.REAL_ESTATE)) == {"FAILED"}
        assert {s["status"] for s in doc["sources"] if s["source"] == "tax"} <= {
            "FOUND",
            "NOT_FOUND",
        }
        assert doc["completeness"]["status"] == "PARTIAL"
        assert app.service.running() == 0
        assert our_tasks() == []
    finally:
        await app.aclose()
    assert our_tasks() == []


async def test_garbage_is_failed_with_the_reason(
    sandbox: SandboxHandle, database_url: str, keys_dir: Path
) -> None:
    await sandbox.set_faults(SourceKind.VEHICLE, garbage_rate=1.0)
    app = await app_for(sandbox, database_url, keys_dir)
    try:
        doc = await run(app)
        rows = [s for s in doc["sources"] if s["source"] == "vehicle"]
        assert {s["status"] for s in rows} == {"FAILED"}
        assert all(s["reason"] and "NOT_FOUND" not in s["reason"] for s in rows)
    finally:
        await app.aclose()


async def test_a_rate_limited_source_is_respected_by_our_own_limit(
    sandbox: SandboxHandle, database_url: str, keys_dir: Path
) -> None:
    await sandbox.set_faults(SourceKind.SOCIAL_INSURANCE, rate_limit_rps=4.0)
    app = await app_for(
        sandbox, database_url, keys_dir, social_insurance=SourcePolicy(rate_limit=2.0, retries=2)
    )
    try:
        doc = await run(app)
        got = statuses(doc, SourceKind.SOCIAL_INSURANCE)
        want = ["FOUND" if t else "NOT_FOUND" for t in truth(SourceKind.SOCIAL_INSURANCE)]
        assert got == want
    finally:
        await app.aclose()


async def test_a_rate_limiting_source_without_our_limit_is_retried_not_misread(
    sandbox: SandboxHandle, database_url: str, keys_dir: Path
) -> None:
    await sandbox.set_faults(SourceKind.SOCIAL_INSURANCE, rate_limit_rps=1.0)
    app = await app_for(
        sandbox,
        database_url,
        keys_dir,
        social_insurance=SourcePolicy(retries=4, backoff_initial=0.05, breaker_threshold=50),
    )
    try:
        doc = await run(app)
        for has, status in zip(
            truth(SourceKind.SOCIAL_INSURANCE),
            statuses(doc, SourceKind.SOCIAL_INSURANCE),
            strict=True,
        ):
            assert status in ({"FOUND", "FAILED"} if has else {"NOT_FOUND", "FAILED"})
    finally:
        await app.aclose()


async def test_a_rate_limiting_source_is_paced_not_cut_off(
    sandbox: SandboxHandle, database_url: str, keys_dir: Path
) -> None:
    # No limit of our own, no retries for failures, a breaker that opens at the first
    # failure: only pacing to the department's 429s and Retry-After answers every member.
    await sandbox.set_faults(SourceKind.SOCIAL_INSURANCE, rate_limit_rps=2.0)
    app = await app_for(
        sandbox,
        database_url,
        keys_dir,
        social_insurance=SourcePolicy(retries=0, breaker_threshold=1),
    )
    try:
        doc = await run(app)
        got = statuses(doc, SourceKind.SOCIAL_INSURANCE)
        want = ["FOUND" if t else "NOT_FOUND" for t in truth(SourceKind.SOCIAL_INSURANCE)]
        assert got == want
    finally:
        await app.aclose()


def test_the_sample_household_exercises_both_answers() -> None:
    # Without a member on each side, the tests above could not tell FOUND from NOT_FOUND.
    for source in (SourceKind.TAX, SourceKind.SOCIAL_INSURANCE):
        assert set(truth(source)) == {True, False}
