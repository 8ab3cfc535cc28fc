"""`hedui federation peers | trust | revoke | test`: the deployments this one works with
on cross-region checks (异地协查).

A peer is configured in ``[federation.peers.NAME]``; it is trusted only once an operator
runs ``trust`` (which pins the key ids its agreement names, and is an audit entry), and
``revoke`` ends that at once. ``test`` checks what can be checked from here without
asking about anyone: the pinned keys are in the peer's JWKS, the trust state, and that
its endpoint answers a health check over mTLS with the peer's CA and this deployment's
client certificate.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console
from rich.table import Table

from verifier.api.tls import client_credentials
from verifier.bootstrap import open_federation, peer_published_keys
from verifier.cli.commands import Subparsers, command, group
from verifier.config import Config, ConfigError, PeerConfig
from verifier.domain.errors import DomainError
from verifier.service.federation.peers import PeerTrustService

console = Console()
err = Console(stderr=True)
T = TypeVar("T")
HEALTH_TIMEOUT_SECONDS = 5.0


def _run(cfg: Config, work: Callable[[PeerTrustService], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_federation(cfg) as svc:
            return await work(svc)

    return asyncio.run(main())


def _fail(exc: DomainError) -> int:
    err.print(f"[red]refused[/]: {exc}")
    return 1


def _sources(peer: PeerConfig) -> str:
    """What the peer may have checked here."""
    return " ".join(k.value for k in peer.sources) or "—"


def _asked_there(peer: PeerConfig) -> str:
    """What this deployment may ask the peer about its members, then (marked *) what is
    asked only there."""
    asked = [
        *(k.value for k in peer.asks_sources if k not in peer.remote_sources),
        *(f"{k.value}*" for k in peer.remote_sources),
    ]
    return " ".join(asked) or "—"


def federation_peers(cfg: Config, _args: argparse.Namespace) -> int:
    statuses = _run(cfg, lambda svc: svc.list())
    if not statuses:
        console.print("no federation peer is configured")
        return 0
    t = Table(
        "peer", "regions", "endpoint", "state", "pinned keys", "purposes",
        "it may ask here", "we ask there",
    )  # fmt: skip
    for s in statuses:
        p = s.peer
        t.add_row(
            s.name,
            " ".join(p.regions) if p else "—",
            p.endpoint if p else "—",
            s.state,
            " ".join(k[:16] + "…" for k in (p.key_ids if p else ())),
            " ".join(p.purposes) if p else "—",
            _sources(p) if p else "—",
            _asked_there(p) if p else "—",
        )  # fmt: skip
    console.print(t)
    console.print("sources marked * are asked at the peer only")
    served = " ".join(cfg.federation.regions) or "none: every peer's ask is refused"
    console.print(f"regions this deployment answers 协查 for: {served}")
    return 0


def federation_trust(cfg: Config, args: argparse.Namespace) -> int:
    try:
        trust = _run(cfg, lambda svc: svc.trust(args.name, args.operator))
    except DomainError as exc:
        return _fail(exc)
    console.print(
        f"[green]trusted[/] {trust.name}, pinned key ids: "
        + ", ".join(k[:16] + "…" for k in trust.key_ids)
    )
    return 0


def federation_revoke(cfg: Config, args: argparse.Namespace) -> int:
    try:
        trust = _run(cfg, lambda svc: svc.revoke(args.name, args.operator))
    except DomainError as exc:
        return _fail(exc)
    console.print(f"[yellow]revoked[/] {trust.name}: its calls are refused from now on")
    return 0


async def _health(cfg: Config, peer: PeerConfig) -> str | None:
    """None if the peer's endpoint answers SERVING over mTLS; otherwise why not."""
    fed = cfg.federation
    if fed.client_cert is None or fed.client_key is None:
        return "no [federation] client_cert/client_key to present"
    creds = client_credentials(peer.ca, fed.client_cert, fed.client_key)
    async with grpc.aio.secure_channel(peer.endpoint, creds) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            answer = await stub.Check(
                health_pb2.HealthCheckRequest(), timeout=HEALTH_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            return f"{exc.code().name}: {exc.details()}"
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        return f"health is {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}"
    return None


def federation_test(cfg: Config, args: argparse.Namespace) -> int:
    peer = cfg.federation.peers.get(args.name)
    if peer is None:
        err.print(f"[red]no federation peer {args.name!r} is configured[/]")
        return 1
    failures = 0

    def line(ok: bool, what: str) -> None:
        nonlocal failures
        failures += not ok
        console.print(f"{'[green]ok[/]  ' if ok else '[red]FAIL[/]'} {what}")

    try:
        published = peer_published_keys(peer)
        missing = [k for k in peer.key_ids if k not in published]
        line(not missing, f"pinned keys in its JWKS ({len(peer.key_ids) - len(missing)}/"
             f"{len(peer.key_ids)})")  # fmt: skip
    except ConfigError as exc:
        line(False, str(exc))
    try:
        _run(cfg, lambda svc: svc.trusted(peer.name))
        line(True, "trusted")
    except DomainError as exc:
        line(False, f"trust: {getattr(exc, 'reason', '')} {exc}")
    try:
        problem = asyncio.run(_health(cfg, peer))
    except ConfigError as exc:
        problem = str(exc)
    line(problem is None, f"{peer.endpoint} over mTLS: {problem or 'SERVING'}")
    return 0 if failures == 0 else 1


def register(sub: Subparsers) -> None:
    """``hedui federation …``."""
    fed = group(sub, "federation", "peer deployments for cross-region checks (异地协查)")
    command(fed, "peers", federation_peers, "the configured peers and whether each is trusted")
    for name, fn, help_ in (
        ("trust", federation_trust, "trust a configured peer, pinning its agreement's key ids"),
        ("revoke", federation_revoke, "revoke a peer's trust; its calls are refused at once"),
    ):
        p = command(fed, name, fn, help_)
        p.add_argument("name", help="the peer's name ([federation.peers.NAME])")
        p.add_argument(
            "--operator",
            default=getpass.getuser(),
            help="who does this, for the audit entry (default: the login name)",
        )
    t = command(fed, "test", federation_test, "check a peer's keys, trust and endpoint")
    t.add_argument("name", help="the peer's name ([federation.peers.NAME])")
