"""Caller identity over mTLS, on a real grpc.aio server with a real app: who gets through
the handshake, who the server then says is calling, and when the server will not start."""

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
from tests.fakes import FakeAdapter
from tests.helpers import APPLICANT_ID, SPOUSE_ID, SYSTEM, make_app
from verifier.api.client import Client
from verifier.api.server import RunningServer
from verifier.api.tls import (
    TlsConfigError,
    check_server_tls,
    client_credentials,
    is_loopback,
    server_credentials,
    server_credentials_for,
)
from verifier.bootstrap import App, serve_app
from verifier.cli.certs import (
    Issued,
    PemPair,
    PkiLayout,
    init_pki,
    issue_client,
    new_ca,
    read_pair,
    write_pair,
)
from verifier.cli.main import main
from verifier.config import ConfigError, TlsConfig, load_config
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import parse_jwks
from verifier.storage.uow import SqlStore

OTHER = "case-system-b"  # a principal of tests.helpers.config, regions 3415 only
STRANGER = "not-a-principal"


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
def pki(tmp_path: Path) -> PkiLayout:
    return init_pki(tmp_path / "pki", systems=(SYSTEM, OTHER, STRANGER)).layout


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


# ---- when the server may start ---------------------------------------------------------


def tls_files(pki: PkiLayout, **kw: Any) -> TlsConfig:
    base: dict[str, Any] = dict(
        mode="production", cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca.cert
    )
    base.update(kw)
    return TlsConfig(**base)


REFUSED: dict[str, tuple[Callable[[PkiLayout], TlsConfig], str, str]] = {
    "production without certificates": (
        lambda pki: TlsConfig(mode="production"),
        "0.0.0.0:50051",
        "tls.cert, tls.key, tls.client_ca not set",
    ),
    "production without a client CA": (
        lambda pki: tls_files(pki, client_ca=None),
        "0.0.0.0:50051",
        "tls.client_ca not set",
    ),
    "production without client auth": (
        lambda pki: tls_files(pki, client_ca=None, require_client_auth=False),
        "0.0.0.0:50051",
        "require_client_auth = false is refused in production",
    ),
    "production plaintext, even on loopback": (
        lambda pki: TlsConfig(mode="production", insecure_plaintext=True),
        "127.0.0.1:50051",
        "insecure_plaintext is refused in production",
    ),
    "development plaintext on every interface": (
        lambda pki: TlsConfig(mode="development", insecure_plaintext=True),
        "0.0.0.0:50051",
        "only honoured on loopback",
    ),
    "development plaintext on a LAN address": (
        lambda pki: TlsConfig(mode="development", insecure_plaintext=True),
        "10.0.0.5:50051",
        "only honoured on loopback",
    ),
    "development without anything": (
        lambda pki: TlsConfig(mode="development"),
        "127.0.0.1:50051",
        "hedui certs init",
    ),
}


@pytest.mark.parametrize(("make", "listen", "why"), REFUSED.values(), ids=REFUSED.keys())
def test_configurations_that_would_not_identify_callers_are_refused(
    pki: PkiLayout, make: Callable[[PkiLayout], TlsConfig], listen: str, why: str
) -> None:
    with pytest.raises(TlsConfigError) as ei:
        server_credentials_for(make(pki), listen)
    assert why in str(ei.value)


@pytest.mark.parametrize(
    ("tls", "listen"),
    [
        (TlsConfig(mode="development", insecure_plaintext=True), "127.0.0.1:50051"),
        (TlsConfig(mode="development", insecure_plaintext=True), "[::1]:50051"),
        (TlsConfig(mode="development", insecure_plaintext=True), "localhost:0"),
    ],
)
def test_development_plaintext_on_loopback_is_allowed(tls: TlsConfig, listen: str) -> None:
    check_server_tls(tls, listen)
    assert server_credentials_for(tls, listen) is None


def test_production_with_mtls_is_allowed(pki: PkiLayout) -> None:
    assert server_credentials_for(tls_files(pki), "0.0.0.0:50051") is not None


@pytest.mark.parametrize(
    ("listen", "loopback"),
    [
        ("127.0.0.1:1", True),
        ("127.8.9.10:1", True),
        ("[::1]:1", True),
        ("localhost:1", True),
        ("0.0.0.0:1", False),
        ("[::]:1", False),
        (":1", False),
        ("10.0.0.5:1", False),
        ("hedui.example:1", False),
        ("unix:/tmp/hedui.sock", False),
    ],
)
def test_loopback_detection(listen: str, loopback: bool) -> None:
    assert is_loopback(listen) is loopback


def test_hedui_serve_refuses_to_start_in_production_without_mtls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "hedui.db"
    config = tmp_path / "hedui.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:0"\n[database]\nurl = "sqlite:///{db}"\n'
        f'[keys]\ndir = "{tmp_path / "keys"}"\n'
    )
    assert main(["--config", str(config), "serve"]) == 2
    assert "production requires mTLS" in capsys.readouterr().err
    # Refused before anything was opened or created.
    assert not db.exists()
    assert not (tmp_path / "keys").exists()


def test_tls_section_is_parsed_and_defaults_to_production(tmp_path: Path) -> None:
    config = tmp_path / "hedui.toml"
    config.write_text("[server]\nlisten = '0.0.0.0:50051'\n")
    assert load_config(config).tls == TlsConfig(mode="production")
    config.write_text(
        "[tls]\nmode = 'development'\ncert = 's.pem'\nkey = 's.key'\nclient_ca = 'ca.pem'\n"
        "insecure_plaintext = true\n"
    )
    tls = load_config(config).tls
    assert tls.mode == "development" and tls.insecure_plaintext
    assert (tls.cert, tls.key, tls.client_ca) == (Path("s.pem"), Path("s.key"), Path("ca.pem"))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("mode = 'staging'", "tls.mode"),
        ("client-ca = 'ca.pem'", "tls.client-ca: unknown key"),
        ("insecure_plaintext = 'yes'", "tls.insecure_plaintext: must be bool"),
    ],
)
def test_tls_section_mistakes_are_named(tmp_path: Path, body: str, why: str) -> None:
    config = tmp_path / "hedui.toml"
    config.write_text(f"[tls]\n{body}\n")
    with pytest.raises(ConfigError) as ei:
        load_config(config)
    assert why in str(ei.value)


# ---- credential files ------------------------------------------------------------------


def test_a_missing_file_is_named(pki: PkiLayout, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(TlsConfigError, match=r"server certificate .*nowhere\.pem does not exist"):
        server_credentials(missing, pki.server.key, pki.ca.cert)
    with pytest.raises(TlsConfigError, match=r"client CA .*nowhere\.pem does not exist"):
        server_credentials(pki.server.cert, pki.server.key, missing)
    with pytest.raises(TlsConfigError, match=r"server CA .*nowhere\.pem does not exist"):
        client_credentials(missing, pki.client(SYSTEM).cert, pki.client(SYSTEM).key)


def test_a_key_that_is_not_the_certificates_is_named(pki: PkiLayout) -> None:
    with pytest.raises(TlsConfigError) as ei:
        server_credentials(pki.server.cert, pki.client(SYSTEM).key, pki.ca.cert)
    assert str(pki.client(SYSTEM).key) in str(ei.value)
    assert "does not belong" in str(ei.value)


def test_a_garbled_key_is_named_without_its_contents(pki: PkiLayout, tmp_path: Path) -> None:
    bad = tmp_path / "garbled.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n")
    with pytest.raises(TlsConfigError) as ei:
        client_credentials(pki.ca.cert, pki.client(SYSTEM).cert, bad)
    assert str(bad) in str(ei.value)
    assert "c2VjcmV0" not in str(ei.value)


def test_a_directory_instead_of_a_file_is_named(pki: PkiLayout, tmp_path: Path) -> None:
    with pytest.raises(TlsConfigError, match="cannot be read"):
        server_credentials(pki.server.cert, pki.server.key, tmp_path)
