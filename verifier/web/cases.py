"""Caseworkers' and reviewers' pages: find a check, watch its sources arrive, read and
print its report, see what changed between versions.

A check's page shows statuses only (members by position, no names or ID numbers); the
report page is the audited read (``report_read``) of the use case, refused (and audited)
for a role or system that may not read it.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from verifier.domain import identifiers as ids
from verifier.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from verifier.domain.outcomes import VerificationState
from verifier.render import PrintView, render_html, render_pdf, stylesheet
from verifier.service.events import ReportEvent, SourceEvent, StateEvent
from verifier.service.listing import VerificationFilter
from verifier.web.guard import current, page_context, streamed
from verifier.web.report_view import changes, open_report
from verifier.web.services import SERVICES

PRINT_CSS = "/static/print/report.css"
_VERSION = re.compile(r"[1-9][0-9]{0,3}", re.ASCII)
_STATUS_TEXT = {
    "PENDING": "待返回",
    "FOUND": "有记录",
    "NOT_FOUND": "无记录",
    "FAILED": "查询失败",
    "DENIED": "拒绝查询",
}


def _vid(request: web.Request) -> str:
    vid = request.match_info["vid"]
    ids.require(ids.VERIFICATION_ID, vid, "verification_id")
    return vid


def _version(text: str, field: str) -> int:
    if not _VERSION.fullmatch(text):
        raise InvalidArgument([FieldViolation(field, "must be a report version 1-9999")])
    return int(text)


async def find_page(request: web.Request) -> web.StreamResponse:
    """The find form and the caller's newest checks (an audited list)."""
    caller = await current(request)
    page = await request.app[SERVICES].listing.list(caller, VerificationFilter(), page_size=20)
    context = {"title": "查找核对", "items": page.items, "page": page, "searched": False}
    return aiohttp_jinja2.render_template(
        "find.html", request, await page_context(request, context)
    )


async def find(request: web.Request) -> web.StreamResponse:
    """POST: a 核对编号 opens that check; a case reference lists its checks."""
    caller = await current(request)
    form = await request.post()
    wanted = str(form.get("q", "")).strip()
    if ids.VERIFICATION_ID.problem(wanted) is None:
        raise web.HTTPSeeOther(f"/checks/{wanted}")
    out: list[FieldViolation] = []
    ids.CASE_ID.check(wanted, "q", out)
    if out:
        raise InvalidArgument(
            [FieldViolation("q", "must be a 核对编号 or a case reference (案件编号)")]
        )
    page = await request.app[SERVICES].listing.list(
        caller, VerificationFilter(case_id=wanted), page_size=50
    )
    if len(page.items) == 1:
        raise web.HTTPSeeOther(f"/checks/{page.items[0].record.id}")
    context = {"title": "查找核对", "items": page.items, "page": page, "searched": True}
    return aiohttp_jinja2.render_template(
        "find.html", request, await page_context(request, context)
    )


def _grid(view: Any) -> dict[str, Any]:
    sources = sorted({p.source for p in view.progress})
    cells = {(p.member_index, p.source): p.status for p in view.progress}
    rows = [
        [(s, cells.get((m, s), "PENDING")) for s in sources]
        for m in range(view.record.member_count)
    ]
    answered = sum(1 for p in view.progress if p.status != "PENDING")
    return {"sources": sources, "rows": rows, "status_text": _STATUS_TEXT, "answered": answered}


async def check_page(request: web.Request) -> web.StreamResponse:
    caller = await current(request)
    vid = _vid(request)
    view = await request.app[SERVICES].verifications.get(caller, vid)
    context = {
        "title": "核对进度",
        "view": view,
        "record": view.record,
        "done": view.record.state is VerificationState.DONE,
        "versions": list(range(view.record.latest_version, 0, -1)),
        **_grid(view),
    }
    return aiohttp_jinja2.render_template(
        "check.html", request, await page_context(request, context)
    )


async def grid_fragment(request: web.Request) -> web.StreamResponse:
    """The status grid and versions alone, which the page's script swaps in as events come."""
    caller = await current(request)
    vid = _vid(request)
    view = await request.app[SERVICES].verifications.get(caller, vid)
    context = {
        "record": view.record,
        "done": view.record.state is VerificationState.DONE,
        "versions": list(range(view.record.latest_version, 0, -1)),
        **_grid(view),
    }
    return aiohttp_jinja2.render_template("check_grid.html", request, context)


def _event_json(event: SourceEvent | ReportEvent | StateEvent) -> dict[str, Any]:
    if isinstance(event, SourceEvent):
        return {
            "kind": "source",
            "member": event.member_index,
            "source": event.source,
            "status": event.status.value,
        }
    if isinstance(event, ReportEvent):
        return {"kind": "report", "version": event.version, "completeness": event.completeness}
    return {"kind": "state", "state": event.state.value}


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: each status, report version and state as it happens."""
    caller = await current(request)
    vid = _vid(request)
    stream = request.app[SERVICES].verifications.watch(caller, vid)
    response = streamed("text/event-stream")
    await response.prepare(request)
    try:
        async for event in stream:
            line = json.dumps(_event_json(event), ensure_ascii=False)
            await response.write(f"data: {line}\n\n".encode())
        await response.write(b"event: end\ndata: {}\n\n")
    except ConnectionResetError:
        pass  # the page was closed: nothing more to tell
    return response


async def report_page(request: web.Request) -> web.StreamResponse:
    caller = await current(request)
    vid = _vid(request)
    version = _version(request.match_info["version"], "version")
    services = request.app[SERVICES]
    stored = await services.verifications.get_report(caller, vid, version)
    shown = open_report(stored, services.trusted_keys())
    context = {
        "title": f"核对报告 第{stored.version}版",
        "stored": stored,
        "shown": shown,
        "doc": shown.document,
        "status_text": _STATUS_TEXT,
        "vid": vid,
    }
    return aiohttp_jinja2.render_template(
        "report.html", request, await page_context(request, context)
    )


async def changes_page(request: web.Request) -> web.StreamResponse:
    """What changed from version n-1 to n: two audited reads, compared field by field."""
    caller = await current(request)
    vid = _vid(request)
    version = _version(request.match_info["version"], "version")
    if version < 2:
        raise InvalidArgument([FieldViolation("version", "version 1 has no earlier version")])
    services = request.app[SERVICES]
    keys = services.trusted_keys()
    newer = open_report(await services.verifications.get_report(caller, vid, version), keys)
    older = open_report(await services.verifications.get_report(caller, vid, version - 1), keys)
    context = {
        "title": f"第{version - 1}版 → 第{version}版",
        "vid": vid,
        "version": version,
        "changes": changes(older.document, newer.document),
    }
    return aiohttp_jinja2.render_template(
        "changes.html", request, await page_context(request, context)
    )


async def _printout(request: web.Request) -> tuple[dict[str, Any], PrintView]:
    """The verified document and its print view: an audited read, like the report page.
    A report whose signature does not verify is not printed."""
    caller = await current(request)
    vid = _vid(request)
    version = _version(request.match_info["version"], "version")
    services = request.app[SERVICES]
    stored = await services.verifications.get_report(caller, vid, version)
    shown = open_report(stored, services.trusted_keys())
    if not shown.key_id:
        raise FailedPrecondition(f"the report's signature does not verify: {shown.problem}")
    return shown.document, PrintView.of(stored.envelope, shown.key_id)


async def print_page(request: web.Request) -> web.StreamResponse:
    """The printable 核对报告 (A4), the same page as ``hedui report render``; its script
    opens the browser's print dialog."""
    doc, view = await _printout(request)
    html = render_html(doc, view, stylesheet_href=PRINT_CSS)
    script = '<script src="/static/autoprint.js" defer></script>'
    html = html.replace("</head>", f"{script}</head>", 1)
    return web.Response(text=html, content_type="text/html")


async def print_pdf(request: web.Request) -> web.StreamResponse:
    doc, view = await _printout(request)
    pdf = await asyncio.to_thread(render_pdf, doc, view)
    name = f"hedui-report-{doc['report_id']}-v{doc['version']}.pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def print_css(request: web.Request) -> web.StreamResponse:
    return web.Response(text=stylesheet(), content_type="text/css")


def routes(app: web.Application) -> None:
    app.router.add_get("/checks", find_page)
    app.router.add_post("/checks/find", find)
    app.router.add_get("/checks/{vid}", check_page)
    app.router.add_get("/checks/{vid}/grid", grid_fragment)
    app.router.add_get("/checks/{vid}/events", events)
    app.router.add_get("/checks/{vid}/reports/{version}", report_page)
    app.router.add_get("/checks/{vid}/reports/{version}/changes", changes_page)
    app.router.add_get("/checks/{vid}/reports/{version}/print", print_page)
    app.router.add_get("/checks/{vid}/reports/{version}/pdf", print_pdf)
    app.router.add_get(PRINT_CSS, print_css)
