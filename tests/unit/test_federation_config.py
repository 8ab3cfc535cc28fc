"""``[federation.peers.NAME]``: a peer is read whole and checked strictly; nothing is a
peer by default; a mistake names the key and never repeats the value."""

from __future__ import annotations

from typing import Any

import pytest

from hedui_sdk import SourceKind
from verifier.config import ConfigError, default_config, parse_config
from verifier.domain.request_model import Purpose

KID = "ab" * 32


def _peer(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "regions": ["370305"],
        "endpoint": "hedui.linzi.example:50051",
        "ca": "/etc/hedui/peers/linzi-ca.pem",
        "jwks": "/etc/hedui/peers/linzi-jwks.json",
        "key_ids": [KID],
        "purposes": ["dibao", "linshi"],
        "sources": ["tax", "real_estate"],
    }
    return {**base, **over}


def _config(**peers: dict[str, Any]) -> Any:
    return parse_config({"federation": {"peers": peers}})


def test_no_peer_is_configured_by_default() -> None:
    assert default_config().federation.peers == {}
    assert parse_config({}).federation.peers == {}


def test_a_peer_is_read_with_its_vocabulary_and_defaults() -> None:
    peer = _config(**{"hedui-linzi": _peer(remote_sources=["real_estate"])}).federation.peers[
        "hedui-linzi"
    ]
    assert peer.name == "hedui-linzi"
    assert peer.regions == ("370305",)
    assert peer.key_ids == (KID,)
    assert peer.purposes == (Purpose.DIBAO, Purpose.LINSHI)
    assert peer.sources == (SourceKind.TAX, SourceKind.REAL_ESTATE)
    assert peer.remote_sources == (SourceKind.REAL_ESTATE,)
    assert (peer.rate_per_minute, peer.deadline_working_days) == (60, 5)
    # Nothing of the peer's own sources may be asked unless the agreement names it.
    assert peer.asks_sources == ()
    assert [peer.may_ask(k) for k in (SourceKind.TAX, SourceKind.REAL_ESTATE)] == [False, True]


def test_what_this_side_may_ask_the_peer_is_read() -> None:
    peer = _config(p=_peer(asks_sources=["tax", "bank", "tax"])).federation.peers["p"]
    assert peer.asks_sources == (SourceKind.TAX, SourceKind.BANK)
    assert peer.may_ask(SourceKind.BANK) and not peer.may_ask(SourceKind.REAL_ESTATE)


def test_the_peer_serving_a_region_is_found() -> None:
    fed = _config(a=_peer(), b=_peer(regions=["341824"])).federation
    assert fed.peer_for_region("341824") is fed.peers["b"]
    assert fed.peer_for_region("370322") is None


@pytest.mark.parametrize(
    ("over", "where"),
    [
        ({"regions": ["070305"]}, "federation.peers.p.regions[0]"),
        ({"regions": []}, "federation.peers.p.regions"),
        ({"endpoint": "unix:/run/x"}, "federation.peers.p.endpoint"),
        ({"endpoint": "host:70000"}, "federation.peers.p.endpoint"),
        ({"key_ids": [KID.upper()]}, "federation.peers.p.key_ids[0]"),
        ({"key_ids": []}, "federation.peers.p.key_ids"),
        ({"purposes": ["loans"]}, "federation.peers.p.purposes"),
        ({"sources": ["gossip"]}, "federation.peers.p.sources"),
        ({"asks_sources": ["gossip"]}, "federation.peers.p.asks_sources"),
        ({"ca": ""}, "federation.peers.p.ca"),
        ({"rate_per_minute": 0}, "federation.peers.p.rate_per_minute"),
        ({"deadline_working_days": 61}, "federation.peers.p.deadline_working_days"),
        ({"colour": "red"}, "federation.peers.p.colour"),
    ],
)
def test_a_wrong_key_is_named_and_its_value_not_repeated(over: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(p=_peer(**over))
    message = str(caught.value)
    assert message.startswith(where), message
    for value in over.values():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and len(v) > 3:
                assert v not in message


def test_a_name_that_cannot_be_a_certificate_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="the name must be"):
        _config(**{"linzi peer": _peer()})


def test_two_peers_cannot_serve_one_region() -> None:
    with pytest.raises(ConfigError, match="370305 is also a's"):
        _config(a=_peer(), b=_peer(regions=["341824", "370305"]))


def test_the_client_certificate_for_calling_peers_comes_with_its_key() -> None:
    fed = parse_config(
        {"federation": {"client_cert": "/etc/hedui/fed.pem", "client_key": "/etc/hedui/fed.key"}}
    ).federation
    assert str(fed.client_cert) == "/etc/hedui/fed.pem"
    with pytest.raises(ConfigError, match=r"federation\.client_key: client_cert and client_key"):
        parse_config({"federation": {"client_cert": "/etc/hedui/fed.pem"}})


def test_the_peer_audit_key_must_be_a_verifier_key() -> None:
    key = "hedui-linzi+0a1b2c3d+AUdlrBYmXe+oEZ8WQ1zEAOz2e6IvGUD3NMuiKz9nV2tC"
    peer = _config(p=_peer(audit_key=key)).federation.peers["p"]
    assert peer.audit_key == key
    with pytest.raises(ConfigError, match=r"federation\.peers\.p\.audit_key"):
        _config(p=_peer(audit_key="not a key"))


def test_how_often_peers_are_asked_again_is_read_and_bounded() -> None:
    assert parse_config({}).federation.retry_interval_seconds == 30.0
    fed = parse_config({"federation": {"retry_interval_seconds": 5}}).federation
    assert fed.retry_interval_seconds == 5.0
    with pytest.raises(ConfigError) as caught:
        parse_config({"federation": {"retry_interval_seconds": 0}})
    assert "retry_interval_seconds" in str(caught.value)


def test_the_regions_this_deployment_serves_are_read_and_none_is_a_peers() -> None:
    fed = parse_config(
        {"federation": {"regions": ["370303", "370303"], "peers": {"p": _peer()}}}
    ).federation
    assert fed.regions == ("370303",)
    assert _config(p=_peer()).federation.regions == ()
    with pytest.raises(ConfigError) as caught:
        parse_config({"federation": {"regions": ["370305"], "peers": {"p": _peer()}}})
    assert "federation.regions: region 370305 is also the peer p's" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_config({"federation": {"regions": ["070305"]}})
    assert "federation.regions[0]" in str(caught.value)
