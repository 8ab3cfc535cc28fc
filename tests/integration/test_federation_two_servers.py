"""Two hedui deployments, each a real server on the real serve path (``serve_app``:
grpc.aio over mTLS, its own PKI, database, keys and sources), the other configured and
trusted as its peer — on SQLite and on PostgreSQL, each side its own database.

- An authorized 协查 works both ways: a check at 高青 of a household with a member
  whose 户籍 is in 临淄 is answered there for that member, and the other way round.
- A source the agreement does not let the requester ask about is DENIED there and never
  sent (the agreed ones are still answered); an ask the 授权书 does not cover, sent as a
  requester that does not check it first would, is refused and audited on the peer.
- A peer killed while the check waits on it gives FAILED in version 1; once it is back
  the requester's retrier (its round driven here) asks again and a new version has the
  answer.
- The report verifies offline with ``hedui report verify --peer-jwks``, fragment included.
- Every byte the peer's FederationService received during a full check: only the member
  whose 户籍 is there, only the asked sources; nothing of the other members in any
  encoding.

Tampered, unpinned and replayed fragments: tests/integration/test_federation_exchange.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet
from hedui.v1 import common_pb2, federation_pb2, federation_pb2_grpc
from hedui.v1 import verification_pb2 as vpb
from sqlalchemy import text

from hedui_sdk import IdType, SourceKind, Subject, Window
from tests.conftest import migrated_database
from tests.fakes import FakeAdapter, synthetic_id
from tests.fakes.gated_source import GatedAdapter
from tests.helpers import run_cli
from verifier.api.client import Client, consent_from_json, request_from_json
from verifier.api.federation_client import GrpcPeerClient
from verifier.api.sandbox_files import consent_doc
from verifier.api.server import RunningServer
from verifier.api.tls import server_credentials_for
from verifier.bootstrap import App, build_app, make_requester, open_federation, serve_app
from verifier.cli.demo_federation_setup import Side, agreement, prepare_side, side_config
from verifier.config import Config
from verifier.domain.federation_ask import AskAuthorization, FederationAsk
from verifier.domain.ports.peer_client import PeerRefused
from verifier.domain.request_model import Purpose
from verifier.service.federation.retrier import PeerRetrier
from verifier.storage.uow import SqlStore

HOME, HOME_REGION = "hedui-gaoqing", "370322"
PEER, PEER_REGION = "hedui-linzi", "370305"
AGREED = (SourceKind.TAX, SourceKind.REAL_ESTATE)
"""What each side's agreement lets the other have checked."""

# Members of 高青 households (their records at 高青's sources) and of 临淄 ones.
GQ_APPLICANT = synthetic_id(HOME_REGION, 11, date(1971, 4, 2))
GQ_SPOUSE = synthetic_id(HOME_REGION, 12, date(1973, 9, 14))
GQ_PARENT = synthetic_id(HOME_REGION, 13, date(1948, 1, 20))
LZ_APPLICANT = synthetic_id(PEER_REGION, 21, date(1980, 6, 6))
LZ_CHILD = synthetic_id(PEER_REGION, 22, date(2001, 2, 28))
NAMES = {
    GQ_APPLICANT: "高青甲",
    GQ_SPOUSE: "高青乙",
    GQ_PARENT: "高青丙",
    LZ_APPLICANT: "临淄丁",
    LZ_CHILD: "临淄戊",
}
INCOME = {GQ_APPLICANT: 210_000, GQ_SPOUSE: 150_000, GQ_PARENT: 90_000,
          LZ_APPLICANT: 330_000, LZ_CHILD: 120_000}  # fmt: skip


class Recorder:
    """Every request message a FederationService received, as the bytes that arrived
    (recorded by the request deserializer, before anything parses them), by deployment."""

    def __init__(self) -> None:
        self.serving = ""
        self.received: dict[str, list[tuple[str, bytes]]] = {}

    def add_servicer(self, servicer: Any, server: grpc.aio.Server) -> None:
        """Stands in for the generated ``add_FederationServiceServicer_to_server``:
        the same handlers, with recording deserializers."""
        into = self.received.setdefault(self.serving, [])

        def recording(method: str, parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
            def deserialize(raw: bytes) -> Any:
                into.append((method, bytes(raw)))
                return parse(raw)

            return deserialize

        handlers = {
            "Assist": grpc.unary_unary_rpc_method_handler(
                servicer.Assist,
                request_deserializer=recording("Assist", federation_pb2.AssistRequest.FromString),
                response_serializer=federation_pb2.AssistResponse.SerializeToString,
            ),
            "GetReceipt": grpc.unary_unary_rpc_method_handler(
                servicer.GetReceipt,
                request_deserializer=recording(
                    "GetReceipt", federation_pb2.FederationServiceGetReceiptRequest.FromString
                ),
                response_serializer=(
                    federation_pb2.FederationServiceGetReceiptResponse.SerializeToString
                ),
            ),
        }
        name = "hedui.v1.FederationService"
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
        server.add_registered_method_handlers(name, handlers)


@dataclass
class Deployment:
    side: Side
    peer: Side
    config: Config
    adapters: dict[SourceKind, FakeAdapter]
    app: App | None = None
    server: RunningServer | None = None

    @property
    def running(self) -> App:
        assert self.app is not None
        return self.app


@dataclass
class Pair:
    home: Deployment
    peer: Deployment
    recorder: Recorder
    tmp: Path
    clients: list[Client] = field(default_factory=list)

    async def start(self, d: Deployment) -> None:
        """Build ``d``'s app on its database and serve it (on its port: a restart after
        :meth:`kill` takes the same one, where the other side's agreement points)."""
        d.app = await build_app(d.config, adapters=d.adapters, migrate=False)
        self.recorder.serving = d.side.name
        d.server = await serve_app(
            d.app,
            d.config.listen,
            credentials=server_credentials_for(d.config.tls, d.config.listen),
        )

    async def kill(self, d: Deployment) -> None:
        """Stop ``d`` at once: calls in flight are cut off, its process's state is gone."""
        if d.server is not None:
            await d.server.stop(0)
            d.server = None
        if d.app is not None:
            await d.app.aclose()
            d.app = None

    def client(self, d: Deployment) -> Client:
        c = Client(
            f"localhost:{d.side.port}",
            user="worker-1",
            credentials=d.side.case_system_credentials(),
        )
        self.clients.append(c)
        return c

    async def entries(self, d: Deployment) -> list[dict[str, Any]]:
        """``d``'s audit entries, in order."""
        store = d.running.store
        assert isinstance(store, SqlStore)
        async with store.db.read_sessions() as s:
            rows = (await s.execute(text("SELECT body FROM audit_entries ORDER BY seq"))).all()
        return [json.loads(bytes(r[0])) for r in rows]


def _household(
    request_id: str,
    region: str,
    members: Sequence[tuple[str, str, str]],
    sources: Sequence[SourceKind] = AGREED,
) -> dict[str, Any]:
    """A household file (``hedui check``): members as (ID number, relation, 户籍 region
    or "" for the household's)."""
    return {
        "request_id": request_id,
        "case_id": f"CASE-{request_id}",
        "authorization_id": f"SQ-{request_id}",
        "purposes": ["PURPOSE_DIBAO"],
        "household": {
            "region_code": region,
            "members": [
                {
                    "id_type": "ID_TYPE_RESIDENT_ID",
                    "id_number": n,
                    "name": NAMES[n],
                    "relation": f"RELATION_{rel.upper()}",
                    **({"hukou_region_code": hukou} if hukou else {}),
                }
                for n, rel, hukou in members
            ],
        },
        "sources": [f"SOURCE_KIND_{s.name}" for s in sources],
        "hukou_nature": "HUKOU_NATURE_URBAN",
    }


GQ_SPLIT = [
    (GQ_APPLICANT, "applicant", ""),
    (GQ_SPOUSE, "spouse", ""),
    (LZ_CHILD, "child", PEER_REGION),
]
"""A 高青 household whose child's 户籍 is in 临淄."""


async def _check(client: Client, doc: dict[str, Any]) -> str:
    """Register the household's 授权书, start its check and wait for version 1."""
    await client.register_consent(consent_from_json(consent_doc(doc, date.today())))
    v = await client.create(request_from_json(doc, wait=True), timeout=30)
    assert v.latest_report_version >= 1
    return v.verification_id


async def _report(client: Client, vid: str, version: int | None = None) -> tuple[bytes, Any]:
    rep = await client.report(vid, version)
    return rep.envelope, json.loads(base64.b64decode(json.loads(rep.envelope)["payload"]))


def _entries_of(doc: dict[str, Any], member: int) -> list[dict[str, Any]]:
    return [s for s in doc["sources"] if s["member_index"] == member]


def _adapters(region: str, *, gated: bool = False) -> dict[SourceKind, FakeAdapter]:
    here = {n: v for n, v in INCOME.items() if n[:6] == region}
    tax: FakeAdapter = (
        GatedAdapter(SourceKind.TAX, income_fen=here, expected=1)
        if gated
        else FakeAdapter(SourceKind.TAX, income_fen=here)
    )
    return {
        SourceKind.TAX: tax,
        SourceKind.REAL_ESTATE: FakeAdapter(SourceKind.REAL_ESTATE, asset_fen={}),
        SourceKind.BANK: FakeAdapter(SourceKind.BANK),
    }


@pytest.fixture
def peer_database_url(database_url: str, tmp_path: Path, pg_template: str | None) -> Iterator[str]:
    """The peer's own database, of the same kind as the requester's."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    yield from migrated_database(kind, tmp_path, pg_template, "peer.db")


@pytest.fixture
async def pair(
    database_url: str, peer_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Pair]:
    recorder = Recorder()
    monkeypatch.setattr(
        federation_pb2_grpc, "add_FederationServiceServicer_to_server", recorder.add_servicer
    )
    home_side = prepare_side(HOME, HOME_REGION, tmp_path / "home")
    peer_side = prepare_side(PEER, PEER_REGION, tmp_path / "peer")
    base = Config(deadline_seconds=10.0, sources={})

    def configure(side: Side, other: Side, url: str) -> Config:
        cfg = side_config(base, side, other, url, agreement(other, sources=AGREED))
        # The retrier's own rounds wait an hour: the tests drive its rounds themselves.
        return replace(cfg, federation=replace(cfg.federation, retry_interval_seconds=3600))

    home = Deployment(
        home_side, peer_side, configure(home_side, peer_side, database_url), _adapters(HOME_REGION)
    )
    peer = Deployment(
        peer_side,
        home_side,
        configure(peer_side, home_side, peer_database_url),
        _adapters(PEER_REGION, gated=True),
    )
    for d in (home, peer):
        async with open_federation(d.config) as trust:
            await trust.trust(d.peer.name, "ops-1")
    p = Pair(home, peer, recorder, tmp_path)
    await p.start(home)
    await p.start(peer)
    try:
        yield p
    finally:
        for c in p.clients:
            await c.close()
        await p.kill(home)
        await p.kill(peer)


async def test_an_authorized_check_is_answered_by_the_peer_both_ways(pair: Pair) -> None:
    # 高青 asks 临淄 about the child whose 户籍 is there.
    gq = pair.client(pair.home)
    vid = await _check(gq, _household("gq-1", HOME_REGION, GQ_SPLIT))
    _env, doc = await _report(gq, vid)
    for i in (0, 1):
        assert {(s["source"], s.get("deployment")) for s in _entries_of(doc, i)} == {
            ("tax", None), ("real_estate", None),
        }  # fmt: skip
    child = {s["source"]: s for s in _entries_of(doc, 2)}
    assert set(child) == {"tax", "real_estate"}
    assert {s["deployment"] for s in child.values()} == {PEER}
    assert (child["tax"]["status"], child["real_estate"]["status"]) == ("FOUND", "NOT_FOUND")
    (fragment,) = doc["fragments"]
    assert fragment["peer"] == PEER
    assert {s["fragment_sha256"] for s in child.values()} == {fragment["envelope_sha256"]}
    # 临淄's records came from 临淄's sources; 高青's never heard of the child.
    income = {r["member_index"]: r["amount_fen"] for r in doc["records"] if "amount_fen" in r}
    assert income[2] == INCOME[LZ_CHILD]
    assert pair.peer.adapters[SourceKind.TAX].calls == 1
    assert pair.home.adapters[SourceKind.TAX].calls == 2

    # 临淄 asks 高青 about a parent whose 户籍 is in 高青.
    lz = pair.client(pair.peer)
    household = [(LZ_APPLICANT, "applicant", ""), (GQ_PARENT, "parent", HOME_REGION)]
    vid = await _check(lz, _household("lz-1", PEER_REGION, household))
    _env, doc = await _report(lz, vid)
    parent = {s["source"]: s for s in _entries_of(doc, 1)}
    assert {s["deployment"] for s in parent.values()} == {HOME}
    assert parent["tax"]["status"] == "FOUND"
    assert [f["peer"] for f in doc["fragments"]] == [HOME]
    assert all("deployment" not in s for s in _entries_of(doc, 0))

    # Each side audited the access it answered, naming the requester.
    for d, requester in ((pair.peer, HOME), (pair.home, PEER)):
        released = [
            e for e in await pair.entries(d)
            if e["action"] == "released" and e["actor"]["system"] == requester
        ]  # fmt: skip
        assert len(released) == 1, d.side.name


async def test_a_source_the_agreement_does_not_cover_is_denied_here_and_never_sent(
    pair: Pair,
) -> None:
    # The bank is not in 高青's agreement with 临淄 (asks_sources): the child's bank pair
    # is DENIED by 高青 and not sent; the agreed sources are still asked and answered.
    gq = pair.client(pair.home)
    doc = _household("gq-2", HOME_REGION, GQ_SPLIT, sources=(*AGREED, SourceKind.BANK))
    vid = await _check(gq, doc)
    _env, report = await _report(gq, vid)
    child = _entries_of(report, 2)
    assert {(s["source"], s["status"], s["reason"]) for s in child if s["source"] == "bank"} == {
        ("bank", "DENIED", "FEDERATION_SOURCE_NOT_AGREED")
    }
    agreed = [s for s in child if s["source"] != "bank"]
    assert {s["status"] for s in agreed} <= {"FOUND", "NOT_FOUND"} and len(agreed) == 2
    assert {s["deployment"] for s in child} == {PEER} and "fragments" in report
    assert pair.peer.adapters[SourceKind.TAX].calls == 1
    # 临淄 refused nothing, and what it was asked named the agreed sources only.
    peer_entries = [e for e in await pair.entries(pair.peer) if e["actor"]["system"] == HOME]
    assert [e for e in peer_entries if e["outcome"] == "deny"] == []
    intents = [e for e in peer_entries if e["action"] == "access_intent"]
    assert [sorted(e["details"]["sources"]) for e in intents] == [sorted(k.value for k in AGREED)]


async def test_an_ask_the_authorization_does_not_cover_is_refused_and_audited_on_the_peer(
    pair: Pair,
) -> None:
    """Sent over the wire by 高青's federation certificate as a requester that does not
    check the 授权书 itself would: 临淄 checks it, refuses and audits."""
    cert = pair.home.side.pki.client(HOME)
    client = GrpcPeerClient(cert.cert, cert.key)
    window = Window(date.today().replace(day=1) - timedelta(days=365), date.today())
    ask = FederationAsk(
        requester=HOME, request_id="gq-outside-1",
        members=(Subject(IdType.RESIDENT_ID, LZ_CHILD, NAMES[LZ_CHILD]),),
        purposes=(Purpose.DIBAO, Purpose.LINSHI), sources=(SourceKind.TAX,),
        # The 授权书 is for 低保 only; 临时救助 is asked too.
        authorization=AskAuthorization(
            "SQ-gq-outside", (Purpose.DIBAO,), (SourceKind.TAX,), date.today().replace(day=1),
            None, (0,), "e" * 64,
        ),
        region=PEER_REGION, window=window,
    )  # fmt: skip
    peer_cfg = pair.home.config.federation.peers[PEER]
    with pytest.raises(PeerRefused) as refused:
        await client.assist(peer_cfg, ask, 10)
    assert refused.value.reason == "FEDERATION_PURPOSE_NOT_AUTHORIZED"
    assert pair.peer.adapters[SourceKind.TAX].calls == 0
    denied = [e for e in await pair.entries(pair.peer) if e["outcome"] == "deny"]
    assert [(e["actor"]["system"], e["reason"], e["request_id"]) for e in denied] == [
        (HOME, refused.value.reason, "gq-outside-1")
    ]


async def test_a_peer_killed_mid_request_gives_failed_then_a_new_version_once_it_answers(
    pair: Pair,
) -> None:
    tax = pair.peer.adapters[SourceKind.TAX]
    assert isinstance(tax, GatedAdapter)
    tax.hold()
    gq = pair.client(pair.home)
    doc = _household("gq-3", HOME_REGION, GQ_SPLIT)
    await gq.register_consent(consent_from_json(consent_doc(doc, date.today())))
    checking = asyncio.create_task(gq.create(request_from_json(doc, wait=True), timeout=30))
    # 临淄 is asking its tax source for 高青's 协查: 高青's check is waiting on 临淄.
    await asyncio.wait_for(tax.arrived.wait(), 10)
    await pair.kill(pair.peer)
    v = await asyncio.wait_for(checking, 30)
    assert v.latest_report_version == 1
    _env, v1 = await _report(gq, v.verification_id, 1)
    child = _entries_of(v1, 2)
    assert {s["status"] for s in child} == {"FAILED"} and {s["deployment"] for s in child} == {PEER}
    assert all(s["reason"] for s in child)
    assert (await gq.get(v.verification_id)).state == vpb.VERIFICATION_STATE_AWAITING_SOURCES

    # 临淄 is back (a new process on its database, its source answering); 高青's retrier
    # asks again under the same request id, and the answer is version 2.
    tax.gate.set()
    await pair.start(pair.peer)
    app = pair.home.running
    requester = make_requester(app.config, app.store, app.keys)
    assert requester is not None
    later = datetime.now(UTC) + timedelta(minutes=10)
    retrier = PeerRetrier(
        app.store, requester, app.service.release_federated, owner="test-retrier",
        clock=lambda: later,
    )  # fmt: skip
    assert await retrier.tick() == 1
    _env, v2 = await _report(gq, v.verification_id)
    assert v2["version"] == 2
    answered = {s["source"]: s for s in _entries_of(v2, 2)}
    assert (answered["tax"]["status"], answered["real_estate"]["status"]) == ("FOUND", "NOT_FOUND")
    assert [f["peer"] for f in v2["fragments"]] == [PEER]
    assert (await gq.get(v.verification_id)).state == vpb.VERIFICATION_STATE_DONE
    assert await retrier.tick() == 0


async def test_the_report_verifies_offline_with_the_peers_keys_fragment_included(
    pair: Pair, capsys: pytest.CaptureFixture[str]
) -> None:
    gq = pair.client(pair.home)
    vid = await _check(gq, _household("gq-4", HOME_REGION, GQ_SPLIT))
    envelope, _doc = await _report(gq, vid)
    report = pair.tmp / "report.dsse.json"
    report.write_bytes(envelope)
    keys = pair.tmp / "home-keys.jwks.json"
    keys.write_text(await gq.jwks())
    capsys.readouterr()
    argv = ("report", "verify", str(report), "--keys", str(keys))
    code, out, err = run_cli(capsys, *argv, "--peer-jwks", f"{PEER}={pair.peer.side.jwks}")
    assert code == 0, out + err
    assert "FRAGMENT VERIFIED" in out and PEER in out
    # Without the peer's keys the fragment cannot be checked: not verified.
    code, out, err = run_cli(capsys, *argv)
    assert code != 0, out + err


def _encodings(text: str) -> list[bytes]:
    raw = text.encode()
    return [raw, text.encode("utf-16-le"), text.encode("utf-16-be"), text.encode("gb18030"),
            base64.b64encode(raw), raw.hex().encode()]  # fmt: skip


async def test_every_byte_the_peer_received_is_the_asked_member_and_sources_only(
    pair: Pair,
) -> None:
    gq = pair.client(pair.home)
    doc = _household("gq-5", HOME_REGION, GQ_SPLIT)
    vid = await _check(gq, doc)
    _env, report = await _report(gq, vid)
    assert {s["deployment"] for s in _entries_of(report, 2)} == {PEER}

    received = pair.recorder.received[PEER]
    asks = [
        federation_pb2.AssistRequest.FromString(raw)
        for method, raw in received
        if method == "Assist"
    ]
    assert len(asks) == 1
    (ask,) = asks
    assert [(m.id_number, m.name) for m in ask.members] == [(LZ_CHILD, NAMES[LZ_CHILD])]
    assert sorted(ask.sources) == sorted(
        common_pb2.SourceKind.Value(f"SOURCE_KIND_{s.name}") for s in AGREED
    )
    assert ask.region == PEER_REGION
    assert list(ask.purposes) == [common_pb2.PURPOSE_DIBAO]
    # Nothing rides along in fields the peer does not know (they would pass unread).
    assert not _unknown_fields(ask)
    # Nothing else of the household, in any encoding, in any byte the peer received: not
    # the other members' ID numbers or names, nor the case, nor the check's id.
    others = [GQ_APPLICANT, NAMES[GQ_APPLICANT], GQ_SPOUSE, NAMES[GQ_SPOUSE], "CASE-gq-5", vid]
    for secret in others:
        for form in _encodings(secret):
            assert all(form not in raw for _m, raw in received), secret


def _unknown_fields(message: Message) -> int:
    """Unknown fields in ``message`` and every message field within it."""
    count = len(UnknownFieldSet(message))
    for _fd, value in message.ListFields():
        if isinstance(value, Message):
            count += _unknown_fields(value)
        elif isinstance(value, Sequence | RepeatedCompositeFieldContainer):
            count += sum(_unknown_fields(v) for v in value if isinstance(v, Message))
    return count
