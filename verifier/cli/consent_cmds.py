"""`hedui consent register|revoke|show`, and the client connection shared with `check`."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import grpc
from hedui.v1 import consent_pb2
from rich.console import Console
from rich.table import Table

from verifier.api.channel import Connection
from verifier.api.client import Client, HouseholdFileError, consent_from_json
from verifier.api.tls import client_credentials
from verifier.cli.certs import PkiLayout
from verifier.cli.commands import Subparsers, command, group
from verifier.config import Config
from verifier.domain.vocabulary import Role

console = Console()
err = Console(stderr=True)
T = TypeVar("T")
C = TypeVar("C", bound=Connection)

STATE_LABELS = {
    consent_pb2.CONSENT_STATE_ACTIVE: "有效",
    consent_pb2.CONSENT_STATE_REVOKED: "已撤销",
    consent_pb2.CONSENT_STATE_EXPIRED: "已过期",
    consent_pb2.CONSENT_STATE_SUPERSEDED: "已被替代",
}


def add_client_arguments(p: argparse.ArgumentParser) -> None:
    """Where the server is and how to reach it: mTLS from a PKI directory by default."""
    p.add_argument("--server", default="127.0.0.1:50051")
    p.add_argument("--pki", default="var/pki", help="directory made by `hedui certs init`")
    p.add_argument("--system", default="local-case-system", help="client certificate to use")
    p.add_argument("--user", required=False, default="cli", help="the caseworker's user id")
    p.add_argument("--role", default=Role.CASEWORKER.value, choices=[r.value for r in Role])
    p.add_argument(
        "--insecure-plaintext",
        action="store_true",
        help="no TLS (development servers on loopback only)",
    )


def connect(args: argparse.Namespace, kind: type[C]) -> C:
    """A ``kind`` client to the server the arguments of :func:`add_client_arguments` name."""
    if args.insecure_plaintext:
        return kind(args.server, user=args.user, role=args.role, system=args.system)
    layout = PkiLayout(Path(args.pki))
    me = layout.client(args.system)
    creds = client_credentials(layout.ca.cert, me.cert, me.key)
    return kind(args.server, user=args.user, role=args.role, credentials=creds)


def client_for(args: argparse.Namespace) -> Client:
    return connect(args, Client)


def call(args: argparse.Namespace, work: Callable[[Client], Awaitable[T]]) -> T | None:
    async def run() -> T | None:
        async with client_for(args) as client:
            try:
                return await work(client)
            except grpc.aio.AioRpcError as exc:
                err.print(f"[red]{exc.code().name}[/]: {exc.details()}")
                return None

    return asyncio.run(run())


def show_consent(c: consent_pb2.Consent) -> None:
    t = Table(title=f"授权书 {c.number}（{c.region_code}）{STATE_LABELS.get(c.state, '')}")
    t.add_column("被授权人")
    t.add_column("证件号")
    t.add_column("关系")
    for s in c.subjects:
        t.add_row(s.name, s.id_number, str(s.relation))
    console.print(t)
    valid_from = f"{c.valid_from.year:04d}-{c.valid_from.month:02d}-{c.valid_from.day:02d}"
    u = c.valid_until
    until = f"{u.year:04d}-{u.month:02d}-{u.day:02d}" if c.HasField("valid_until") else "救助终止"
    sources = list(c.sources) or "全部"
    console.print(f"有效期 {valid_from} 至 {until}")
    console.print(f"用途 {list(c.purposes)}；来源 {sources}")
    console.print(f"凭证 SHA-256 {c.evidence_sha256[:16]}…，存放 {c.evidence_location}")
    for e in c.history:
        console.print(
            f"  {e.event_time.ToJsonString()} {e.event} {e.actor_system}/{e.actor_user} {e.detail}"
        )


def consent_register(_cfg: Config, args: argparse.Namespace) -> int:
    try:
        consent = consent_from_json(json.loads(Path(args.file).read_text()))
    except (OSError, json.JSONDecodeError, HouseholdFileError) as exc:
        err.print(f"[red]cannot read consent file[/]: {exc}")
        return 2
    resp = call(args, lambda c: c.register_consent(consent))
    if resp is None:
        return 1
    show_consent(resp.consent)
    if resp.superseded:
        console.print(f"superseded: {', '.join(resp.superseded)}")
    return 0


def consent_revoke(_cfg: Config, args: argparse.Namespace) -> int:
    c = call(args, lambda cl: cl.revoke_consent(args.number, args.reason))
    if c is None:
        return 1
    show_consent(c)
    return 0


def consent_show(_cfg: Config, args: argparse.Namespace) -> int:
    c = call(args, lambda cl: cl.get_consent(args.number))
    if c is None:
        return 1
    show_consent(c)
    return 0


def register(sub: Subparsers) -> None:
    """Add `consent register|revoke|show` to the `hedui` parser."""
    con = group(sub, "consent", "授权书 registry")
    r = command(
        con, "register", consent_register, "register a signed authorization from a JSON file"
    )
    r.add_argument("file")
    add_client_arguments(r)
    v = command(con, "revoke", consent_revoke, "revoke an authorization")
    v.add_argument("number")
    v.add_argument("--reason", required=True)
    add_client_arguments(v)
    s = command(con, "show", consent_show, "an authorization and its history (masked)")
    s.add_argument("number")
    add_client_arguments(s)
