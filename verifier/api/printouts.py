"""GetPrintout: the printable 核对报告 of a report version, rendered on the server.

The masked printout is read as GetReport reads (audited ``report_read``); full names and
ID numbers go through the service's audited disclosure. The PDF is laid out in a worker
thread: a few seconds of layout must not stall the event loop's other calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hedui.v1 import verification_pb2 as pb

from verifier.api.fields import report_version
from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.ports import Caller, StoredReport
from verifier.render import PrintView, render_html, render_pdf
from verifier.render.view import Identity
from verifier.service.verifications import VerificationService
from verifier.signing.dsse import unverified_document

_MEDIA_TYPES = {
    pb.PRINTOUT_FORMAT_PDF: "application/pdf",
    pb.PRINTOUT_FORMAT_HTML: "text/html; charset=utf-8",
}


def _checked(request: pb.GetPrintoutRequest) -> int:
    out: list[FieldViolation] = []
    ids.VERIFICATION_ID.check(request.verification_id, "verification_id", out)
    version = report_version(request, out)
    if request.format not in _MEDIA_TYPES:
        out.append(FieldViolation("format", "must be PRINTOUT_FORMAT_PDF or PRINTOUT_FORMAT_HTML"))
    if out:
        raise InvalidArgument(out)
    return version


def _document(envelope: bytes) -> dict[str, Any]:
    """The report document in an envelope this service released (read from its own
    store, so not verified again)."""
    return unverified_document(envelope)


async def get_printout(
    service: VerificationService, caller: Caller, request: pb.GetPrintoutRequest
) -> pb.GetPrintoutResponse:
    version = _checked(request)
    vid = request.verification_id
    report: StoredReport
    identities: dict[int, Identity] = {}
    if request.full_identities:
        disclosed = await service.get_report_with_identities(caller, vid, version)
        report, identities = disclosed.report, dict(disclosed.identities)
    else:
        report = await service.get_report(caller, vid, version)
    doc = _document(report.envelope)
    view = PrintView.of(report.envelope, report.signing_key_id, identities)
    if request.format == pb.PRINTOUT_FORMAT_PDF:
        data = await asyncio.to_thread(render_pdf, doc, view)
    else:
        data = render_html(doc, view).encode()
    return pb.GetPrintoutResponse(
        document=data,
        media_type=_MEDIA_TYPES[request.format],
        report_id=report.report_id,
        version=report.version,
        key_id=report.signing_key_id,
        envelope_sha256=view.envelope_sha256,
    )
