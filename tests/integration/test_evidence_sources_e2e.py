"""The five evidence departments (医保, 残联, 教育, 人社 就业, 民政) through the whole pipeline:
the sandbox over HTTP, the built-in adapters loaded through the entry points, records
carried into the signed report with provenance and read back from storage, on both
databases.
A 医保 outage is FAILED for every member, never "no record"."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hedui_sdk import SourceKind
from hedui_sdk.sandbox import Population, SandboxHandle, generate_population, start_sandbox
from hedui_sdk.sandbox.facts import overlaps
from hedui_sdk.sandbox.people import Household
from hedui_sdk.sandbox.server import current_as_of
from hedui_sdk.sandbox.wire import encode_fact
from tests.fakes import AllowAllConsents
from tests.helpers import CALLER, config, soon
from verifier.api.translate import report_pb
from verifier.bootstrap import App, build_app
from verifier.config import sandbox_sources
from verifier.domain.evidence_labels import EVIDENCE_TYPES
from verifier.domain.household import MemberDraft, Purpose, Relation, RequestDraft

EVIDENCE = (
    SourceKind.MEDICAL_INSURANCE,
    SourceKind.DISABILITY,
    SourceKind.EDUCATION,
    SourceKind.EMPLOYMENT,
    SourceKind.CIVIL_AFFAIRS,
)
SOURCES = (SourceKind.HOUSEHOLD_REGISTRATION, *EVIDENCE)


@functools.cache
def population() -> Population:
    return generate_population(11, households_per_county=60, as_of=current_as_of())


@functools.cache
def household() -> Household:
    """A consistent household with a disabled member and evidence at four departments."""
    for h in population().households("370322"):
        held = {s for p in h.members for s in EVIDENCE if p.facts_for(s)}
        disabled = any(p.disability_grade is not None for p in h.members)
        if h.mismatch is None and disabled and len(held) >= 4 and len(h.members) <= 4:
            return h
    raise LookupError("no household fits")  # pragma: no cover


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxHandle]:
    handle = await start_sandbox(population=population(), faults={})
    yield handle
    await handle.stop()


async def app_for(sb: SandboxHandle, database_url: str, keys_dir: Path) -> App:
    sources = {k: v for k, v in sandbox_sources(sb.port).items() if k in SOURCES}
    return await build_app(
        config(database_url, keys_dir, sources=sources, deadline_seconds=10.0),
        migrate=False,
        consent_gate=AllowAllConsents(),
    )


def draft(request_id: str) -> RequestDraft:
    return RequestDraft(
        request_id=request_id, case_id="CASE-E", authorization_id="SQ-E",
        purposes=(Purpose.DIBAO,), region=household().region,
        members=tuple(
            MemberDraft(p.id_type, p.id_number, p.name,
                        Relation.APPLICANT if p.relation.value == "self" else Relation(p.relation.value))
            for p in household().members
        ),
        sources=SOURCES, window_start="", window_end="",
    )  # fmt: skip


async def report_of(app: App, request_id: str) -> tuple[str, dict[str, Any]]:
    v = await app.service.create(CALLER, draft(request_id), wait=True, wait_until=soon(30))
    stored = await app.service.get_report(CALLER, v.record.id, 0)
    doc = json.loads(base64.b64decode(json.loads(stored.envelope)["payload"]))
    # What GetReport's summary says matches the signed records.
    summary = report_pb(stored).summary
    assert [e.member_index for e in summary.evidence] == sorted(
        {r["member_index"] for r in doc["records"] if r["type"] in EVIDENCE_TYPES}
    )
    grades = {e.member_index: e.disability_grade for e in summary.evidence if e.disability_grade}
    assert grades == {
        r["member_index"]: r["grade"]
        for r in doc["records"]
        if r["type"] == "disability_certificate"
    }
    return v.record.id, doc


async def test_the_report_carries_every_evidence_record_with_its_provenance(
    sandbox: SandboxHandle, database_url: str, keys_dir: Path
) -> None:
    app = await app_for(sandbox, database_url, keys_dir)
    try:
        verification_id, doc = await report_of(app, "evidence-1")
        start, end = (date.fromisoformat(doc["window"][k]) for k in ("start", "end"))
        for i, person in enumerate(household().members):
            for source in EVIDENCE:
                held = {
                    encode_fact(f)["record_id"]: encode_fact(f)
                    for f in person.facts_for(source)
                    if overlaps(f, start, end)
                }
                shown = {
                    r["provenance"]["record_id"]: r
                    for r in doc["records"]
                    if r["member_index"] == i and r["provenance"]["source"] == source.value
                }
                assert shown.keys() == held.keys(), (i, source)
                for record_id, rec in shown.items():
                    assert (
                        rec["provenance"]["adapter"] == f"{source.value.replace('_', '-')}-gateway"
                    )
                    # The report shows what the department said, field for field.
                    expected = {k: v for k, v in held[record_id].items() if k != "record_id"}
                    assert {k: v for k, v in rec.items() if k in expected} == expected
                (status,) = [
                    s["status"]
                    for s in doc["sources"]
                    if s["member_index"] == i and s["source"] == source.value
                ]
                assert status == ("FOUND" if held else "NOT_FOUND")
        grades = {
            r["member_index"]: r["grade"]
            for r in doc["records"]
            if r["type"] == "disability_certificate"
        }
        assert grades == {
            i: p.disability_grade
            for i, p in enumerate(household().members)
            if p.disability_grade is not None
        }
        # Read again from storage, the report is the same signed document.
        again = await app.service.get_report(CALLER, verification_id, 0)
        assert json.loads(base64.b64decode(json.loads(again.envelope)["payload"])) == doc
    finally:
        await app.aclose()


async def test_a_medical_insurance_outage_is_failed_for_every_member_never_no_record(
    sandbox: SandboxHandle, database_url: str, keys_dir: Path
) -> None:
    await sandbox.set_faults(SourceKind.MEDICAL_INSURANCE, error_rate=1.0)
    app = await app_for(sandbox, database_url, keys_dir)
    try:
        _, doc = await report_of(app, "evidence-2")
    finally:
        await app.aclose()
    medical = [s for s in doc["sources"] if s["source"] == "medical_insurance"]
    assert len(medical) == len(household().members)
    assert {s["status"] for s in medical} == {"FAILED"}
    assert doc["completeness"]["status"] != "COMPLETE"
    assert not [r for r in doc["records"] if r["provenance"]["source"] == "medical_insurance"]
    others = [s for s in doc["sources"] if s["source"] == "disability"]
    assert {s["status"] for s in others} <= {"FOUND", "NOT_FOUND"}
