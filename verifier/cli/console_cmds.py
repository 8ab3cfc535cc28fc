"""`hedui console`: the web console for caseworkers, reviewers and auditors.

It serves plain HTTP: on loopback as is, anywhere else only behind a TLS-terminating
proxy, said by an ``https`` ``--public-url`` (which also makes the session cookie
Secure). Sign-in is a one-time link printed at start (the embedded default) or OpenID
Connect (``--oidc-issuer``).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier.bootstrap import App, build_app
from verifier.cli.commands import Subparsers, command
from verifier.config import Config, ConfigError, Principal
from verifier.config.console_section import oidc_url_problem
from verifier.config.model import ConsoleOidcConfig
from verifier.config.secrets import resolve_secret
from verifier.domain.identifiers import ACTOR_USER
from verifier.signing.jwks import key_id
from verifier.web.app import make_console
from verifier.web.services import ConsoleServices
from verifier.web.settings import (
    DEFAULT_CONSOLE_LISTEN,
    ConsoleSettings,
    OidcSettings,
    SignInLink,
)


@dataclass
class RunningConsole:
    runner: web.AppRunner
    port: int
    link_url: str
    """The one-time sign-in URL (empty under OpenID Connect)."""

    async def stop(self) -> None:
        await self.runner.cleanup()


def console_services(app: App) -> ConsoleServices:
    if app.listing is None or app.auditing is None:
        raise ConfigError("the console needs the listing and audit use cases")
    keys = app.keys

    def trusted() -> dict[str, Ed25519PublicKey]:
        return {key_id(k): k for k in keys.public_keys("signing")}

    return ConsoleServices(
        verifications=app.service,
        listing=app.listing,
        auditing=app.auditing,
        trusted_keys=trusted,
    )


def principal_for(cfg: Config, system: str) -> Principal:
    principal = cfg.principals.get(system)
    if principal is None:
        raise ConfigError(f"--system {system!r} is not a configured principal")
    return principal


def check_settings(settings: ConsoleSettings, principal: Principal, host: str) -> None:
    """Refuse what would be unsafe or could never sign anyone in."""
    if not 5 * 60 <= settings.session_seconds <= 24 * 3600:
        raise ConfigError("--session-minutes must be 5 to 1440")
    if settings.oidc is not None and (problem := oidc_url_problem(settings.oidc.issuer)):
        raise ConfigError(f"--oidc-issuer {problem}")
    if settings.link is not None:
        if not 60 <= settings.link.seconds <= 24 * 3600:
            raise ConfigError("--link-minutes must be 1 to 1440")
        if ACTOR_USER.problem(settings.link.user) is not None:
            raise ConfigError("--user must be 1-64 characters of A-Z a-z 0-9 . _ @ -")
        if settings.link.role not in principal.roles:
            raise ConfigError(f"--role {settings.link.role!r} is not a role of {principal.system}")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not settings.secure_cookies:
        raise ConfigError(
            "the console serves plain HTTP: listen on loopback, or behind a TLS proxy"
            " with an https --public-url"
        )


async def start_console(
    app: App, settings: ConsoleSettings, listen: str = DEFAULT_CONSOLE_LISTEN
) -> RunningConsole:
    """Serve the console for a built app on ``listen`` (port 0: a free one)."""
    host, _, port_text = listen.rpartition(":")
    principal = principal_for(app.config, settings.system)
    check_settings(settings, principal, host)
    # Bound first, so a console on a free port knows its own URL (forms' Origin check,
    # OIDC redirects) before it is built.
    sock = socket.create_server((host, int(port_text)))
    port = sock.getsockname()[1]
    if not settings.public_url:
        settings = replace(settings, public_url=f"http://{host}:{port}")
    web_app, link = make_console(
        settings, console_services(app), principal, app.keys.pseudonym_key()
    )
    # No access log: a sign-in link's path is a credential.
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    base = settings.public_url.rstrip("/")
    return RunningConsole(runner, port, f"{base}{link.path}" if link else "")


def _oidc(cfg: Config, args: argparse.Namespace) -> OidcSettings | None:
    """``[console.oidc]`` with the options given over it; None without an issuer."""
    base = cfg.console.oidc or ConsoleOidcConfig(issuer="", client_id="hedui-console")
    issuer = args.oidc_issuer or base.issuer
    if not issuer:
        return None
    problem = oidc_url_problem(issuer)
    if problem is not None:
        raise ConfigError(f"--oidc-issuer {problem}")
    ref = args.oidc_client_secret or base.client_secret
    return OidcSettings(
        issuer=issuer,
        client_id=args.oidc_client_id or base.client_id,
        client_secret=resolve_secret(ref, "console.oidc.client_secret").reveal() if ref else "",
        role_claim=args.oidc_role_claim or base.role_claim,
        regions_claim=args.oidc_regions_claim or base.regions_claim,
        user_claim=args.oidc_user_claim or base.user_claim,
    )


def settings_from(cfg: Config, args: argparse.Namespace) -> ConsoleSettings:
    """The console's settings: ``[console]`` with the command's options over it."""
    only = next(iter(cfg.principals)) if len(cfg.principals) == 1 else ""
    system = args.system or cfg.console.system or only
    if not system:
        raise ConfigError("--system is required when several principals are configured")
    oidc = _oidc(cfg, args)
    minutes = args.session_minutes or cfg.console.session_minutes
    link_minutes = args.link_minutes or cfg.console.link_minutes
    return ConsoleSettings(
        system=system,
        public_url=args.public_url or cfg.console.public_url,
        session_seconds=minutes * 60,
        link=None if oidc else SignInLink(args.user, args.role, link_minutes * 60),
        oidc=oidc,
    )


async def _serve(cfg: Config, args: argparse.Namespace, ready: Callable[[str], None]) -> None:
    settings = settings_from(cfg, args)
    app = await build_app(cfg)
    running = await start_console(app, settings, args.listen or cfg.console.listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ready(running.link_url or f"port {running.port} (OpenID Connect sign-in)")
    try:
        await stop.wait()
    finally:
        await running.stop()
        await app.aclose()


def console(cfg: Config, args: argparse.Namespace) -> int:
    def ready(where: str) -> None:
        print(f"hedui console: sign in at {where}", flush=True)

    asyncio.run(_serve(cfg, args, ready))
    return 0


def register(sub: Subparsers) -> None:
    """Add `console`; every option left out is taken from ``[console]``."""
    c = command(sub, "console", console, "serve the web console (caseworkers, auditors)")
    c.add_argument("--listen", default="", help="HOST:PORT (default 127.0.0.1:8700)")
    c.add_argument("--public-url", default="", help="how browsers reach it (https behind a proxy)")
    c.add_argument("--system", default="", help="the configured principal the console acts as")
    c.add_argument("--user", default="console-user", help="who the one-time link signs in")
    c.add_argument("--role", default="caseworker", help="the link's role")
    c.add_argument("--session-minutes", type=int, default=0, help="session length (default 480)")
    c.add_argument(
        "--link-minutes", type=int, default=0, help="how long the sign-in link is good (default 15)"
    )
    c.add_argument("--oidc-issuer", default="", help="OpenID Connect issuer URL")
    c.add_argument("--oidc-client-id", default="")
    c.add_argument("--oidc-client-secret", default="", help="env:NAME or file:PATH")
    c.add_argument("--oidc-role-claim", default="")
    c.add_argument("--oidc-regions-claim", default="")
    c.add_argument("--oidc-user-claim", default="")
