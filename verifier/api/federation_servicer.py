"""FederationService: a trusted peer deployment's 协查, over mutual TLS.

The caller is the peer its client certificate names (common name), and only if that
certificate was issued by the CA configured for that peer: the server accepts client
certificates of several CAs (its own callers' and each peer's), so the issuer is checked
here, per peer, before anything else. Trust, coverage, audit and the answer itself are
:class:`~verifier.service.federation.inbound.InboundAssist`'s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from hedui.v1 import federation_pb2 as pb
from hedui.v1 import federation_pb2_grpc

from verifier.api.federation_translate import ask_from_pb
from verifier.domain.errors import FieldViolation, InvalidArgument, Unauthenticated
from verifier.domain.identifiers import ACTOR_SYSTEM, REQUEST_ID
from verifier.domain.peers import PeerConfig
from verifier.service.federation.inbound import InboundAssist


def _issued_by(cert_pem: bytes, ca_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        cas = x509.load_pem_x509_certificates(ca_path.read_bytes())
    except (OSError, ValueError):
        return False
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def peer_name(context: grpc.aio.ServicerContext[Any, Any], peers: Mapping[str, PeerConfig]) -> str:
    """The calling peer's name, from a client certificate its configured CA issued. A
    name no peer has is returned as is: the trust check refuses it, audited."""
    auth = context.auth_context()
    names = list(auth.get("x509_common_name") or [])
    pems = list(auth.get("x509_pem_cert") or [])
    if not names or not pems:
        raise Unauthenticated("a peer is identified by its client certificate")
    name = names[0].decode(errors="replace")
    # The name goes into the audit log as the actor: one that is no system name (an ID
    # number a peer's CA put there, a space, a control character) identifies no peer.
    if ACTOR_SYSTEM.problem(name) is not None:
        raise Unauthenticated("the certificate's common name is not a system name")
    peer = peers.get(name)
    if peer is not None and not _issued_by(pems[0], peer.ca):
        raise Unauthenticated("the certificate was not issued by the peer's CA")
    return name


SIGN_AND_KEEP_SHARE = 0.2
"""The share of a call's remaining time kept back from the sources for signing the
fragment and committing it with its released entry."""


def _sources_until(remaining: float | None) -> float | None:
    """When the sources must have answered (monotonic) so that the fragment, with what did
    not answer FAILED, still reaches the requester within its deadline (federation.proto:
    the call's deadline bounds the sources' time); None without a deadline."""
    if remaining is None:
        return None
    return time.monotonic() + remaining * (1 - SIGN_AND_KEEP_SHARE)


class FederationServicer(federation_pb2_grpc.FederationServiceServicer):
    def __init__(self, assist: InboundAssist, peers: Mapping[str, PeerConfig]) -> None:
        self._assist = assist
        self._peers = peers

    async def Assist(  # noqa: N802 - the gRPC method name
        self, request: pb.AssistRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.AssistResponse:
        requester = peer_name(context, self._peers)
        ask = ask_from_pb(request, requester=requester, today=datetime.now(UTC).date())
        given = await self._assist.answer(ask, _sources_until(context.time_remaining()))
        return pb.AssistResponse(
            fragment=given.envelope,
            envelope_sha256=given.envelope_sha256,
            release_seq=given.release_seq,
            replayed=given.replayed,
        )

    async def GetReceipt(  # noqa: N802 - the gRPC method name
        self,
        request: pb.FederationServiceGetReceiptRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> pb.FederationServiceGetReceiptResponse:
        requester = peer_name(context, self._peers)
        out: list[FieldViolation] = []
        REQUEST_ID.check(request.request_id, "request_id", out)
        if out:
            raise InvalidArgument(out)
        receipt = await self._assist.receipt(requester, request.request_id)
        return pb.FederationServiceGetReceiptResponse(
            receipt=json.dumps(receipt, ensure_ascii=False).encode()
        )
