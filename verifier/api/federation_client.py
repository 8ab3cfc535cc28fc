"""The requester's gRPC line to a peer's FederationService, over mTLS with the peer's CA
and this deployment's client certificate. Sends exactly the 协查 (the members, purposes,
sources, 授权书 scope, region and window): nothing else about the household is on the
wire. A refusal comes back as :class:`PeerRefused` with the peer's reason; an ask the peer
judged wrong in itself (:data:`REJECTIONS`) as :class:`PeerRejected`; anything else that
is not an answer as :class:`PeerUnavailable`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import grpc
from google.rpc import error_details_pb2, status_pb2
from google.type import date_pb2
from hedui.v1 import federation_pb2 as pb
from hedui.v1 import federation_pb2_grpc, verification_pb2

from audit.export import ReceiptError, VerifiedReceipt, verify_receipt
from verifier.api.tls import client_credentials
from verifier.api.translate import ID_TYPES_TO_PB, PURPOSES_TO_PB, SOURCES_TO_PB
from verifier.domain.federation_ask import FederationAsk
from verifier.domain.peers import PeerConfig
from verifier.domain.ports.peer_client import (
    PeerClient,
    PeerRefused,
    PeerRejected,
    PeerReply,
    PeerUnavailable,
)
from verifier.signing.fragments import VerifiedFragment

REJECTIONS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
    }
)
"""Codes by which the peer says the ask itself is wrong (malformed, a request id reused
with other content, …): the same ask would get the same answer, so it is not retried."""


def _day(d: date) -> date_pb2.Date:
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def ask_pb(ask: FederationAsk) -> pb.AssistRequest:
    """The wire form of ``ask``: every field it has, and no other."""
    a = ask.authorization
    auth = pb.AssistAuthorization(
        number=a.number,
        purposes=[PURPOSES_TO_PB[p] for p in a.purposes],
        sources=[SOURCES_TO_PB[s] for s in a.sources],
        valid_from=_day(a.valid_from),
        signed_for=list(a.signed_for),
        evidence_sha256=a.evidence_sha256,
    )
    if a.valid_until is not None:
        auth.valid_until.CopyFrom(_day(a.valid_until))
    return pb.AssistRequest(
        request_id=ask.request_id,
        members=[
            pb.AssistMember(id_type=ID_TYPES_TO_PB[m.id_type], id_number=m.id_number, name=m.name)
            for m in ask.members
        ],
        purposes=[PURPOSES_TO_PB[p] for p in ask.purposes],
        sources=[SOURCES_TO_PB[s] for s in ask.sources],
        authorization=auth,
        region=ask.region,
        window=verification_pb2.Window(
            start_date=_day(ask.window.start), end_date=_day(ask.window.end)
        ),
    )


def _reason(err: grpc.aio.AioRpcError) -> str:
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        for detail in status_pb2.Status.FromString(value).details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return str(info.reason)
    return err.code().name


class GrpcPeerClient(PeerClient):
    def __init__(self, client_cert: Path, client_key: Path) -> None:
        self._cert = client_cert
        self._key = client_key

    async def assist(self, peer: PeerConfig, ask: FederationAsk, timeout: float) -> PeerReply:
        creds = client_credentials(peer.ca, self._cert, self._key)
        async with grpc.aio.secure_channel(peer.endpoint, creds) as channel:
            stub = federation_pb2_grpc.FederationServiceStub(channel)
            try:
                reply = await stub.Assist(ask_pb(ask), timeout=timeout)
            except grpc.aio.AioRpcError as err:
                refusals = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
                if err.code() in refusals:
                    raise PeerRefused(_reason(err), err.details() or "") from None
                if err.code() in REJECTIONS:
                    raise PeerRejected(err.code().name, err.details() or "") from None
                raise PeerUnavailable(f"{err.code().name}: {err.details()}") from None
        return PeerReply(reply.fragment, reply.release_seq, reply.replayed)

    async def receipt(self, peer: PeerConfig, request_id: str, timeout: float) -> bytes:
        creds = client_credentials(peer.ca, self._cert, self._key)
        async with grpc.aio.secure_channel(peer.endpoint, creds) as channel:
            stub = federation_pb2_grpc.FederationServiceStub(channel)
            try:
                reply = await stub.GetReceipt(
                    pb.FederationServiceGetReceiptRequest(request_id=request_id), timeout=timeout
                )
            except grpc.aio.AioRpcError as err:
                if err.code() is grpc.StatusCode.UNAVAILABLE:
                    raise PeerUnavailable(f"{err.code().name}: {err.details()}") from None
                raise PeerRefused(_reason(err), err.details() or "") from None
        return bytes(reply.receipt)


def verified_receipt(raw: bytes, peer: PeerConfig, fragment: VerifiedFragment) -> VerifiedReceipt:
    """A peer's receipt checked with its configured audit key: its release entry is in
    its signed log, names this fragment's SHA-256 and this 协查's request id; otherwise
    ReceiptError."""
    if not peer.audit_key:
        raise ReceiptError("no audit_key is configured for the peer")
    verified = verify_receipt(raw, peer.audit_key, envelope=fragment.envelope)
    if verified.body.get("request_id") != fragment.answer.requester_request_id:
        raise ReceiptError("the receipt's entry is of another request")
    return verified
