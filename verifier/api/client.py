"""A small gRPC client for the CLI, the demo and tests: the same wire a case system uses."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from hedui.v1 import batch_pb2 as batch_pb
from hedui.v1 import (
    batch_pb2_grpc,
    consent_pb2_grpc,
    keys_pb2,
    keys_pb2_grpc,
    roster_pb2_grpc,
    verification_pb2_grpc,
)
from hedui.v1 import consent_pb2 as consent_pb
from hedui.v1 import roster_pb2 as roster_pb
from hedui.v1 import verification_pb2 as pb

from hedui_sdk.masking import redact
from verifier.api.channel import Connection


class HouseholdFileError(ValueError):
    """A household or 授权书 file is malformed; the message names the field."""


M = TypeVar("M", bound=Message)
_PARSE_PREFIX = re.compile(r"Failed to parse \w+ field: ")
_QUOTED_VALUE = re.compile(r"(Couldn't parse [a-z -]+|Invalid enum value)(?::)? .*?(?= for enum|$)")
_PARSE_AT = re.compile(r"(.*) at \"?[A-Za-z]+\.?([^\s\"]*?)\"?\.*")


def _parse(doc: Mapping[str, Any] | str, message: M, what: str) -> M:
    """``doc`` in protobuf's canonical JSON mapping (json_format): field names in
    lowerCamelCase or as in the proto, enums by name, int64 as a string or an integer,
    dates as ``{"year", "month", "day"}``; unknown fields are refused. Money is int64
    fen: a JSON number with a fraction or an exponent is refused with the field named,
    never rounded (json_format alone would take ``100.0`` as 100)."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise HouseholdFileError(f"{what} is not JSON (line {exc.lineno})") from None
    if not isinstance(doc, Mapping):
        raise HouseholdFileError(f"{what} must be a JSON object")
    _refuse_floats(doc, "")
    try:
        json_format.ParseDict(dict(doc), message)
    except json_format.ParseError as exc:
        # json_format names the path ("… at CreateVerificationRequest.deductions[0].amountFen");
        # the value it quotes is redacted if it looks like an ID number.
        text = _PARSE_PREFIX.sub("", str(exc).splitlines()[0])
        m = _PARSE_AT.fullmatch(text)
        path, reason = (m[2], m[1]) if m and m[2] else ("", text)
        # Values may be personal data: keep json_format's reason, not the value it quotes.
        reason = _QUOTED_VALUE.sub(r"\1", reason)
        raise HouseholdFileError(redact(f"{path}: {reason}" if path else reason)) from None
    return message


def request_from_json(
    doc: Mapping[str, Any] | str, *, wait: bool = False
) -> pb.CreateVerificationRequest:
    """A household file (docs/household-file.md): the canonical JSON mapping of
    CreateVerificationRequest, as any language's protobuf library writes it."""
    req = _parse(doc, pb.CreateVerificationRequest(), "household file")
    if wait:
        req.wait = True
    return req


def consent_from_json(doc: Mapping[str, Any] | str) -> consent_pb.Consent:
    """A 授权书 file (docs/household-file.md): the canonical JSON mapping of Consent."""
    return _parse(doc, consent_pb.Consent(), "授权书 file")


def _refuse_floats(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise HouseholdFileError(
            f"{path or '$'}: a whole number is required (amounts are integer fen, not decimals)"
        )
    if isinstance(value, Mapping):
        for k, v in value.items():
            _refuse_floats(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_floats(v, f"{path}[{i}]")


class Client(Connection):
    """Async client of the verification, key, consent, roster and batch services over a
    :class:`Connection`."""

    verifications: verification_pb2_grpc.VerificationServiceAsyncStub
    keys: keys_pb2_grpc.KeyServiceAsyncStub
    consents: consent_pb2_grpc.ConsentServiceAsyncStub
    roster: roster_pb2_grpc.RosterServiceAsyncStub
    batches: batch_pb2_grpc.BatchServiceAsyncStub

    def _stubs(self) -> None:
        self.verifications = verification_pb2_grpc.VerificationServiceStub(self.channel)
        self.keys = keys_pb2_grpc.KeyServiceStub(self.channel)
        self.consents = consent_pb2_grpc.ConsentServiceStub(self.channel)
        self.roster = roster_pb2_grpc.RosterServiceStub(self.channel)
        self.batches = batch_pb2_grpc.BatchServiceStub(self.channel)

    async def create(
        self, req: pb.CreateVerificationRequest, timeout: float = 60.0
    ) -> pb.Verification:
        resp = await self.verifications.CreateVerification(
            req, metadata=self.metadata, timeout=timeout
        )
        return resp.verification

    async def get(self, vid: str, timeout: float = 10.0) -> pb.Verification:
        resp = await self.verifications.GetVerification(
            pb.GetVerificationRequest(verification_id=vid), metadata=self.metadata, timeout=timeout
        )
        return resp.verification

    async def watch(
        self, vid: str, timeout: float | None = None
    ) -> AsyncIterator[pb.WatchVerificationResponse]:
        call = self.verifications.WatchVerification(
            pb.WatchVerificationRequest(verification_id=vid),
            metadata=self.metadata,
            timeout=timeout,
        )
        async for event in call:
            yield event

    async def report(
        self, vid: str, version: int | None = None, timeout: float = 10.0
    ) -> pb.GetReportResponse:
        """Report ``version``, or the latest when None."""
        return await self.verifications.GetReport(
            pb.GetReportRequest(verification_id=vid, version=version),
            metadata=self.metadata,
            timeout=timeout,
        )

    async def register_consent(
        self, consent: consent_pb.Consent, timeout: float = 10.0
    ) -> consent_pb.RegisterConsentResponse:
        return await self.consents.RegisterConsent(
            consent_pb.RegisterConsentRequest(consent=consent),
            metadata=self.metadata,
            timeout=timeout,
        )

    async def revoke_consent(
        self, number: str, reason: str, timeout: float = 10.0
    ) -> consent_pb.Consent:
        resp = await self.consents.RevokeConsent(
            consent_pb.RevokeConsentRequest(number=number, reason=reason),
            metadata=self.metadata,
            timeout=timeout,
        )
        return resp.consent

    async def get_consent(self, number: str, timeout: float = 10.0) -> consent_pb.Consent:
        resp = await self.consents.GetConsent(
            consent_pb.GetConsentRequest(number=number), metadata=self.metadata, timeout=timeout
        )
        return resp.consent

    async def import_roster(
        self, req: roster_pb.ImportRosterRequest, timeout: float = 120.0
    ) -> roster_pb.ImportRosterResponse:
        return await self.roster.ImportRoster(req, metadata=self.metadata, timeout=timeout)

    async def list_roster(
        self, req: roster_pb.ListRosterEntriesRequest, timeout: float = 30.0
    ) -> roster_pb.ListRosterEntriesResponse:
        return await self.roster.ListRosterEntries(req, metadata=self.metadata, timeout=timeout)

    async def get_roster_entry(
        self, household_ref: str, region_code: str = "", timeout: float = 10.0
    ) -> roster_pb.RosterEntry:
        resp = await self.roster.GetRosterEntry(
            roster_pb.GetRosterEntryRequest(household_ref=household_ref, region_code=region_code),
            metadata=self.metadata,
            timeout=timeout,
        )
        return resp.entry

    async def remove_roster_entry(
        self, household_ref: str, region_code: str, reason: str, timeout: float = 10.0
    ) -> roster_pb.RosterEntry:
        resp = await self.roster.RemoveRosterEntry(
            roster_pb.RemoveRosterEntryRequest(
                household_ref=household_ref, region_code=region_code, reason=reason
            ),
            metadata=self.metadata,
            timeout=timeout,
        )
        return resp.entry

    async def recheck_roster_entry(
        self,
        household_ref: str,
        region_code: str,
        request_id: str,
        *,
        urgent: bool = False,
        timeout: float = 30.0,
    ) -> roster_pb.RecheckRosterEntryResponse:
        return await self.roster.RecheckRosterEntry(
            roster_pb.RecheckRosterEntryRequest(
                household_ref=household_ref,
                region_code=region_code,
                request_id=request_id,
                urgent=urgent,
            ),
            metadata=self.metadata,
            timeout=timeout,
        )

    async def list_verifications(
        self, req: pb.ListVerificationsRequest, timeout: float = 10.0
    ) -> pb.ListVerificationsResponse:
        return await self.verifications.ListVerifications(
            req, metadata=self.metadata, timeout=timeout
        )

    async def submit_batch(
        self, request_id: str, items: list[batch_pb.BatchItem], timeout: float = 120.0
    ) -> batch_pb.Batch:
        resp = await self.batches.SubmitBatch(
            batch_pb.SubmitBatchRequest(request_id=request_id, items=items),
            metadata=self.metadata,
            timeout=timeout,
        )
        return resp.batch

    async def get_batch(self, batch_id: str, timeout: float = 10.0) -> batch_pb.Batch:
        resp = await self.batches.GetBatch(
            batch_pb.GetBatchRequest(batch_id=batch_id), metadata=self.metadata, timeout=timeout
        )
        return resp.batch

    async def watch_batch(
        self, batch_id: str, timeout: float | None = None
    ) -> AsyncIterator[batch_pb.Batch]:
        call = self.batches.WatchBatch(
            batch_pb.WatchBatchRequest(batch_id=batch_id), metadata=self.metadata, timeout=timeout
        )
        async for resp in call:
            yield resp.batch

    async def cancel_batch(
        self, batch_id: str, timeout: float = 10.0
    ) -> batch_pb.CancelBatchResponse:
        return await self.batches.CancelBatch(
            batch_pb.CancelBatchRequest(batch_id=batch_id), metadata=self.metadata, timeout=timeout
        )

    async def jwks(self, timeout: float = 10.0) -> str:
        resp = await self.keys.ListKeys(
            keys_pb2.ListKeysRequest(), metadata=self.metadata, timeout=timeout
        )
        return resp.jwks_json
