"""`hedui federation peers | trust | revoke | test` against the configured database (on
both databases) and a real peer: a second hedui server with its own database and its
own PKI, reached over mTLS with the peer's CA and this deployment's client certificate.
Nothing is trusted until `trust`; `revoke` is refused on the next `test`; each is an
audit entry; a peer whose pinned key is not in its JWKS cannot be trusted."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.app_sql import audit_bodies_at
from tests.helpers import make_app
from tests.served import ServedStack
from verifier.api.tls import server_credentials
from verifier.bootstrap import serve_app
from verifier.cli.certs import PkiLayout, init_pki
from verifier.signing.jwks import dumps_jwks, key_id
from verifier.storage.migrate import upgrade

HERE = "hedui-gaoqing"
PEER = "hedui-linzi"


@dataclass
class Deployments:
    config: Path
    database_url: str
    peer: ServedStack
    peer_kid: str


def _toml(**tables: Mapping[str, object]) -> str:
    lines: list[str] = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
async def deployments(
    database_url: str, keys_dir: Path, tmp_path: Path
) -> AsyncIterator[Deployments]:
    # Two PKIs: ours signs the client certificate we present; the peer's signs its server's.
    ours: PkiLayout = init_pki(tmp_path / "pki-here", systems=(HERE,)).layout
    theirs: PkiLayout = init_pki(tmp_path / "pki-peer", systems=()).layout
    peer_url = f"sqlite:///{tmp_path}/peer.db"
    upgrade(peer_url)
    app = await make_app(peer_url, tmp_path / "peer-keys", {})
    creds = server_credentials(theirs.server.cert, theirs.server.key, ours.ca.cert)
    peer = ServedStack(app, await serve_app(app, "127.0.0.1:0", credentials=creds))
    jwks = tmp_path / "peer-jwks.json"
    jwks.write_text(dumps_jwks(app.keys.verifying_keys("signing")))
    kid = key_id(app.keys.verifying_keys("signing")[0])
    config = tmp_path / "hedui.toml"
    config.write_text(
        _toml(
            database={"url": database_url},
            keys={"dir": str(keys_dir)},
            federation={
                "client_cert": str(ours.client(HERE).cert),
                "client_key": str(ours.client(HERE).key),
                "regions": ["370322"],
            },
            **{
                f"federation.peers.{PEER}": {
                    "regions": ["370305"],
                    "endpoint": f"localhost:{peer.server.port}",
                    "ca": str(theirs.ca.cert),
                    "jwks": str(jwks),
                    "key_ids": [kid],
                    "purposes": ["dibao"],
                    "sources": ["tax"],
                    "asks_sources": ["social_insurance"],
                    "remote_sources": ["real_estate"],
                }
            },
        )
    )
    try:
        yield Deployments(config, database_url, peer, kid)
    finally:
        await peer.close()


async def _hedui(d: Deployments, *argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "verifier.cli.main", "--config", str(d.config), *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _audit_actions(database_url: str) -> list[tuple[str, str]]:
    bodies = await audit_bodies_at(database_url)
    return [(b["action"], b["details"].get("peer", "")) for b in bodies]


async def test_trust_test_and_revoke_a_real_peer(deployments: Deployments) -> None:
    d = deployments
    code, out = await _hedui(d, "federation", "peers")
    assert code == 0 and PEER in out and "not trusted" in out
    # What each side may ask of the other, and the regions answered here.
    row = next(line for line in out.splitlines() if PEER in line)
    assert "tax" in row and "social_insurance" in row and "real_estate*" in row
    assert "answers 协查 for: 370322" in out

    code, out = await _hedui(d, "federation", "test", PEER)
    assert code == 1, out
    assert "PEER_NOT_TRUSTED" in out
    # The endpoint answered over mTLS even so: only the trust is missing.
    assert "over mTLS: SERVING" in out

    code, out = await _hedui(d, "federation", "trust", PEER, "--operator", "ops-1")
    assert code == 0 and "trusted" in out, out
    code, out = await _hedui(d, "federation", "test", PEER)
    assert code == 0, out

    code, out = await _hedui(d, "federation", "revoke", PEER, "--operator", "ops-2")
    assert code == 0, out
    code, out = await _hedui(d, "federation", "test", PEER)
    assert code == 1 and "PEER_REVOKED" in out, out

    actions = await _audit_actions(d.database_url)
    assert actions[-2:] == [("federation_trust", PEER), ("federation_revoke", PEER)]


async def test_a_peer_whose_jwks_lacks_the_pinned_key_is_not_trusted(
    deployments: Deployments, tmp_path: Path
) -> None:
    d = deployments
    other = Ed25519PrivateKey.generate().public_key()
    (tmp_path / "peer-jwks.json").write_text(dumps_jwks([other]))
    code, out = await _hedui(d, "federation", "trust", PEER, "--operator", "ops-1")
    assert code == 1 and "lacks 1 pinned key id" in out, out
    assert await _audit_actions(d.database_url) == []


async def test_a_peer_presenting_a_certificate_of_another_ca_fails_the_test(
    deployments: Deployments, tmp_path: Path
) -> None:
    d = deployments
    stranger = init_pki(tmp_path / "pki-stranger", systems=()).layout
    d.config.write_text(d.config.read_text().replace(str(tmp_path / "pki-peer" / "ca.pem"),
                                                     str(stranger.ca.cert)))  # fmt: skip
    code, out = await _hedui(d, "federation", "test", PEER)
    assert code == 1 and "over mTLS: UNAVAILABLE" in out, out
