"""The console's verify page: is this printout the signed report in this JSON file?

Anyone signed in may use it. The report file's signature is checked against the
service's signing keys, then the printout's QR payload — typed in, or read from an
uploaded PDF or photo — is compared with it (:func:`verifier.render.compare_printout`,
as ``hedui report verify --printout``). Nothing is read from the database and nothing
from the report is shown but its ids, so the page is not an audited read.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.render import PrintoutError, PrintoutPayload, compare_printout, parse_payload
from verifier.render.scan import read_printout
from verifier.signing.dsse import EnvelopeError, verify_envelope
from verifier.web.guard import current, page_context
from verifier.web.services import SERVICES

MAX_UPLOAD = 8 * 1024 * 1024
"""A report envelope or a printout's PDF or photo (the app's request limit)."""


def _scan(data: bytes) -> PrintoutPayload:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "printout"
        path.write_bytes(data)
        return read_printout(path)


async def verify_page(request: web.Request) -> web.StreamResponse:
    await current(request)
    return aiohttp_jinja2.render_template(
        "verify.html", request, await page_context(request, {"title": "核验打印件"})
    )


async def verify(request: web.Request) -> web.StreamResponse:
    await current(request)
    form = await request.post()
    report = form.get("report")
    if not isinstance(report, web.FileField):
        raise InvalidArgument([FieldViolation("report", "must be the report's JSON file")])
    envelope = report.file.read()
    text = str(form.get("payload", "")).strip()
    upload = form.get("printout")
    result: dict[str, Any] = {"title": "核验打印件", "checked": True}
    try:
        verified = verify_envelope(envelope, request.app[SERVICES].trusted_keys())
    except EnvelopeError as exc:
        result |= {"verdict": "bad", "problem": f"报告文件的签名未通过验证：{exc}"}
        return await _answer(request, result)
    try:
        if text:
            payload = parse_payload(text)
        elif isinstance(upload, web.FileField):
            payload = await asyncio.to_thread(_scan, upload.file.read())
        else:
            raise InvalidArgument(
                [FieldViolation("payload", "give the QR code's text or the printout's file")]
            )
    except PrintoutError as exc:
        result |= {"verdict": "bad", "problem": f"打印件无法读取：{exc}"}
        return await _answer(request, result)
    differences = compare_printout(
        payload, envelope, verified.key_ids or (verified.key_id,), verified.document
    )
    result |= {
        "verdict": "bad" if differences else "good",
        "differences": differences,
        "payload": payload,
    }
    return await _answer(request, result)


async def _answer(request: web.Request, context: dict[str, Any]) -> web.StreamResponse:
    context.setdefault("differences", [])
    context.setdefault("problem", "")
    context.setdefault("payload", None)
    return aiohttp_jinja2.render_template(
        "verify.html", request, await page_context(request, context)
    )


def routes(app: web.Application) -> None:
    app.router.add_get("/verify", verify_page)
    app.router.add_post("/verify", verify)
