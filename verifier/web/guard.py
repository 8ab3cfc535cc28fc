"""Who is signed in, and the rules every request passes: sessions that expire, a CSRF
token on every form, strict security headers, and domain errors shown as pages.

The session lives in an encrypted, HttpOnly cookie (aiohttp-session); it holds the
signed-in caller, its expiry and its CSRF token, never personal data. Every POST must
carry the session's CSRF token (compared in constant time) and, when the browser sends
one, an ``Origin`` equal to the console's own.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from verifier.domain.caller import Caller
from verifier.domain.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from verifier.web.settings import ConsoleSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS: web.AppKey[ConsoleSettings] = web.AppKey("settings", ConsoleSettings)

# No inline script or style anywhere: scripts and styles are files under /static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Same-origin only: no URL leaves for another site, and form POSTs keep a real Origin
    # (under no-referrer browsers send "Origin: null", which the CSRF check refuses).
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Pages show personal data: nothing is kept in a shared or browser cache.
    "Cache-Control": "no-store",
}
_OPEN_PATHS = ("/static/", "/signin")


def streamed(content_type: str, **headers: str) -> web.StreamResponse:
    """A streamed answer (events, an export) with the security headers set before it
    starts: the middleware cannot add them to an answer already under way."""
    return web.StreamResponse(headers={**HEADERS, "Content-Type": content_type, **headers})


def caller_of(session: Session) -> Caller | None:
    """The signed-in caller, or ``None`` when nobody is or the session ran out."""
    who = session.get("who")
    if not isinstance(who, dict) or int(session.get("exp", 0)) <= time.time():
        return None
    return Caller(
        system=str(who["system"]),
        user=str(who["user"]),
        role=str(who["role"]),
        regions=tuple(str(r) for r in who["regions"]),
    )


async def sign_in(request: web.Request, caller: Caller) -> None:
    """A fresh session (a new cookie, so a planted one is never promoted) for ``caller``."""
    settings = request.app[SETTINGS]
    session = await new_session(request)
    session["who"] = {
        "system": caller.system,
        "user": caller.user,
        "role": caller.role,
        "regions": list(caller.regions),
    }
    session["exp"] = int(time.time()) + settings.session_seconds
    session["csrf"] = secrets.token_urlsafe(32)


async def current(request: web.Request) -> Caller:
    """The signed-in caller of this request (the middleware has made sure there is one)."""
    caller = caller_of(await get_session(request))
    if caller is None:
        raise Unauthenticated("not signed in")
    return caller


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.rstrip("/") == request.app[SETTINGS].public_url.rstrip("/")


@web.middleware
async def security(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers on every answer; sign-in required outside /static and /signin; CSRF on
    every POST; domain errors as pages with the matching status."""
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as exc:
        for name, value in HEADERS.items():
            exc.headers.setdefault(name, value)
        raise
    except DomainError as exc:
        response = await _error_page(request, exc)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = await get_session(request)
    open_path = request.path.startswith(_OPEN_PATHS) or request.path == "/"
    if caller_of(session) is None and not open_path:
        if session.get("who") is not None:
            session.invalidate()
        raise web.HTTPSeeOther("/")
    if request.method == "POST":
        form = await request.post()
        token = form.get("csrf")
        expected = session.get("csrf")
        if (
            not isinstance(token, str)
            or not isinstance(expected, str)
            or not hmac.compare_digest(token.encode(), expected.encode())
            or not _same_origin(request)
        ):
            raise web.HTTPForbidden(text="the form's CSRF token is missing or stale")
    return await handler(request)


_STATUS: tuple[tuple[type[DomainError], int, str], ...] = (
    (InvalidArgument, 400, "输入有误"),
    (Unauthenticated, 401, "请先登录"),
    (PermissionDenied, 403, "无权访问"),
    (NotFound, 404, "未找到"),
    (FailedPrecondition, 409, "暂不可用"),
    (Unavailable, 503, "服务暂不可用"),
)


async def _error_page(request: web.Request, exc: DomainError) -> web.StreamResponse:
    status, title = 500, "出错了"
    for kind, code, text in _STATUS:
        if isinstance(exc, kind):
            status, title = code, text
            break
    if status == 500:
        raise exc
    violations = exc.violations if isinstance(exc, InvalidArgument) else []
    context: dict[str, Any] = {
        "title": title,
        "message": "" if violations else str(exc),
        "violations": violations,
    }
    response = aiohttp_jinja2.render_template(
        "error.html", request, await page_context(request, context)
    )
    response.set_status(status)
    return response


async def page_context(request: web.Request, extra: dict[str, Any]) -> dict[str, Any]:
    """What every template is given: the caller (if any) and the CSRF token for forms."""
    caller = caller_of(await get_session(request))
    return {"caller": caller, "csrf": await csrf_token(request), **extra}
