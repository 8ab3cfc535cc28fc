"""A small gRPC client for the CLI, the demo and tests: the same wire a case system uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc

from adapters import IdType, SourceKind
from hedui.v1 import keys_pb2, keys_pb2_grpc, verification_pb2 as pb, verification_pb2_grpc
from verifier.api.translate import ID_TYPES_TO_PB, PURPOSES_TO_PB, RELATIONS_TO_PB, SOURCES_TO_PB
from verifier.domain.household import Purpose, Relation


class HouseholdFileError(ValueError):
    """The household file is malformed; the message names the field."""


def _enum(table: Mapping[Any, int], kind: Any, value: object, where: str) -> int:
    try:
        return table[kind(value)]
    except (ValueError, KeyError):
        raise HouseholdFileError(f"{where}: unknown value") from None


def request_from_json(doc: Mapping[str, Any], *, wait: bool = False) -> pb.CreateVerificationRequest:
    """Build a request from a household JSON document (see docs/household-file.md)."""
    try:
        members = doc["members"]
        return pb.CreateVerificationRequest(
            request_id=str(doc.get("request_id", "")),
            case_id=str(doc.get("case_id", "")),
            authorization_id=str(doc.get("authorization_id", "")),
            purposes=[_enum(PURPOSES_TO_PB, Purpose, p, f"purposes[{i}]") for i, p in enumerate(doc.get("purposes", []))],
            household=pb.Household(
                region_code=str(doc.get("region_code", "")),
                members=[
                    pb.Member(
                        id_type=_enum(ID_TYPES_TO_PB, IdType, m.get("id_type", "resident_id"), f"members[{i}].id_type"),
                        id_number=str(m.get("id_number", "")),
                        name=str(m.get("name", "")),
                        relation=_enum(RELATIONS_TO_PB, Relation, m.get("relation"), f"members[{i}].relation"),
                    )
                    for i, m in enumerate(members)
                ],
            ),
            sources=[_enum(SOURCES_TO_PB, SourceKind, s, f"sources[{i}]") for i, s in enumerate(doc.get("sources", []))],
            window=pb.Window(
                start_date=str(doc.get("window", {}).get("start", "")),
                end_date=str(doc.get("window", {}).get("end", "")),
            ),
            wait=wait,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise HouseholdFileError(f"household file is missing or mistypes {exc}") from None


class Client:
    """Async client. ``system`` is sent as metadata only on a plaintext development port;
    with mTLS the server reads it from the client certificate."""

    def __init__(
        self,
        target: str,
        *,
        user: str,
        role: str = "caseworker",
        system: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.channel = (
            grpc.aio.secure_channel(target, credentials) if credentials else grpc.aio.insecure_channel(target)
        )
        md = [("x-hedui-user", user), ("x-hedui-role", role)]
        if system:
            md.append(("x-hedui-system", system))
        self._md = tuple(md)
        self.verifications = verification_pb2_grpc.VerificationServiceStub(self.channel)
        self.keys = keys_pb2_grpc.KeyServiceStub(self.channel)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def create(self, req: pb.CreateVerificationRequest, timeout: float = 60.0) -> pb.Verification:
        resp = await self.verifications.CreateVerification(req, metadata=self._md, timeout=timeout)
        return resp.verification

    async def get(self, vid: str, timeout: float = 10.0) -> pb.Verification:
        resp = await self.verifications.GetVerification(
            pb.GetVerificationRequest(verification_id=vid), metadata=self._md, timeout=timeout
        )
        return resp.verification

    async def watch(self, vid: str, timeout: float | None = None) -> AsyncIterator[pb.WatchVerificationResponse]:
        call = self.verifications.WatchVerification(
            pb.WatchVerificationRequest(verification_id=vid), metadata=self._md, timeout=timeout
        )
        async for event in call:
            yield event

    async def report(self, vid: str, version: int = 0, timeout: float = 10.0) -> pb.GetReportResponse:
        return await self.verifications.GetReport(
            pb.GetReportRequest(verification_id=vid, version=version), metadata=self._md, timeout=timeout
        )

    async def jwks(self, timeout: float = 10.0) -> str:
        resp = await self.keys.ListKeys(keys_pb2.ListKeysRequest(), metadata=self._md, timeout=timeout)
        return resp.jwks_json
