"""No raw ID numbers or names in logs, audit rows or the database, on both databases.

(a) A real gRPC server over the real reference adapters and the sandbox departments
(some failing, some answering garbage), several households, malformed IDs, a refused
region, report reads; structlog and stdlib logging captured at DEBUG. Then logs, audit
bodies and every column of every table are scanned.

(b) The scanner can fail: numbers and names planted in a log line, an unsealed column and
an audit body (triggers bypassed with owner rights) are each found, and the finding
itself shows the value masked.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import pytest
import structlog
import zstandard
from sqlalchemy import text

from hedui_sdk import SourceKind, resident_id
from hedui_sdk.sandbox import Population, generate_population, start_sandbox
from hedui_sdk.sandbox.server import current_as_of
from tests.fakes import AllowAllConsents, FakeAdapter, synthetic_id, with_wrong_check_digit
from tests.helpers import (
    APPLICANT_ID,
    CALLER,
    CHILD_ID,
    SPOUSE_ID,
    SYSTEM,
    config,
    household_draft,
    make_app,
    soon,
)
from tests.pii import Finding, PiiScanner, assert_clean, mask
from verifier.api.client import Client, request_from_json
from verifier.bootstrap import build_app, serve_app
from verifier.cli.logs import configure
from verifier.config import sandbox_sources
from verifier.service.fanout import SourcePolicy
from verifier.storage.engine import Database
from verifier.storage.uow import SqlStore

SOURCES = (SourceKind.TAX, SourceKind.REAL_ESTATE, SourceKind.VEHICLE, SourceKind.SOCIAL_INSURANCE)
HOUSEHOLDS = (("370322", 0), ("370322", 1), ("370305", 0), ("370305", 1))


@functools.cache
def population() -> Population:
    return generate_population(23, households_per_county=30, as_of=current_as_of())


@pytest.fixture
def debug_logs() -> Iterator[None]:
    """hedui's own logging setup at DEBUG for one test; the previous setup afterwards."""
    saved = structlog.get_config()
    configure("DEBUG")
    yield
    structlog.configure(**saved)


def household_json(region: str, index: int, request_id: str) -> dict[str, Any]:
    hh = population().sample_household(region, index)
    # A household file: the canonical JSON of CreateVerificationRequest.
    return {
        "request_id": request_id,
        "case_id": f"CASE-{request_id}",
        "authorization_id": "SQ-PII-1",
        "purposes": ["PURPOSE_DIBAO", "PURPOSE_LINSHI"],
        "household": {
            "region_code": hh.region,
            "members": [
                {
                    "id_type": "ID_TYPE_RESIDENT_ID",
                    "id_number": p.id_number,
                    "name": p.name,
                    "relation": "RELATION_APPLICANT"
                    if p.relation.value == "self"
                    else f"RELATION_{p.relation.name}",
                }
                for p in hh.members
            ],
        },
        "hukou_nature": "HUKOU_NATURE_URBAN",
        "sources": [f"SOURCE_KIND_{s.name}" for s in SOURCES],
    }


def malformed(number: str) -> dict[str, str]:
    """Numbers that fail validation in different ways, each still mostly a real number."""
    bad_date = number[:10] + "13" + number[12:17]
    wrong_province = "99" + number[2:17]
    return {
        "check digit": with_wrong_check_digit(number),
        "birth date": bad_date + resident_id.check_digit(bad_date),
        "length": number[:17],
        "province": wrong_province + resident_id.check_digit(wrong_province),
        "lowercase x": number[:17] + "x",
    }


async def test_a_full_flow_leaves_no_raw_ids_in_logs_audit_or_database(
    database_url: str,
    keys_dir: Path,
    debug_logs: None,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    households = [household_json(r, i, f"pii-{n}") for n, (r, i) in enumerate(HOUSEHOLDS)]
    foreign = household_json("341824", 0, "pii-foreign")
    first = households[0]["household"]["members"][0]["id_number"]
    bad = malformed(first)
    names = [m["name"] for h in (*households, foreign) for m in h["household"]["members"]]
    ids = [m["id_number"] for h in (*households, foreign) for m in h["household"]["members"]]
    scanner = PiiScanner([*ids, *bad.values()], names)

    sandbox = await start_sandbox(population=population(), faults={})
    await sandbox.set_faults(SourceKind.TAX, error_rate=1.0)  # FAILED after retries
    await sandbox.set_faults(SourceKind.VEHICLE, garbage_rate=1.0)  # undecodable answers
    sources = {k: v for k, v in sandbox_sources(sandbox.port).items() if k in SOURCES}
    app = await build_app(
        config(database_url, keys_dir, sources=sources),
        migrate=False,
        policies={SourceKind.TAX: SourcePolicy(retries=1, backoff_initial=0.01)},
        # Authorizations are another test's subject; here every request is covered.
        consent_gate=AllowAllConsents(),
    )
    try:
        server = await serve_app(app, "127.0.0.1:0", health_interval=0.05)
        try:
            async with Client(f"127.0.0.1:{server.port}", user="worker-1", system=SYSTEM) as c:
                vids = []
                for doc in households:
                    v = await c.create(request_from_json(doc, wait=True))
                    assert v.latest_report_version == 1
                    vids.append(v.verification_id)
                for vid in vids:
                    await c.get(vid)
                    assert (await c.report(vid)).envelope
                for why, number in bad.items():
                    doc = json.loads(json.dumps(households[0]))
                    doc["request_id"] = f"bad-{why}"
                    doc["household"]["members"][0]["id_number"] = number
                    with pytest.raises(grpc.aio.AioRpcError) as ei:
                        await c.create(request_from_json(doc, wait=True))
                    assert ei.value.code() is grpc.StatusCode.INVALID_ARGUMENT, why
                    assert_clean(scanner.text(ei.value.details() or "", f"{why} error"))
                with pytest.raises(grpc.aio.AioRpcError) as ei:
                    await c.create(request_from_json(foreign, wait=True))
                assert ei.value.code() is grpc.StatusCode.PERMISSION_DENIED
                with pytest.raises(grpc.aio.AioRpcError) as ei:
                    await c.report("00000000-0000-4000-8000-000000000000")
                assert ei.value.code() is grpc.StatusCode.NOT_FOUND
        finally:
            await server.stop(0)

        assert isinstance(app.store, SqlStore)
        db = app.store.db
        statuses = set()
        async with app.store.unit_of_work(write=False) as uow:
            for vid in vids:
                statuses |= {p.status for p in await uow.outcomes.summaries(vid)}
        assert {"FOUND", "FAILED"} <= statuses  # failures did happen and are stored
        assert_clean(await scanner.audit(db))
        assert_clean(await scanner.database(db))
        assert len(await column(db, "SELECT seq FROM audit_entries")) >= 4 * len(households)
    finally:
        await app.aclose()
        await sandbox.stop()

    captured = capfd.readouterr()
    logs = captured.err + captured.out + caplog.text
    # The capture is real: the service's own events are in it (else this test proves nothing).
    assert all(vid in logs for vid in vids) and "report_released" in logs
    assert_clean(scanner.lines(logs))


async def column(db: Database, sql: str) -> list[Any]:
    async with db.read_engine.connect() as conn:
        return list((await conn.execute(text(sql))).scalars())


# -- (b) the scanner finds what is planted --------------------------------------------------

UNKNOWN_ID = synthetic_id(region="341824", seq=777, born=date(1958, 12, 1))


def only(findings: list[Finding], raw: str) -> Finding:
    assert len(findings) == 1, [str(f) for f in findings]
    f = findings[0]
    assert raw not in str(f) and f.masked == mask(raw) and f.masked in str(f)
    return f


def test_the_scanner_finds_ids_and_names_in_log_lines_and_masks_them() -> None:
    scanner = PiiScanner([APPLICANT_ID, with_wrong_check_digit(SPOUSE_ID)], ["测试甲"])
    assert scanner.lines('{"event": "ok", "n": 123456789012345678}') == []  # no check digit
    line = json.dumps({"event": "oops", "who": UNKNOWN_ID})
    f = only(scanner.lines(f"fine\n{line}"), UNKNOWN_ID)
    assert (f.where, f.what) == ("log line 2", "resident ID")
    only(
        scanner.text(f"x{with_wrong_check_digit(SPOUSE_ID)}", "t"),
        with_wrong_check_digit(SPOUSE_ID),
    )
    f = only(scanner.text(json.dumps({"name": "测试甲"}), "t"), "测试甲")  # \\u-escaped
    assert f.what == "name"
    only(scanner.value(b"id=" + APPLICANT_ID.encode(), "bytes"), APPLICANT_ID)


async def unprotect_audit(db: Database) -> None:
    """What an attacker or operator with owner rights can do (see test_audit_tamper)."""
    async with db.write_engine.begin() as conn:
        if db.sqlite:
            names = (
                await conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
            ).scalars()
            for name in list(names):
                await conn.execute(text(f'DROP TRIGGER "{name}"'))
        else:
            await conn.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))


async def test_the_scanner_finds_ids_planted_in_a_column_and_an_audit_body(
    database_url: str, keys_dir: Path
) -> None:
    adapters = {SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 100})}
    app = await make_app(database_url, keys_dir, adapters)
    try:
        await app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert isinstance(app.store, SqlStore)
        db = app.store.db
        scanner = PiiScanner([APPLICANT_ID, SPOUSE_ID, CHILD_ID], ["测试甲", "测试乙", "测试丙"])
        assert_clean(await scanner.database(db))  # the baseline is clean: plants are what we find
        assert_clean(await scanner.audit(db))

        async with db.write_engine.begin() as conn:
            await conn.execute(text("UPDATE verifications SET case_id = :v"), {"v": UNKNOWN_ID})
            await conn.execute(text("UPDATE verifications SET caller_user = :v"), {"v": "测试乙"})
            # Shared bases are kept compressed (and hold no personal data): the scan reads
            # them inflated.
            packed = zstandard.compress(json.dumps({"note": "payer 测试乙"}).encode())
            await conn.execute(text("UPDATE seal_bases SET content = :v"), {"v": packed})
        found = await scanner.database(db)
        case = [f for f in found if f.what == "resident ID"]
        only(case, UNKNOWN_ID)
        assert "verifications" in case[0].where
        names = [f for f in found if f.what == "name"]
        tables = {t for f in names for t in ("verifications", "seal_bases") if t in f.where}
        assert names and tables == {"verifications", "seal_bases"}
        assert any("inflated" in f.where for f in names)
        assert all(f.masked == mask("测试乙") and "测试乙" not in str(f) for f in names)

        await unprotect_audit(db)
        async with db.write_engine.begin() as conn:
            body = (
                await conn.execute(text("SELECT body FROM audit_entries WHERE seq = 0"))
            ).scalar_one()
            doc = json.loads(bytes(body))
            doc["reason"] = f"subject {CHILD_ID}"
            await conn.execute(
                text("UPDATE audit_entries SET body = :b WHERE seq = 0"),
                {"b": json.dumps(doc, ensure_ascii=False).encode()},
            )
        f = only(await scanner.audit(db), CHILD_ID)
        assert f.where == "audit seq 0"
        in_db = [f for f in await scanner.database(db) if f.masked == mask(CHILD_ID)]
        assert in_db and all("audit_entries" in f.where for f in in_db)
        assert all(CHILD_ID not in str(f) for f in in_db)
    finally:
        await app.aclose()
