"""``[console]`` and ``[console.oidc]``: the web console (``hedui console``) — where it
listens, how browsers reach it, the calling system its users act through, how long a
session lasts, and OpenID Connect sign-in. ``hedui console``'s options override them."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

from verifier.config.errors import Problem, between
from verifier.config.model import ConsoleConfig, ConsoleOidcConfig
from verifier.config.secrets import is_reference
from verifier.config.sections import Section
from verifier.domain.identifiers import ACTOR_SYSTEM

# host:port, IPv6 in brackets; port 0 takes a free one.
_HOST_PORT = re.compile(r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.\-]{1,253}):([0-9]{1,5})", re.ASCII)
_URL = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]{1,260}(?:/[!-~]{0,1024})?", re.ASCII)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}", re.ASCII)
_CLAIM = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}", re.ASCII)


def _listen(value: str) -> str:
    m = _HOST_PORT.fullmatch(value)
    if m is None or int(m.group(1)) > 65535:
        raise Problem("must be HOST:PORT (port 0 to 65535)")
    return value


def _url(value: str) -> str:
    if value and not _URL.fullmatch(value):
        raise Problem("must be an http:// or https:// URL")
    return value


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def oidc_url_problem(value: str) -> str | None:
    """Why ``value`` may not be an OpenID Connect issuer or endpoint URL, or None.

    Tokens, client secrets and the keys that check ID tokens travel over these, so they
    must be ``https://``; plain ``http://`` only to this machine (a loopback host).
    """
    if _URL.fullmatch(value):
        try:
            parts = urlsplit(value)
            host = parts.hostname or ""
        except ValueError:  # e.g. an unclosed IPv6 bracket
            parts, host = None, ""
        if parts is not None and host and (parts.scheme == "https" or _loopback(host)):
            return None
    return "must be an https:// URL (http:// only to a loopback host)"


def _issuer(value: str) -> str:
    problem = oidc_url_problem(value)
    if problem is not None:
        raise Problem(problem)
    return value


def _system(value: str) -> str:
    if value and ACTOR_SYSTEM.problem(value) is not None:
        raise Problem(f"must be {ACTOR_SYSTEM.rule}")
    return value


def _client_id(value: str) -> str:
    if not _CLIENT_ID.fullmatch(value):
        raise Problem("must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return value


def _secret(value: str) -> str:
    if value and not is_reference(value, ("env", "file")):
        raise Problem("must be env:NAME or file:PATH")
    return value


def _claim(value: str) -> str:
    if not _CLAIM.fullmatch(value):
        raise Problem("must be a claim name (1-64 characters of A-Z a-z 0-9 _ . : -)")
    return value


class ConsoleOidcSection(Section):
    """``[console.oidc]``: sign-in through the organisation's OpenID provider; the role
    and the regions come from the ID token's claims."""

    issuer: Annotated[str, AfterValidator(_issuer)]
    client_id: Annotated[str, AfterValidator(_client_id)]
    client_secret: Annotated[str, AfterValidator(_secret)] = ""
    role_claim: Annotated[str, AfterValidator(_claim)] = "hedui_role"
    regions_claim: Annotated[str, AfterValidator(_claim)] = "hedui_regions"
    user_claim: Annotated[str, AfterValidator(_claim)] = "preferred_username"


class ConsoleSection(Section):
    """``[console]``."""

    listen: Annotated[str, AfterValidator(_listen)] = ConsoleConfig.listen
    public_url: Annotated[str, AfterValidator(_url)] = ""
    system: Annotated[str, AfterValidator(_system)] = ""
    session_minutes: Annotated[int, between(5, 24 * 60)] = ConsoleConfig.session_minutes
    link_minutes: Annotated[int, between(1, 24 * 60)] = ConsoleConfig.link_minutes
    oidc: ConsoleOidcSection | None = None


def console_config(section: ConsoleSection) -> ConsoleConfig:
    oidc = section.oidc
    return ConsoleConfig(
        listen=section.listen,
        public_url=section.public_url,
        system=section.system,
        session_minutes=section.session_minutes,
        link_minutes=section.link_minutes,
        oidc=ConsoleOidcConfig(**oidc.model_dump()) if oidc is not None else None,
    )
