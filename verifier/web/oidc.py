"""OpenID Connect sign-in: the authorization code flow with PKCE, state and nonce.

HTTP goes through aiohttp; joserfc checks the ID token (its signature against the
provider's JWKS, issuer, audience, expiry, nonce). The role and regions come from
configured claims and must lie within the console system's principal.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from verifier.config.console_section import oidc_url_problem
from verifier.domain.caller import Caller
from verifier.domain.errors import PermissionDenied, Unauthenticated
from verifier.domain.identifiers import ACTOR_USER
from verifier.web.settings import OidcSettings

_TIMEOUT = aiohttp.ClientTimeout(total=10)
_ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]
# Where the browser is sent, the code and client secret go, and the ID token's keys come
# from. Their hosts may differ from the issuer's (large providers split them); the TLS
# of the issuer's own https metadata vouches for them, so each must be https too.
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """What the browser's session keeps between the redirect out and the callback."""

    state: str
    nonce: str
    verifier: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier}


class OidcClient:
    """One provider, discovered once from ``{issuer}/.well-known/openid-configuration``."""

    def __init__(self, settings: OidcSettings, redirect_uri: str) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self._meta: dict[str, Any] | None = None

    async def _get(self, url: str) -> dict[str, Any]:
        # No redirects: one could lead off https.
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as http,
            http.get(url, allow_redirects=False) as resp,
        ):
            if resp.status != 200:
                raise Unauthenticated(f"the sign-in provider answered HTTP {resp.status}")
            doc: dict[str, Any] = await resp.json(content_type=None)
            return doc

    async def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            issuer = self.settings.issuer.rstrip("/")
            meta = await self._get(f"{issuer}/.well-known/openid-configuration")
            if meta.get("issuer", "").rstrip("/") != issuer:
                raise Unauthenticated("the sign-in provider names another issuer")
            for name in _ENDPOINTS:
                url = meta.get(name)
                problem = oidc_url_problem(url) if isinstance(url, str) else "is missing"
                if problem is not None:
                    raise Unauthenticated(f"the sign-in provider's {name} {problem}")
            self._meta = meta
        return self._meta

    async def start(self) -> tuple[str, PendingSignIn]:
        """The provider's authorization URL to send the browser to, and what to keep."""
        meta = await self.metadata()
        pending = PendingSignIn(
            secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": " ".join(self.settings.scopes),
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": create_s256_code_challenge(pending.verifier),  # type: ignore[no-untyped-call]
                "code_challenge_method": "S256",
            }
        )
        return f"{meta['authorization_endpoint']}?{query}", pending

    async def finish(self, pending: PendingSignIn, code: str) -> dict[str, Any]:
        """Exchange ``code`` for tokens and return the ID token's verified claims."""
        meta = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": pending.verifier,
        }
        auth = aiohttp.BasicAuth(self.settings.client_id, self.settings.client_secret)
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as http,
            http.post(meta["token_endpoint"], data=form, auth=auth, allow_redirects=False) as resp,
        ):
            if resp.status != 200:
                raise Unauthenticated(f"the sign-in provider refused the code (HTTP {resp.status})")
            tokens: dict[str, Any] = await resp.json(content_type=None)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated("the sign-in provider sent no ID token")
        keys = KeySet.import_key_set(await self._get(meta["jwks_uri"]))  # type: ignore[arg-type]
        try:
            token = jwt.decode(id_token, keys, algorithms=_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                now=int(time.time()),
                leeway=30,
                iss={"essential": True, "value": meta["issuer"]},
                aud={"essential": True, "value": self.settings.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": pending.nonce},
            ).validate(token.claims)
        except JoseError as exc:
            raise Unauthenticated(f"the ID token does not verify ({exc.error})") from None
        claims: dict[str, Any] = token.claims
        return dict(claims)


def caller_from_claims(
    settings: OidcSettings,
    system: str,
    roles: tuple[str, ...],
    regions: tuple[str, ...],
    claims: dict[str, Any],
) -> Caller:
    """The caller an ID token names, held to the console system's principal."""
    user = claims.get(settings.user_claim) or claims.get("sub")
    if not isinstance(user, str) or ACTOR_USER.problem(user) is not None:
        raise Unauthenticated(
            f"claim {settings.user_claim} must be 1-64 characters of A-Z a-z 0-9 . _ @ -"
        )
    role = claims.get(settings.role_claim)
    if not isinstance(role, str) or role not in roles:
        raise PermissionDenied(
            "ROLE_NOT_ALLOWED", f"claim {settings.role_claim} names no role of this console"
        )
    given = claims.get(settings.regions_claim)
    if isinstance(given, str):
        given = given.split()
    if not isinstance(given, list) or not given:
        raise PermissionDenied("OUT_OF_REGION", f"claim {settings.regions_claim} names no region")
    chosen: list[str] = []
    for code in given:
        if not isinstance(code, str) or not _region_prefix(code):
            raise PermissionDenied("OUT_OF_REGION", f"claim {settings.regions_claim} is malformed")
        if not any(code.startswith(p) for p in regions):
            raise PermissionDenied(
                "OUT_OF_REGION", "a region of the ID token is outside this console's"
            )
        chosen.append(code)
    return Caller(system=system, user=user, role=role, regions=tuple(chosen))


_PREFIX = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}", re.ASCII)


def _region_prefix(code: str) -> bool:
    """A GB/T 2260 prefix: province (2 digits), city (4) or county (6)."""
    return _PREFIX.fullmatch(code) is not None
