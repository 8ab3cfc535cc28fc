"""Caller identity over mTLS, on a real grpc.aio server with a real app: who gets through
the handshake, and who the server then says is calling (the certificate, never the
metadata).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hedui.v1 import common_pb2
from hedui.v1 import verification_pb2 as pb
from sqlalchemy import text

from hedui_sdk import SourceKind
from tests import mtls_helpers
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, SPOUSE_ID, SYSTEM, make_app
from tests.mtls_helpers import OTHER, STRANGER
from verifier.api.client import Client
from verifier.api.server import RunningServer
from verifier.api.tls import client_credentials, server_credentials
from verifier.bootstrap import App, serve_app
from verifier.cli.certs import (
    Issued,
    PemPair,
    PkiLayout,
    issue_client,
    new_ca,
    read_pair,
    write_pair,
)
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import parse_jwks
from verifier.storage.uow import SqlStore

# The shared fixture, bound here so that pytest finds it for this module's tests.
pki = mtls_helpers.pki


class Stack:
    def __init__(self, app: App, server: RunningServer, pki: PkiLayout) -> None:
        self.app = app
        self.server = server
        self.pki = pki
        self.target = f"127.0.0.1:{server.port}"
        self.create_calls = 0

    def client(self, pair: PemPair | None, *, claim: str | None = None) -> Client:
        """A client presenting ``pair`` (or no certificate), optionally claiming a system
        by metadata the way a plaintext client would."""
        if pair is None:
            creds = grpc.ssl_channel_credentials(self.pki.ca.cert.read_bytes())
        else:
            creds = client_credentials(self.pki.ca.cert, pair.cert, pair.key)
        return Client(self.target, user="worker-1", system=claim, credentials=creds)

    async def count(self, table: str) -> int:
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            return int((await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())

    async def audit_systems(self) -> list[str]:
        assert isinstance(self.app.store, SqlStore)
        async with self.app.store.db.read_sessions() as s:
            rows = await s.execute(text("SELECT actor_system FROM audit_entries ORDER BY seq"))
            return [r[0] for r in rows]


@pytest.fixture
async def stack(database_url: str, keys_dir: Path, pki: PkiLayout) -> AsyncIterator[Stack]:
    adapters = {
        SourceKind.TAX: FakeAdapter(SourceKind.TAX, income_fen={APPLICANT_ID: 98_000}),
    }
    app = await make_app(database_url, keys_dir, adapters)
    creds = server_credentials(pki.server.cert, pki.server.key, pki.ca.cert)
    server = await serve_app(app, "127.0.0.1:0", credentials=creds, health_interval=0.05)
    out = Stack(app, server, pki)
    # Counts every call that gets past transport and identity into the use case.
    real_create = app.service.create

    async def counting_create(*args: Any, **kw: Any) -> Any:
        out.create_calls += 1
        return await real_create(*args, **kw)

    app.service.create = counting_create  # type: ignore[method-assign]
    yield out
    await server.stop(0)
    await app.aclose()


def good_request(region: str = "370322") -> pb.CreateVerificationRequest:
    def member(number: str, relation: Any) -> pb.Member:
        return pb.Member(
            id_type=common_pb2.ID_TYPE_RESIDENT_ID, id_number=number, name="测试", relation=relation
        )

    return pb.CreateVerificationRequest(
        request_id="r-1",
        case_id="CASE-9",
        authorization_id="SQ-1",
        purposes=[common_pb2.PURPOSE_DIBAO],
        household=pb.Household(
            region_code=region,
            members=[
                member(APPLICANT_ID, common_pb2.RELATION_APPLICANT),
                member(SPOUSE_ID, common_pb2.RELATION_SPOUSE),
            ],
        ),
        wait=True,
        hukou_nature=common_pb2.HUKOU_NATURE_URBAN,
    )


def self_signed(system: str) -> Issued:
    """A client certificate with the right CN and EKU, signed by its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, system)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def other_ca(system: str) -> Issued:
    return issue_client(new_ca("another CA"), system)


def expired(system: str, ca: Issued) -> Issued:
    return issue_client(ca, system, days=1, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=30))


def rich_reason(err: grpc.aio.AioRpcError) -> str:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            assert isinstance(value, bytes)
            info = error_details_pb2.ErrorInfo()
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Unpack(info):
                    return str(info.reason)
    return ""


# ---- identified by certificate ---------------------------------------------------------


async def test_a_valid_certificate_is_the_calling_system(stack: Stack) -> None:
    async with stack.client(stack.pki.client(SYSTEM)) as c:
        v = await c.create(good_request())
        assert v.state == pb.VERIFICATION_STATE_DONE
        rep = await c.report(v.verification_id)
        keys = parse_jwks(await c.jwks())
        # The owner check on reads passes for the same certificate.
        assert (await c.get(v.verification_id)).verification_id == v.verification_id
    assert verify_envelope(rep.envelope, keys).document["requester"]["system"] == SYSTEM
    systems = await stack.audit_systems()
    assert systems and set(systems) == {SYSTEM}
    assert stack.create_calls == 1


async def test_metadata_cannot_claim_a_system_the_certificate_does_not_name(
    stack: Stack,
) -> None:
    # OTHER serves region 3415 only; SYSTEM serves 3703. Claiming SYSTEM by metadata with
    # OTHER's certificate must not open 370322.
    async with stack.client(stack.pki.client(OTHER), claim=SYSTEM) as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.create(good_request(region="370322"))
    assert ei.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert rich_reason(ei.value) == "OUT_OF_REGION"
    assert await stack.audit_systems() == [OTHER]


async def test_metadata_naming_another_system_does_not_change_who_is_recorded(
    stack: Stack,
) -> None:
    async with stack.client(stack.pki.client(SYSTEM), claim=OTHER) as c:
        v = await c.create(good_request())
    assert v.state == pb.VERIFICATION_STATE_DONE
    assert set(await stack.audit_systems()) == {SYSTEM}


async def test_a_trusted_certificate_for_an_unknown_system_is_unauthenticated(
    stack: Stack,
) -> None:
    async with stack.client(stack.pki.client(STRANGER), claim=SYSTEM) as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.create(good_request())
    assert ei.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert stack.create_calls == 0
    assert await stack.count("verifications") == 0


async def test_a_reader_with_another_certificate_cannot_see_the_verification(
    stack: Stack,
) -> None:
    async with stack.client(stack.pki.client(SYSTEM)) as owner:
        v = await owner.create(good_request())
    async with stack.client(stack.pki.client(OTHER), claim=SYSTEM) as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.get(v.verification_id)
    assert ei.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)


# ---- refused at the handshake ----------------------------------------------------------

Bad = Callable[[PkiLayout], Issued | None]
BAD_CLIENTS: dict[str, Bad] = {
    "no client certificate": lambda pki: None,
    "self-signed": lambda pki: self_signed(SYSTEM),
    "another CA": lambda pki: other_ca(SYSTEM),
    "expired": lambda pki: expired(SYSTEM, read_pair(pki.ca)),
}


@pytest.mark.parametrize("make", BAD_CLIENTS.values(), ids=BAD_CLIENTS.keys())
async def test_untrusted_clients_are_refused_at_the_handshake(
    stack: Stack, tmp_path: Path, make: Bad
) -> None:
    issued = make(stack.pki)
    pair: PemPair | None = None
    if issued is not None:
        pair = PemPair(tmp_path / "bad.pem", tmp_path / "bad.key")
        write_pair(pair, issued)
    async with stack.client(pair, claim=SYSTEM) as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.create(good_request(), timeout=10)
        assert ei.value.code() is grpc.StatusCode.UNAVAILABLE
        # Not even health answers: the connection never carried an RPC.
        with pytest.raises(grpc.aio.AioRpcError) as hi:
            await health_pb2_grpc.HealthStub(c.channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
        assert hi.value.code() is grpc.StatusCode.UNAVAILABLE
    assert stack.create_calls == 0
    assert await stack.count("audit_entries") == 0
    assert await stack.count("verifications") == 0
    # The same server, the same moment, a good certificate: the refusal was the certificate.
    async with stack.client(stack.pki.client(SYSTEM)) as good:
        assert (await good.create(good_request())).state == pb.VERIFICATION_STATE_DONE
    assert stack.create_calls == 1


async def test_a_plaintext_client_is_refused(stack: Stack) -> None:
    async with Client(stack.target, user="worker-1", system=SYSTEM) as c:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await c.create(good_request(), timeout=10)
    assert ei.value.code() is grpc.StatusCode.UNAVAILABLE
    assert stack.create_calls == 0


async def test_without_client_auth_metadata_still_identifies_nobody(
    database_url: str, keys_dir: Path, pki: PkiLayout
) -> None:
    """Development TLS without client certificates: the metadata claim is still ignored,
    so nobody is identified."""
    app = await make_app(database_url, keys_dir, {})
    creds = server_credentials(pki.server.cert, pki.server.key, None, require_client_auth=False)
    server = await serve_app(app, "127.0.0.1:0", credentials=creds)
    try:
        channel_creds = grpc.ssl_channel_credentials(pki.ca.cert.read_bytes())
        async with Client(
            f"127.0.0.1:{server.port}", user="worker-1", system=SYSTEM, credentials=channel_creds
        ) as c:
            with pytest.raises(grpc.aio.AioRpcError) as ei:
                await c.create(good_request())
        assert ei.value.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(0)
        await app.aclose()
