"""The console over plain HTTP (no browser): its security rules — headers on every page,
CSRF tokens and same-origin POSTs, a sign-in link good once — and the pages the browser
tests do not walk: what changed between report versions, the signed checkpoint history,
an export of a range, a printout checked against its report file."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hedui_sdk.masking import mask_id_number
from tests.app_sql import audit_bodies
from tests.console_helpers import Rig, base_url
from tests.fakes import AsyncBankFake
from tests.helpers import APPLICANT_ID, CALLER, household_draft, soon
from tests.late_sources_helpers import bank_app, tick_at
from verifier.cli.console_cmds import RunningConsole
from verifier.render import PrintoutPayload, PrintView, render_pdf
from verifier.signing.dsse import verify_envelope
from verifier.web import audit_pages
from verifier.web.guard import CSP

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def signed_in(console: RunningConsole) -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: the console is on an IP address, whose cookies the jar keeps only so.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(console.link_url) as resp:
            assert resp.status == 200
        yield http


async def _csrf(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as resp:
        match = _CSRF.search(await resp.text())
    assert match is not None
    return match.group(1)


@asynccontextmanager
async def late_bank_rig(
    database_url: str, keys_dir: Path
) -> AsyncIterator[tuple[Rig, AsyncBankFake]]:
    """Tax answers at once; the bank gives a ticket and answers when ``ready`` is set."""
    bank = AsyncBankFake({APPLICANT_ID: 1_250_000})
    rig = Rig(await bank_app(database_url, keys_dir, bank))
    try:
        yield rig, bank
    finally:
        await rig.close()


async def test_pages_carry_strict_headers_and_forms_need_the_sessions_token(
    database_url: str, keys_dir: Path
) -> None:
    async with late_bank_rig(database_url, keys_dir) as (rig, _bank):
        console = await rig.console("caseworker", "worker-1")
        async with signed_in(console) as http:
            async with http.get(f"{base_url(console)}/checks") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Security-Policy"] == CSP
                assert "'unsafe-inline'" not in CSP
                assert resp.headers["X-Frame-Options"] == "DENY"
                assert resp.headers["Cache-Control"] == "no-store"
            url = f"{base_url(console)}/checks/find"
            token = await _csrf(http, f"{base_url(console)}/checks")
            origin = {"Origin": base_url(console)}
            async with http.post(url, data={"q": "CASE-1"}, headers=origin) as resp:
                assert resp.status == 403
            async with http.post(url, data={"q": "CASE-1", "csrf": "x" + token}) as resp:
                assert resp.status == 403
            evil = {"Origin": "http://evil.example"}
            async with http.post(url, data={"q": "CASE-1", "csrf": token}, headers=evil) as resp:
                assert resp.status == 403
            async with http.post(url, data={"q": "CASE-1", "csrf": token}, headers=origin) as resp:
                assert resp.status == 200
            async with http.post(url, data={"q": "a b", "csrf": token}, headers=origin) as resp:
                assert resp.status == 400
                assert "案件编号" in await resp.text()
        # The link signed one browser in; it signs in no other.
        async with aiohttp.ClientSession() as http, http.get(console.link_url) as resp:
            assert resp.status == 401
        # Not signed in: every page sends the browser to sign in.
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base_url(console)}/checks", allow_redirects=False) as resp,
        ):
            assert resp.status == 303
            assert resp.headers["Location"] == "/"


async def test_a_reviewer_sees_what_changed_when_the_bank_answered(
    database_url: str, keys_dir: Path
) -> None:
    async with late_bank_rig(database_url, keys_dir) as (rig, bank):
        view = await rig.app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        vid = view.record.id
        bank.ready.set()
        assert await tick_at(rig.app, 1.0) > 0
        console = await rig.console("reviewer", "reviewer-1")
        async with signed_in(console) as http:
            async with http.get(f"{base_url(console)}/checks/{vid}") as resp:
                page = await resp.text()
            assert 'id="changes-v2"' in page
            async with http.get(f"{base_url(console)}/checks/{vid}/reports/2/changes") as resp:
                assert resp.status == 200
                changes = await resp.text()
        assert "totals.assets_fen" in changes
        assert "1250000" in changes
        assert "&#34;PENDING&#34;" in changes and "&#34;FOUND&#34;" in changes
        reads = await audit_bodies(rig.app, "report_read")
        assert sorted(b["details"]["version"] for b in reads) == [1, 2]


async def test_an_auditor_reads_the_checkpoint_history_and_exports_a_range(
    database_url: str, keys_dir: Path
) -> None:
    async with late_bank_rig(database_url, keys_dir) as (rig, _bank):
        await rig.app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        assert rig.app.auditing is not None
        first = await rig.app.auditing.checkpointer.checkpoint()
        console = await rig.console("auditor", "auditor-1")
        async with signed_in(console) as http:
            token = await _csrf(http, f"{base_url(console)}/audit/export")
            async with http.post(
                f"{base_url(console)}/audit/export",
                data={"start_seq": "0", "end_seq": str(first.size), "csrf": token},
                headers={"Origin": base_url(console)},
            ) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Disposition"].startswith("attachment;")
                lines = (await resp.read()).splitlines()
            async with http.get(f"{base_url(console)}/audit/checkpoints") as resp:
                history = await resp.text()
            # Bad sizes for a consistency proof are refused before anything is proved.
            for path in ("5/3", "x/3", "1/0", "01/3", "1/9007199254740992"):
                async with http.get(f"{base_url(console)}/audit/consistency/{path}") as resp:
                    assert resp.status == 400, path
        records = [json.loads(line) for line in lines]
        entries = [r for r in records if "seq" in r]
        assert [e["seq"] for e in entries] == list(range(first.size))
        assert first.root.hex() in history
        assert rig.audit_key in history
        kinds = [b["details"]["kind"] for b in await audit_bodies(rig.app, "audit_read")]
        assert kinds == ["export", "checkpoint_history"]


async def test_anyone_signed_in_checks_a_printout_against_its_report_file(
    database_url: str, keys_dir: Path
) -> None:
    async with late_bank_rig(database_url, keys_dir) as (rig, _bank):
        view = await rig.app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        stored = await rig.app.service.get_report(CALLER, view.record.id, 1)
        verified = verify_envelope(stored.envelope, {stored.signing_key_id: _signing_key(rig)})
        payload = PrintoutPayload(
            stored.report_id, stored.version, verified.key_id, stored.envelope_sha256
        )
        pdf = render_pdf(verified.document, PrintView.of(stored.envelope, verified.key_id))
        other = payload.text().replace(payload.envelope_sha256, "0" * 64)
        console = await rig.console("auditor", "auditor-1")
        async with signed_in(console) as http:
            url = f"{base_url(console)}/verify"
            token = await _csrf(http, url)

            async def check(**given: str | bytes) -> str:
                form = aiohttp.FormData({"csrf": token})
                form.add_field("report", stored.envelope, filename="report.dsse.json")
                for name, value in given.items():
                    if isinstance(value, bytes):
                        form.add_field(name, value, filename=f"{name}.pdf")
                    else:
                        form.add_field(name, value)
                async with http.post(url, data=form, headers={"Origin": base_url(console)}) as r:
                    assert r.status == 200
                    return await r.text()

            assert 'data-result="good"' in await check(payload=payload.text())
            assert 'data-result="good"' in await check(printout=pdf)
            mismatch = await check(payload=other)
            assert 'data-result="bad"' in mismatch
            assert "envelope SHA-256 differs" in mismatch
            unreadable = await check(payload="not a payload")
            assert 'data-result="bad"' in unreadable


def _signing_key(rig: Rig) -> Ed25519PublicKey:
    (key,) = rig.app.keys.public_keys("signing")
    return key


async def test_events_of_a_check_not_ones_own_are_refused_before_the_stream(
    database_url: str, keys_dir: Path
) -> None:
    async with late_bank_rig(database_url, keys_dir) as (rig, _bank):
        view = await rig.app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        auditor = await rig.console("auditor", "auditor-1")
        async with signed_in(auditor) as http:
            url = f"{base_url(auditor)}/checks/{view.record.id}/events"
            async with http.get(url) as resp:
                assert resp.status == 404
                assert resp.headers["Content-Type"].startswith("text/html")


async def test_an_auditor_searches_by_any_kind_of_document_number(
    database_url: str, keys_dir: Path
) -> None:
    async with late_bank_rig(database_url, keys_dir) as (rig, _bank):
        console = await rig.console("auditor", "auditor-1")
        async with signed_in(console) as http:
            token = await _csrf(http, f"{base_url(console)}/audit")
            url = f"{base_url(console)}/audit/search"
            origin = {"Origin": base_url(console)}

            async def search(**form: str) -> int:
                async with http.post(url, data={"csrf": token, **form}, headers=origin) as r:
                    return r.status

            assert await search(id_type="passport", id_number="E12345678") == 200
            assert await search(id_type="resident_id", id_number="E12345678") == 400
            assert await search(id_type="library_card", id_number="E12345678") == 400
        reads = await audit_bodies(rig.app, "audit_read")
        assert [b["details"]["filters"] for b in reads] == [["subject"]]
        assert len(reads[0]["subject_refs"]) == 1
        assert "E12345678" not in json.dumps(reads)


async def test_a_search_by_id_number_never_sends_the_number_back(
    database_url: str, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One entry a page, so the results carry a next-page form, which must not hold it either.
    monkeypatch.setattr(audit_pages, "_PAGE", 1)
    async with late_bank_rig(database_url, keys_dir) as (rig, _bank):
        await rig.app.service.create(CALLER, household_draft(), wait=True, wait_until=soon())
        console = await rig.console("auditor", "auditor-1")
        async with signed_in(console) as http:
            token = await _csrf(http, f"{base_url(console)}/audit")
            url = f"{base_url(console)}/audit/search"
            origin = {"Origin": base_url(console)}
            form = {"csrf": token, "id_type": "resident_id", "id_number": APPLICANT_ID}
            async with http.post(url, data=form, headers=origin) as resp:
                assert resp.status == 200
                first = await resp.text()
            sealed = re.search(r'name="sealed_subject" value="([^"]+)"', first)
            assert sealed is not None
            following = {"csrf": token, "id_type": "resident_id", "sealed_subject": sealed[1]}
            following["page_token"] = re.findall(r'name="page_token" value="([^"]+)"', first)[0]
            async with http.post(url, data=following, headers=origin) as resp:
                assert resp.status == 200
                second = await resp.text()
            forged = {**following, "sealed_subject": sealed[1][:-4] + "AAAA"}
            async with http.post(url, data=forged, headers=origin) as resp:
                assert resp.status == 400
                assert "sealed_subject" in await resp.text()
        for page in (first, second):
            # The search found the applicant's entries, and the page names them masked only.
            assert len(re.findall(r'href="/audit/entries/[0-9]+"', page)) == 1
            assert mask_id_number(APPLICANT_ID) in page
            assert APPLICANT_ID not in page
        seqs = [re.findall(r'href="/audit/entries/([0-9]+)"', p)[0] for p in (first, second)]
        assert seqs[0] != seqs[1]
        reads = await audit_bodies(rig.app, "audit_read")
        assert [b["details"]["filters"] for b in reads] == [["subject"], ["subject"]]
