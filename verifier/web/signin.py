"""Signing in and out: the one-time link of the embedded default, and OpenID Connect.

The link's token is a credential: good once, for a limited time after start (15 minutes
unless configured), and only until the console stops; it is compared in constant time
and never logged. Sign-in events are logged with the user and role only.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable

import aiohttp_jinja2
import structlog
from aiohttp import web
from aiohttp_session import get_session

from verifier.config import Principal
from verifier.domain.caller import Caller
from verifier.domain.errors import Unauthenticated
from verifier.domain.vocabulary import Role
from verifier.web.guard import caller_of, page_context, sign_in
from verifier.web.oidc import OidcClient, PendingSignIn, caller_from_claims

log = structlog.get_logger("hedui.console")

PRINCIPAL: web.AppKey[Principal] = web.AppKey("principal", Principal)
LINK: web.AppKey[OneTimeLink] = web.AppKey("link")
OIDC: web.AppKey[OidcClient] = web.AppKey("oidc", OidcClient)
_PENDING = "oidc_pending"


class OneTimeLink:
    """A sign-in token, good once and for ``seconds`` from its making, bound to one caller.

    ``clock`` is monotonic seconds (a wall clock set back must not revive the link).
    """

    def __init__(
        self, caller: Caller, seconds: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.caller = caller
        self._clock = clock
        self._expires = clock() + seconds
        self._token: str | None = secrets.token_urlsafe(32)

    @property
    def path(self) -> str:
        return f"/signin/once/{self._token}" if self._token else ""

    def take(self, token: str) -> Caller | None:
        """The bound caller if ``token`` is the link's, unused and not expired; then it is
        gone. An expired link is gone too."""
        if self._clock() >= self._expires:
            self._token = None
        expected = self._token
        if expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
            return None
        self._token = None
        return self.caller


async def home(request: web.Request) -> web.StreamResponse:
    """Signed in: the caller's start page; otherwise the sign-in page."""
    caller = caller_of(await get_session(request))
    if caller is not None:
        raise web.HTTPSeeOther("/audit" if caller.role == Role.AUDITOR else "/checks")
    context = {"oidc": OIDC in request.app, "title": "登录"}
    return aiohttp_jinja2.render_template(
        "signin.html", request, await page_context(request, context)
    )


async def once(request: web.Request) -> web.StreamResponse:
    link = request.app.get(LINK)
    caller = link.take(request.match_info["token"]) if link is not None else None
    if caller is None:
        raise Unauthenticated("this sign-in link was used already, has expired or is not ours")
    await sign_in(request, caller)
    log.info("console sign-in", method="link", user=caller.user, role=caller.role)
    raise web.HTTPSeeOther("/")


async def oidc_start(request: web.Request) -> web.StreamResponse:
    client = request.app.get(OIDC)
    if client is None:
        raise web.HTTPNotFound()
    url, pending = await client.start()
    session = await get_session(request)
    session[_PENDING] = pending.as_dict()
    raise web.HTTPSeeOther(url)


async def oidc_callback(request: web.Request) -> web.StreamResponse:
    client = request.app.get(OIDC)
    if client is None:
        raise web.HTTPNotFound()
    session = await get_session(request)
    kept = session.pop(_PENDING, None)
    state = request.query.get("state", "")
    code = request.query.get("code", "")
    if (
        not isinstance(kept, dict)
        or not hmac.compare_digest(state.encode(), str(kept.get("state", "")).encode())
        or not code
    ):
        raise Unauthenticated("the sign-in answer does not belong to this browser's sign-in")
    pending = PendingSignIn(str(kept["state"]), str(kept["nonce"]), str(kept["verifier"]))
    claims = await client.finish(pending, code)
    principal = request.app[PRINCIPAL]
    caller = caller_from_claims(
        client.settings, principal.system, principal.roles, principal.regions, claims
    )
    await sign_in(request, caller)
    log.info("console sign-in", method="oidc", user=caller.user, role=caller.role)
    raise web.HTTPSeeOther("/")


async def sign_out(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther("/")


def routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/signin/once/{token}", once)
    app.router.add_get("/signin/oidc", oidc_start)
    app.router.add_get("/signin/oidc/callback", oidc_callback)
    app.router.add_post("/signout", sign_out)
