"""Caseworkers' and reviewers' pages: find a check and watch its sources arrive.

A check's page shows statuses only (members by position, no names or ID numbers); its
reports are :mod:`verifier.web.report_pages`.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.labels import SOURCE_LABELS, SOURCE_STATUS_LABELS
from verifier.domain.outcomes import VerificationState
from verifier.service.events import ReportEvent, SourceEvent, StateEvent
from verifier.service.listing import VerificationFilter
from verifier.web.guard import current, page_context, streamed
from verifier.web.services import SERVICES


def vid_of(request: web.Request) -> str:
    """The 核对编号 in the path, held to its format."""
    vid = request.match_info["vid"]
    ids.require(ids.VERIFICATION_ID, vid, "verification_id")
    return vid


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
    cells = {(p.member_index, p.source): (p.status, p.deployment) for p in view.progress}
    rows = [
        [(s, *cells.get((m, s), ("PENDING", ""))) for s in sources]
        for m in range(view.record.member_count)
    ]
    answered = sum(1 for p in view.progress if p.status != "PENDING")
    return {
        "sources": sources,
        "rows": rows,
        "status_text": SOURCE_STATUS_LABELS,
        "source_text": SOURCE_LABELS,
        "answered": answered,
    }


async def check_page(request: web.Request) -> web.StreamResponse:
    caller = await current(request)
    vid = vid_of(request)
    view = await request.app[SERVICES].verifications.get(caller, vid)
    context = {
        "title": "核对进度",
        "view": view,
        "record": view.record,
        "done": view.record.state is VerificationState.DONE,
        "versions": list(range(view.record.latest_version, 0, -1)),
        **_grid(view),
        # The page's script labels what arrives live with the same words.
        "labels": json.dumps(
            {"status": SOURCE_STATUS_LABELS, "source": SOURCE_LABELS}, ensure_ascii=False
        ),
    }
    return aiohttp_jinja2.render_template(
        "check.html", request, await page_context(request, context)
    )


async def grid_fragment(request: web.Request) -> web.StreamResponse:
    """The status grid and versions alone, which the page's script swaps in as events come."""
    caller = await current(request)
    vid = vid_of(request)
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
    vid = vid_of(request)
    verifications = request.app[SERVICES].verifications
    # Refused (not found) before the stream starts: an error cannot follow its headers.
    await verifications.get(caller, vid)
    stream = verifications.watch(caller, vid)
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


def routes(app: web.Application) -> None:
    app.router.add_get("/checks", find_page)
    app.router.add_post("/checks/find", find)
    app.router.add_get("/checks/{vid}", check_page)
    app.router.add_get("/checks/{vid}/grid", grid_fragment)
    app.router.add_get("/checks/{vid}/events", events)
