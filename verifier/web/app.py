"""The console application: routes, templates, sessions and the security middleware."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from verifier.config import Principal
from verifier.domain.caller import Caller
from verifier.web import audit_pages, cases, printout_check, report_pages, signin
from verifier.web.guard import SETTINGS, security
from verifier.web.oidc import OidcClient
from verifier.web.services import SERVICES, ConsoleServices
from verifier.web.settings import ConsoleSettings

_HERE = Path(__file__).parent
COOKIE = "hedui_console"


def session_key(secret: bytes) -> bytes:
    """The cookie encryption key, derived from a deployment secret so every replica
    opens every other's sessions (and a restart keeps them)."""
    return hmac.new(secret, b"hedui console sessions v1", hashlib.sha256).digest()


def make_console(
    settings: ConsoleSettings,
    services: ConsoleServices,
    principal: Principal,
    secret: bytes,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[web.Application, signin.OneTimeLink | None]:
    """The application, and the one-time sign-in link when ``settings.link`` asks for one
    (its expiry measured by ``clock``, monotonic seconds)."""
    app = web.Application(client_max_size=printout_check.MAX_UPLOAD)
    app[SETTINGS] = settings
    app[SERVICES] = services
    app[signin.PRINCIPAL] = principal
    search_key = hmac.new(secret, b"hedui console audit search v1", hashlib.sha256).digest()
    app[audit_pages.SEALER] = Fernet(base64.urlsafe_b64encode(search_key))
    setup_sessions(
        app,
        EncryptedCookieStorage(
            session_key(secret),
            cookie_name=COOKIE,
            max_age=settings.session_seconds,
            httponly=True,
            samesite="Lax",  # the OIDC callback is a cross-site navigation back to us
            secure=settings.secure_cookies,
        ),
    )
    app.middlewares.append(security)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        # Templates ship with the package: read once, not looked at again per request.
        auto_reload=False,
    )
    link = None
    if settings.link is not None:
        link = signin.OneTimeLink(
            Caller(principal.system, settings.link.user, settings.link.role, principal.regions),
            settings.link.seconds,
            clock,
        )
        app[signin.LINK] = link
    if settings.oidc is not None:
        redirect = settings.public_url.rstrip("/") + "/signin/oidc/callback"
        app[signin.OIDC] = OidcClient(settings.oidc, redirect)
    signin.routes(app)
    cases.routes(app)
    report_pages.routes(app)
    printout_check.routes(app)
    audit_pages.routes(app)
    app.router.add_static("/static", _HERE / "static", append_version=True)
    return app, link
