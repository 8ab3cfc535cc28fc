"""Trust in federation peers: none by default; trusting pins the agreement's key ids
(which the peer's JWKS must publish) and is audited; a revoked peer is refused on the
next check; an agreement whose keys changed must be trusted again."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import SourceKind
from tests.fakes import InMemoryStore
from verifier.domain.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.request_model import Purpose
from verifier.service.federation.peers import PeerTrustService
from verifier.signing.jwks import PublicKey, key_id

KEY = Ed25519PrivateKey.generate().public_key()
KID = key_id(KEY)


def _peer(**over: object) -> PeerConfig:
    base = PeerConfig(
        name="hedui-linzi", regions=("370305",), endpoint="127.0.0.1:1", ca=Path("ca.pem"),
        jwks=Path("jwks.json"), key_ids=(KID,), purposes=(Purpose.DIBAO,),
        sources=(SourceKind.TAX,),
    )  # fmt: skip
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


def _published(_peer: PeerConfig) -> Mapping[str, PublicKey]:
    return {KID: KEY}


def _service(store: InMemoryStore, peer: PeerConfig | None = None) -> PeerTrustService:
    fed = FederationConfig(peers={"hedui-linzi": peer or _peer()})
    return PeerTrustService(store, fed, _published)


async def _reason(svc: PeerTrustService) -> str:
    with pytest.raises(PermissionDenied) as caught:
        await svc.trusted("hedui-linzi")
    return caught.value.reason


async def test_a_configured_peer_is_not_trusted_until_an_operator_trusts_it() -> None:
    store = InMemoryStore()
    svc = _service(store)
    assert await _reason(svc) == "PEER_NOT_TRUSTED"
    assert [s.state for s in await svc.list()] == ["not trusted"]
    trust = await svc.trust("hedui-linzi", "ops-1")
    assert trust.key_ids == (KID,)
    assert (await svc.trusted("hedui-linzi")).name == "hedui-linzi"
    entry = store.tables.audit[-1].body
    assert entry["action"] == "federation_trust"
    assert entry["actor"]["user"] == "ops-1"
    assert entry["details"] == {"peer": "hedui-linzi", "key_ids": [KID]}


async def test_a_revoked_peer_is_refused_at_once_and_the_revocation_audited() -> None:
    store = InMemoryStore()
    svc = _service(store)
    await svc.trust("hedui-linzi", "ops-1")
    await svc.revoke("hedui-linzi", "ops-2")
    assert await _reason(svc) == "PEER_REVOKED"
    assert store.tables.audit[-1].body["action"] == "federation_revoke"
    assert [s.state for s in await svc.list()] == ["revoked"]


async def test_an_unconfigured_peer_is_refused_and_cannot_be_trusted() -> None:
    svc = _service(InMemoryStore())
    with pytest.raises(PermissionDenied) as caught:
        await svc.trusted("hedui-jixi")
    assert caught.value.reason == "PEER_NOT_CONFIGURED"
    with pytest.raises(NotFound):
        await svc.trust("hedui-jixi", "ops-1")
    with pytest.raises(NotFound):
        await svc.revoke("hedui-jixi", "ops-1")


async def test_an_agreement_with_other_keys_must_be_trusted_again() -> None:
    store = InMemoryStore()
    await _service(store).trust("hedui-linzi", "ops-1")
    other = Ed25519PrivateKey.generate().public_key()
    changed = _peer(key_ids=(key_id(other),))
    svc = PeerTrustService(
        store, FederationConfig(peers={"hedui-linzi": changed}), lambda _p: {key_id(other): other}
    )
    assert await _reason(svc) == "PEER_KEYS_CHANGED"
    assert [s.state for s in await svc.list()] == ["trusted, keys changed since (trust again)"]


async def test_a_pinned_key_the_peer_does_not_publish_cannot_be_trusted() -> None:
    store = InMemoryStore()
    svc = _service(store, _peer(key_ids=(KID, "c" * 64)))
    with pytest.raises(FailedPrecondition, match="lacks 1 pinned key id"):
        await svc.trust("hedui-linzi", "ops-1")
    assert store.tables.audit == [] and store.tables.peers == {}


async def test_the_operator_is_named_by_a_plain_name() -> None:
    svc = _service(InMemoryStore())
    with pytest.raises(InvalidArgument) as caught:
        await svc.trust("hedui-linzi", "370305199001011234")
    assert caught.value.violations[0].field == "operator"
