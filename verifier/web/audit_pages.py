"""Auditors' pages: search the audit log, open an entry and its neighbours, export a
range, the signed checkpoints; and the proof an entry's page checks in the browser.

Searches are POST forms: an ID number typed in never reaches a URL, a log line or the
audit log — the use case turns it into the keyed subject ref, and the search itself is
an ``audit_read`` entry. Nor is it sent back: the results page shows it masked, and its
next-page form carries it sealed (encrypted with a key only the console holds).
Every read goes through :class:`AuditService`, which refuses (and audits) any role but
``auditor``.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from cryptography.fernet import Fernet, InvalidToken
from multidict import MultiDictProxy

from hedui_sdk import IdType
from hedui_sdk.masking import mask_id_number
from verifier.domain import identifiers as ids
from verifier.domain.caller import Caller
from verifier.domain.errors import FieldViolation, InvalidArgument, PermissionDenied
from verifier.domain.vocabulary import AuditAction, Role
from verifier.service.auditing import EntryFilter
from verifier.web.entry_view import describe
from verifier.web.guard import current, page_context, streamed
from verifier.web.services import SERVICES

SEALER: web.AppKey[Fernet] = web.AppKey("search_sealer", Fernet)
# A sealed ID number outlives its page no longer than a session could.
_SEALED_SECONDS = 24 * 3600
_SEQ = re.compile(r"0|[1-9][0-9]{0,15}", re.ASCII)
_NEIGHBOURS = 3
_PAGE = 50
ID_TYPES = {
    IdType.RESIDENT_ID.value: "居民身份证",
    IdType.PASSPORT.value: "护照",
    IdType.HK_MACAO_PERMIT.value: "港澳居民证件",
    IdType.TAIWAN_PERMIT.value: "台湾居民证件",
    IdType.FOREIGN_PERMANENT_RESIDENT.value: "外国人永久居留身份证",
}


def _auditor(caller: Caller) -> None:
    # Pages that show no log data still say no to other roles at once; every read of
    # the log itself is refused and audited by the use case.
    if caller.role != Role.AUDITOR:
        raise PermissionDenied("ROLE_NOT_ALLOWED", "only auditors may read the audit log")


def _seq(text: str, field: str) -> int:
    if not _SEQ.fullmatch(text) or int(text) > ids.SAFE_INTEGER_MAX:
        raise InvalidArgument([FieldViolation(field, "must be an audit seq (0 to 2^53-1)")])
    return int(text)


def _after_token(seq: int) -> str:
    """A page token naming "entries after ``seq``" (the format check_page_token accepts)."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode() if seq >= 0 else ""


def _date(form: MultiDictProxy[Any], name: str, out: list[FieldViolation]) -> date | None:
    text = str(form.get(name, "")).strip()
    return ids.check_date(text, name, out) if text else None


def _number(form: MultiDictProxy[Any], sealer: Fernet) -> str:
    """The ID number searched for: typed in, or carried sealed by a next-page form."""
    number = str(form.get("id_number", "")).strip().upper()
    sealed = str(form.get("sealed_subject", ""))
    if number or not sealed:
        return number
    try:
        return sealer.decrypt(sealed.encode("ascii"), ttl=_SEALED_SECONDS).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise InvalidArgument(
            [FieldViolation("sealed_subject", "is not a search of this console, or too old")]
        ) from None


def _filter(form: MultiDictProxy[Any], number: str) -> EntryFilter:
    out: list[FieldViolation] = []
    kind = str(form.get("id_type", IdType.RESIDENT_ID.value))
    id_type = IdType(kind) if kind in IdType._value2member_map_ else None
    subject = (id_type, number) if number else None
    text = {k: str(form.get(k, "")).strip() for k in ("actor_system", "actor_user", "case_id")}
    vid = str(form.get("verification_id", "")).strip()
    action = str(form.get("action", "")).strip()
    if action and action not in AuditAction._value2member_map_:
        out.append(FieldViolation("action", "must be one of the log's actions"))
    ids.check_entry_filter(
        out,
        today=datetime.now(UTC).date(),
        subject=subject,
        verification_id=vid,
        **text,
    )
    since = _date(form, "since", out)
    until = _date(form, "until", out)
    if out:
        raise InvalidArgument(out)
    return EntryFilter(
        subject=(id_type, number) if id_type is not None and number else None,
        verification_id=vid,
        action=action,
        since=datetime.combine(since, datetime.min.time(), UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
        if until
        else None,
        **text,
    )


async def search_page(request: web.Request) -> web.StreamResponse:
    _auditor(await current(request))
    context = {
        "title": "审计日志查询",
        "actions": [a.value for a in AuditAction],
        "id_types": ID_TYPES,
        "form": {},
        "subject_masked": "",
        "searched": False,
    }
    return aiohttp_jinja2.render_template(
        "audit_search.html", request, await page_context(request, context)
    )


async def search(request: web.Request) -> web.StreamResponse:
    caller = await current(request)
    form = await request.post()
    sealer = request.app[SEALER]
    number = _number(form, sealer)
    flt = _filter(form, number)
    token = str(form.get("page_token", ""))
    page = await request.app[SERVICES].auditing.query(
        caller, flt, page_size=_PAGE, page_token=token
    )
    # The ID number is never echoed back: not refilled, not in the next-page form.
    hidden = ("csrf", "page_token", "id_number", "sealed_subject")
    shown = {k: v for k, v in form.items() if k not in hidden}
    context = {
        "title": "审计日志查询",
        "actions": [a.value for a in AuditAction],
        "id_types": ID_TYPES,
        "form": shown,
        "subject_masked": mask_id_number(number) if number else "",
        "sealed_subject": sealer.encrypt(number.encode("ascii")).decode("ascii")
        if number and page.next_page_token
        else "",
        "entries": [describe(e.seq, e.body) for e in page.entries],
        "next_page_token": page.next_page_token,
        "searched": True,
    }
    return aiohttp_jinja2.render_template(
        "audit_search.html", request, await page_context(request, context)
    )


async def entry_page(request: web.Request) -> web.StreamResponse:
    """One entry among its neighbours; its script checks the proof against the pinned key."""
    caller = await current(request)
    seq = _seq(request.match_info["seq"], "seq")
    auditing = request.app[SERVICES].auditing
    page = await auditing.query(
        caller,
        EntryFilter(),
        page_size=2 * _NEIGHBOURS + 1,
        page_token=_after_token(seq - _NEIGHBOURS - 1),
    )
    rows = [describe(e.seq, e.body) for e in page.entries]
    entry = next((r for r in rows if r.seq == seq), None)
    if entry is None:
        raise web.HTTPNotFound(text="no such audit entry")
    context = {
        "title": f"审计条目 #{seq}",
        "entry": entry,
        "neighbours": rows,
        "server_key": auditing.verifier_key,
    }
    return aiohttp_jinja2.render_template(
        "audit_entry.html", request, await page_context(request, context)
    )


async def proof(request: web.Request) -> web.StreamResponse:
    """What the browser needs to check the entry alone: its body, the audit path and a
    signed checkpoint covering it."""
    caller = await current(request)
    seq = _seq(request.match_info["seq"], "seq")
    p = await request.app[SERVICES].auditing.prove_inclusion(caller, seq)
    assert p.checkpoint is not None  # asked without a size: against a stored checkpoint

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return web.json_response(
        {
            "seq": p.seq,
            "tree_size": p.tree_size,
            "body": b64(p.body),
            "leaf_hash": b64(p.leaf_hash),
            "proof": [b64(h) for h in p.proof],
            "checkpoint": p.checkpoint.note.decode("utf-8"),
        }
    )


async def consistency(request: web.Request) -> web.StreamResponse:
    """The proof that the tree of ``new`` extends the tree of ``old``: the checkpoint
    page's script checks it between neighbouring checkpoints, against the roots their
    signed notes carry (the server's roots are not sent, so not trusted)."""
    caller = await current(request)
    old = _seq(request.match_info["old"], "old_size")
    new = _seq(request.match_info["new"], "new_size")
    if new == 0 or new < old:
        raise InvalidArgument([FieldViolation("new_size", "must be at least 1 and old_size")])
    p = await request.app[SERVICES].auditing.prove_consistency(caller, old, new)
    return web.json_response(
        {
            "old_size": p.old_size,
            "new_size": p.new_size,
            "proof": [base64.b64encode(h).decode() for h in p.proof],
        }
    )


async def export_page(request: web.Request) -> web.StreamResponse:
    _auditor(await current(request))
    context = {"title": "导出审计日志"}
    return aiohttp_jinja2.render_template(
        "audit_export.html", request, await page_context(request, context)
    )


async def export(request: web.Request) -> web.StreamResponse:
    """JSON lines of a seq range with proofs, as ``hedui audit export`` writes them."""
    caller = await current(request)
    form = await request.post()
    start = _seq(str(form.get("start_seq", "")).strip(), "start_seq")
    end_text = str(form.get("end_seq", "")).strip()
    end = _seq(end_text, "end_seq") if end_text else 0
    if end and end <= start:
        raise InvalidArgument([FieldViolation("end_seq", "must be more than start_seq")])
    lines = await request.app[SERVICES].auditing.export(caller, start, end)
    name = f"hedui-audit-{start}-{end or 'now'}.jsonl"
    response = streamed(
        "application/x-ndjson", **{"Content-Disposition": f'attachment; filename="{name}"'}
    )
    await response.prepare(request)
    async for line in lines:
        await response.write(line)
    await response.write_eof()
    return response


async def checkpoints_page(request: web.Request) -> web.StreamResponse:
    caller = await current(request)
    auditing = request.app[SERVICES].auditing
    history = await auditing.checkpoint_history(caller, limit=100)
    context = {
        "title": "签名检查点",
        "checkpoints": history,
        "server_key": auditing.verifier_key,
    }
    return aiohttp_jinja2.render_template(
        "audit_checkpoints.html", request, await page_context(request, context)
    )


def routes(app: web.Application) -> None:
    app.router.add_get("/audit", search_page)
    app.router.add_post("/audit/search", search)
    app.router.add_get("/audit/entries/{seq}", entry_page)
    app.router.add_get("/audit/entries/{seq}/proof", proof)
    app.router.add_get("/audit/export", export_page)
    app.router.add_post("/audit/export", export)
    app.router.add_get("/audit/checkpoints", checkpoints_page)
    app.router.add_get("/audit/consistency/{old}/{new}", consistency)
