"""What the console is told at start: where it listens, which calling system it acts as,
how long a session lasts, and how people sign in."""

from __future__ import annotations

from dataclasses import dataclass, field

from verifier.config.model import ConsoleConfig

# One default each, the configuration's ([console]).
DEFAULT_CONSOLE_LISTEN = ConsoleConfig.listen
DEFAULT_SESSION_SECONDS = ConsoleConfig.session_minutes * 60
DEFAULT_LINK_SECONDS = ConsoleConfig.link_minutes * 60


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """OpenID Connect sign-in (authorization code flow with PKCE).

    The role and the regions are taken from the ID token's ``role_claim`` and
    ``regions_claim``; both must lie within the console system's configured principal.
    """

    issuer: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    """Resolved secret value (from ``env:`` or ``file:``); kept out of ``repr`` and logs."""
    role_claim: str = "hedui_role"
    regions_claim: str = "hedui_regions"
    user_claim: str = "preferred_username"
    scopes: tuple[str, ...] = ("openid", "profile")


@dataclass(frozen=True, slots=True)
class SignInLink:
    """The embedded default: one sign-in link printed at start, good once and only for
    ``seconds`` after start, bound to a configured user and role."""

    user: str
    role: str
    seconds: int = DEFAULT_LINK_SECONDS


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    system: str
    """The calling system (a configured principal) the console's users act through."""
    public_url: str
    """How browsers reach the console, e.g. ``http://127.0.0.1:8700`` (OIDC redirects
    come back here; an ``https`` URL also makes the session cookie Secure)."""
    session_seconds: int = DEFAULT_SESSION_SECONDS
    link: SignInLink | None = None
    oidc: OidcSettings | None = None

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")
