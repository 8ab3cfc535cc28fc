"""A check's reports: the printable 核对报告 in the page, its PDF, and what changed
between two versions.

Every one is the audited read (``report_read``) of the use case, refused (and audited)
for a role or system that may not read it. The page is the printout itself — the same
A4 document as ``hedui report render`` (:mod:`verifier.render`) — with the console's
toolbar above it (hidden when printed); a report whose signature does not verify against
the service's keys is not shown as a report.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp_jinja2
from aiohttp import web

from verifier.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from verifier.domain.ports import StoredReport
from verifier.render import PrintView, render_html, render_pdf, stylesheet
from verifier.web.cases import vid_of
from verifier.web.guard import current, page_context
from verifier.web.report_view import ShownReport, changes, open_report
from verifier.web.services import SERVICES

PRINT_CSS = "/static/print/report.css"
_VERSION = re.compile(r"[1-9][0-9]{0,3}", re.ASCII)


def _version(text: str) -> int:
    if not _VERSION.fullmatch(text):
        raise InvalidArgument([FieldViolation("version", "must be a report version 1-9999")])
    return int(text)


async def _read(request: web.Request, version: int) -> tuple[StoredReport, ShownReport]:
    caller = await current(request)
    services = request.app[SERVICES]
    stored = await services.verifications.get_report(caller, vid_of(request), version)
    shown = open_report(stored, services.trusted_keys())
    if not shown.key_id:
        raise FailedPrecondition(f"the report's signature does not verify: {shown.problem}")
    return stored, shown


async def report_page(request: web.Request) -> web.StreamResponse:
    stored, shown = await _read(request, _version(request.match_info["version"]))
    page = render_html(
        shown.document, PrintView.of(stored.envelope, shown.key_id), stylesheet_href=PRINT_CSS
    )
    toolbar = aiohttp_jinja2.render_string(
        "report_toolbar.html",
        request,
        await page_context(request, {"shown": shown, "stored": stored, "vid": vid_of(request)}),
    )
    head = '<link rel="stylesheet" href="/static/toolbar.css">'
    head += '<script src="/static/print.js" defer></script>'
    page = page.replace("</head>", f"{head}</head>", 1).replace("<body>", f"<body>{toolbar}", 1)
    return web.Response(text=page, content_type="text/html")


async def report_pdf(request: web.Request) -> web.StreamResponse:
    stored, shown = await _read(request, _version(request.match_info["version"]))
    view = PrintView.of(stored.envelope, shown.key_id)
    pdf = await asyncio.to_thread(render_pdf, shown.document, view)
    name = f"hedui-report-{stored.report_id}-v{stored.version}.pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def changes_page(request: web.Request) -> web.StreamResponse:
    """What changed from version n-1 to n: two audited reads, compared field by field."""
    version = _version(request.match_info["version"])
    if version < 2:
        raise InvalidArgument([FieldViolation("version", "version 1 has no earlier version")])
    _, newer = await _read(request, version)
    _, older = await _read(request, version - 1)
    context = {
        "title": f"第{version - 1}版 → 第{version}版",
        "vid": vid_of(request),
        "version": version,
        "changes": changes(older.document, newer.document),
    }
    return aiohttp_jinja2.render_template(
        "changes.html", request, await page_context(request, context)
    )


async def printout_css(request: web.Request) -> web.StreamResponse:
    return web.Response(text=stylesheet(), content_type="text/css")


def routes(app: web.Application) -> None:
    app.router.add_get("/checks/{vid}/reports/{version}", report_page)
    app.router.add_get("/checks/{vid}/reports/{version}/pdf", report_pdf)
    app.router.add_get("/checks/{vid}/reports/{version}/changes", changes_page)
    app.router.add_get(PRINT_CSS, printout_css)
