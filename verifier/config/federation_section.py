"""``[federation]`` and its ``[federation.peers.NAME]`` tables, checked strictly: a
peer's name is the common name of its certificates, its regions are 6-digit codes no
other peer claims, its pinned key ids are SHA-256 hex, and what it may ask for is named
from hedui's own vocabularies (purposes, sources)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from hedui_sdk import SourceKind
from verifier.config.errors import Problem, between
from verifier.config.sections import Section
from verifier.domain.identifiers import ACTOR_SYSTEM, REGION_CODE, SHA256_HEX
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.request_model import Purpose

# host:port, IPv6 in brackets (no unix sockets: a peer is elsewhere).
_ENDPOINT = re.compile(r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.\-]{1,253}):([0-9]{1,5})", re.ASCII)
_PURPOSES = sorted(p.value for p in Purpose)
_SOURCES = sorted(k.value for k in SourceKind)


def _endpoint(value: str) -> str:
    m = _ENDPOINT.fullmatch(value)
    if m is None or not 1 <= int(m.group(1)) <= 65535:
        raise Problem("must be HOST:PORT (port 1 to 65535)")
    return value


def _region_codes(codes: list[str]) -> list[str]:
    for i, code in enumerate(codes):
        if REGION_CODE.problem(code) is not None:
            raise Problem(f"must be {REGION_CODE.rule}", i)
    return list(dict.fromkeys(codes))


def _regions(codes: list[str]) -> list[str]:
    if not 1 <= len(codes) <= 64:
        raise Problem("1 to 64 region codes")
    return _region_codes(codes)


def _own_regions(codes: list[str]) -> list[str]:
    if len(codes) > 64:
        raise Problem("at most 64 region codes")
    return _region_codes(codes)


def _key_ids(kids: list[str]) -> list[str]:
    if not 1 <= len(kids) <= 8:
        raise Problem("1 to 8 pinned key ids")
    for i, kid in enumerate(kids):
        if SHA256_HEX.problem(kid) is not None:
            raise Problem("must be a key id (64 lowercase hex digits)", i)
    return list(dict.fromkeys(kids))


def _purposes(values: list[str]) -> list[str]:
    if not values or any(v not in _PURPOSES for v in values):
        raise Problem(f"one or more of {', '.join(_PURPOSES)}")
    return list(dict.fromkeys(values))


def _sources(values: list[str]) -> list[str]:
    if any(v not in _SOURCES for v in values):
        raise Problem(f"each one of {', '.join(_SOURCES)}")
    return list(dict.fromkeys(values))


# A C2SP signed-note verifier key: name+hash+base64 key, printable ASCII without spaces.
_VERIFIER_KEY = re.compile(r"[!-*,-~]{1,64}\+[0-9a-f]{8}\+[A-Za-z0-9+/=]{4,200}", re.ASCII)


def _audit_key(value: str) -> str:
    if value and _VERIFIER_KEY.fullmatch(value) is None:
        raise Problem("must be a signed-note verifier key (name+hash+key)")
    return value


def _path(value: str) -> str:
    if not value:
        raise Problem("must be set")
    return value


class PeerSection(Section):
    """``[federation.peers.NAME]``."""

    regions: Annotated[list[str], AfterValidator(_regions)]
    endpoint: Annotated[str, AfterValidator(_endpoint)]
    ca: Annotated[str, AfterValidator(_path)]
    jwks: Annotated[str, AfterValidator(_path)]
    key_ids: Annotated[list[str], AfterValidator(_key_ids)]
    purposes: Annotated[list[str], AfterValidator(_purposes)]
    sources: Annotated[list[str], AfterValidator(_sources)] = Field(default_factory=list)
    remote_sources: Annotated[list[str], AfterValidator(_sources)] = Field(default_factory=list)
    asks_sources: Annotated[list[str], AfterValidator(_sources)] = Field(default_factory=list)
    rate_per_minute: Annotated[int, between(1, 10_000)] = 60
    deadline_working_days: Annotated[int, between(1, 60)] = 5
    audit_key: Annotated[str, AfterValidator(_audit_key)] = ""


class FederationSection(Section):
    """``[federation]``: the peers this deployment may work with."""

    peers: dict[str, PeerSection] = Field(default_factory=dict)
    client_cert: str = ""
    client_key: str = ""
    retry_interval_seconds: Annotated[float, between(0.01, 3600)] = 30.0
    regions: Annotated[list[str], AfterValidator(_own_regions)] = Field(default_factory=list)

    @field_validator("peers", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        for name in value if isinstance(value, dict) else ():
            if ACTOR_SYSTEM.problem(name) is not None:
                raise Problem(f"the name must be {ACTOR_SYSTEM.rule}", name)
        return value

    @model_validator(mode="after")
    def _one_peer_per_region(self) -> FederationSection:
        seen: dict[str, str] = {}
        for name, peer in self.peers.items():
            for code in peer.regions:
                if code in seen:
                    raise Problem(f"region {code} is also {seen[code]}'s", name)
                if code in self.regions:
                    raise Problem(f"region {code} is also the peer {name}'s", "regions")
                seen[code] = name
        if bool(self.client_cert) != bool(self.client_key):
            raise Problem("client_cert and client_key go together", "client_key")
        return self


def federation_config(section: FederationSection) -> FederationConfig:
    """The checked tables as frozen values."""
    return FederationConfig(
        peers={
            name: PeerConfig(
                name=name,
                regions=tuple(p.regions),
                endpoint=p.endpoint,
                ca=Path(p.ca),
                jwks=Path(p.jwks),
                key_ids=tuple(p.key_ids),
                purposes=tuple(Purpose(v) for v in p.purposes),
                sources=tuple(SourceKind(v) for v in p.sources),
                remote_sources=tuple(SourceKind(v) for v in p.remote_sources),
                asks_sources=tuple(SourceKind(v) for v in p.asks_sources),
                rate_per_minute=p.rate_per_minute,
                deadline_working_days=p.deadline_working_days,
                audit_key=p.audit_key,
            )
            for name, p in section.peers.items()
        },
        client_cert=Path(section.client_cert) if section.client_cert else None,
        client_key=Path(section.client_key) if section.client_key else None,
        retry_interval_seconds=section.retry_interval_seconds,
        regions=tuple(section.regions),
    )
