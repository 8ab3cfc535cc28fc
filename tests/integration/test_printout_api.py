"""GetPrintout over a real grpc.aio server: the masked HTML and PDF printouts, full
identities for the caseworker only (audited), bad requests named by field; SQLite and
PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from hedui.v1 import verification_pb2 as pb

from hedui_sdk import mask_id_number
from tests.app_sql import audit_bodies
from tests.helpers import APPLICANT_ID, make_app
from tests.integration.test_grpc_api import violations
from tests.print_helpers import demo_adapters, demo_check
from tests.served import ServedStack


@pytest.fixture
async def served(database_url: str, keys_dir: Path) -> AsyncIterator[tuple[ServedStack, str]]:
    stack = await ServedStack.serve(await make_app(database_url, keys_dir, demo_adapters()))
    try:
        yield stack, await demo_check(stack.app)
    finally:
        await stack.close()


def ask(vid: str, **kw: object) -> pb.GetPrintoutRequest:
    return pb.GetPrintoutRequest(verification_id=vid, **kw)  # type: ignore[arg-type]


async def test_the_masked_printout_names_the_signed_envelope(
    served: tuple[ServedStack, str],
) -> None:
    stack, vid = served
    async with stack.client(role="reviewer", user="reviewer-1") as c:
        html = await c.verifications.GetPrintout(
            ask(vid, format=pb.PRINTOUT_FORMAT_HTML), metadata=c.metadata, timeout=30
        )
        pdf = await c.verifications.GetPrintout(
            ask(vid, version=1, format=pb.PRINTOUT_FORMAT_PDF), metadata=c.metadata, timeout=60
        )
        report = await c.report(vid)
    sha = hashlib.sha256(report.envelope).hexdigest()
    assert (html.media_type, pdf.media_type) == ("text/html; charset=utf-8", "application/pdf")
    assert pdf.document.startswith(b"%PDF-")
    assert (html.envelope_sha256, html.key_id, html.version) == (sha, report.summary.key_id, 1)
    page = html.document.decode()
    assert sha in page and report.summary.key_id in page
    assert mask_id_number(APPLICANT_ID) in page and APPLICANT_ID not in page
    reads = await audit_bodies(stack.app, "report_read")
    assert [r["outcome"] for r in reads] == ["allow"] * 3  # two printouts and the report


async def test_full_identities_for_the_caseworker_and_refused_to_a_reviewer(
    served: tuple[ServedStack, str],
) -> None:
    stack, vid = served
    full = ask(vid, format=pb.PRINTOUT_FORMAT_HTML, full_identities=True)
    async with stack.client() as c:
        page = (await c.verifications.GetPrintout(full, metadata=c.metadata)).document.decode()
    assert APPLICANT_ID in page
    async with stack.client(role="reviewer", user="reviewer-1") as c:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await c.verifications.GetPrintout(full, metadata=c.metadata)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    reads = await audit_bodies(stack.app, "report_read")
    full_reads = [r for r in reads if r["details"].get("identities") == "full"]
    assert [(r["outcome"], r["actor"]["role"]) for r in full_reads] == [
        ("allow", "caseworker"),
        ("deny", "reviewer"),
    ]
    assert APPLICANT_ID not in json.dumps(reads)


async def test_a_bad_request_names_its_fields(served: tuple[ServedStack, str]) -> None:
    stack, _ = served
    async with stack.client() as c:
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await c.verifications.GetPrintout(
                pb.GetPrintoutRequest(verification_id="nope", version=0), metadata=c.metadata
            )
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(violations(bad.value)) == {"verification_id", "version", "format"}
