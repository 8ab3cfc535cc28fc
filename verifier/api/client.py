"""A small gRPC client for the CLI, the demo and tests: the same wire a case system uses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
from google.type import date_pb2
from hedui.v1 import batch_pb2 as batch_pb
from hedui.v1 import (
    batch_pb2_grpc,
    consent_pb2_grpc,
    keys_pb2,
    keys_pb2_grpc,
    roster_pb2_grpc,
    verification_pb2_grpc,
)
from hedui.v1 import common_pb2 as common
from hedui.v1 import consent_pb2 as consent_pb
from hedui.v1 import roster_pb2 as roster_pb
from hedui.v1 import verification_pb2 as pb

from adapters import AssetCategory, IdType, IncomeCategory, SourceKind
from verifier.api.consent_servicer import ROLES_TO_PB
from verifier.api.translate import (
    ASSET_CATEGORIES_TO_PB,
    DEDUCTION_KINDS_TO_PB,
    HUKOU_TO_PB,
    ID_TYPES_TO_PB,
    INCOME_CATEGORIES_TO_PB,
    PURPOSES_TO_PB,
    RELATIONS_TO_PB,
    SOURCES_TO_PB,
    SUPPORTERS_TO_PB,
)
from verifier.domain.consent import SignatoryRole
from verifier.domain.household import DeductionKind, HukouNature, Purpose, Relation, SupporterStatus


class HouseholdFileError(ValueError):
    """The household file is malformed; the message names the field."""


def _enum(table: Mapping[Any, Any], kind: Any, value: object, where: str) -> Any:
    try:
        return table[kind(value)]
    except (ValueError, KeyError):
        raise HouseholdFileError(f"{where}: unknown value") from None


def _member(i: int, m: Mapping[str, Any]) -> pb.Member:
    c = m.get("circumstances") or {}
    able = c.get("able_to_work")
    return pb.Member(
        id_type=_enum(
            ID_TYPES_TO_PB, IdType, m.get("id_type", "resident_id"), f"members[{i}].id_type"
        ),
        id_number=str(m.get("id_number", "")),
        name=str(m.get("name", "")),
        relation=_enum(RELATIONS_TO_PB, Relation, m.get("relation"), f"members[{i}].relation"),
        circumstances=pb.MemberCircumstances(
            disability_grade=int(c.get("disability_grade") or 0),
            serious_illness=bool(c.get("serious_illness", False)),
            in_school=bool(c.get("in_school", False)),
            work_capacity=common.WORK_CAPACITY_UNSPECIFIED
            if able is None
            else (common.WORK_CAPACITY_ABLE if able else common.WORK_CAPACITY_UNABLE),
            supporter=_enum(
                SUPPORTERS_TO_PB,
                SupporterStatus,
                c.get("supporter", "unknown"),
                f"members[{i}].circumstances.supporter",
            ),
        ),
    )


def _declaration(d: Mapping[str, Any]) -> pb.Declaration:
    return pb.Declaration(
        incomes=[
            pb.DeclaredIncome(
                category=_enum(
                    INCOME_CATEGORIES_TO_PB, IncomeCategory, cat, f"declaration.income.{cat}"
                ),
                monthly_fen=int(fen),
            )
            for cat, fen in (d.get("monthly_income_fen") or {}).items()
        ],
        assets=[
            pb.DeclaredAsset(
                category=_enum(
                    ASSET_CATEGORIES_TO_PB,
                    AssetCategory,
                    a.get("category"),
                    f"declaration.assets[{i}]",
                ),
                value_fen=int(a.get("value_fen", 0)),
                count=int(a.get("count", 0)),
            )
            for i, a in enumerate(d.get("assets") or [])
        ],
        member_count=int(d.get("member_count") or 0),
    )


def _deduction(i: int, d: Mapping[str, Any]) -> pb.Deduction:
    out = pb.Deduction(
        kind=_enum(DEDUCTION_KINDS_TO_PB, DeductionKind, d.get("kind"), f"deductions[{i}].kind"),
        amount_fen=int(d.get("amount_fen", 0)),
        evidence_ref=str(d.get("evidence_ref", "")),
    )
    if d.get("member_index") is not None:
        out.member_index = int(d["member_index"])
    return out


def request_from_json(
    doc: Mapping[str, Any], *, wait: bool = False
) -> pb.CreateVerificationRequest:
    """Build a request from a household JSON document (see docs/household-file.md).

    Money is integer fen; a float amount is refused, never rounded.
    """
    _refuse_floats(doc, "$")
    try:
        req = pb.CreateVerificationRequest(
            request_id=str(doc.get("request_id", "")),
            case_id=str(doc.get("case_id", "")),
            authorization_id=str(doc.get("authorization_id", "")),
            purposes=[
                _enum(PURPOSES_TO_PB, Purpose, p, f"purposes[{i}]")
                for i, p in enumerate(doc.get("purposes", []))
            ],
            household=pb.Household(
                region_code=str(doc.get("region_code", "")),
                members=[_member(i, m) for i, m in enumerate(doc["members"])],
            ),
            sources=[
                _enum(SOURCES_TO_PB, SourceKind, s, f"sources[{i}]")
                for i, s in enumerate(doc.get("sources", []))
            ],
            window=pb.Window(
                start_date=_date(doc.get("window", {}).get("start"), "window.start"),
                end_date=_date(doc.get("window", {}).get("end"), "window.end"),
            ),
            wait=wait,
            hukou_nature=_enum(HUKOU_TO_PB, HukouNature, doc.get("hukou"), "hukou"),
            deductions=[_deduction(i, d) for i, d in enumerate(doc.get("deductions", []))],
            current_programs=[
                _enum(PURPOSES_TO_PB, Purpose, p, f"current_programs[{i}]")
                for i, p in enumerate(doc.get("current_programs", []))
            ],
        )
        if doc.get("declaration") is not None:
            req.declaration.CopyFrom(_declaration(doc["declaration"]))
        return req
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise HouseholdFileError(f"household file is missing or mistypes {exc}") from None


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _date(value: object, where: str) -> date_pb2.Date | None:
    """A YYYY-MM-DD text as a google.type.Date (None when absent); the server checks that
    it is a real date."""
    if value is None or value == "":
        return None
    m = _ISO_DATE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise HouseholdFileError(f"{where}: must be a date, YYYY-MM-DD")
    return date_pb2.Date(year=int(m[1]), month=int(m[2]), day=int(m[3]))


def _refuse_floats(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise HouseholdFileError(f"{path}: amounts are integer fen, not decimals")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _refuse_floats(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_floats(v, f"{path}[{i}]")


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
            grpc.aio.secure_channel(target, credentials)
            if credentials
            else grpc.aio.insecure_channel(target)
        )
        md = [("x-hedui-user", user), ("x-hedui-role", role)]
        if system:
            md.append(("x-hedui-system", system))
        self._md = tuple(md)
        self.verifications = verification_pb2_grpc.VerificationServiceStub(self.channel)
        self.keys = keys_pb2_grpc.KeyServiceStub(self.channel)
        self.consents = consent_pb2_grpc.ConsentServiceStub(self.channel)
        self.roster = roster_pb2_grpc.RosterServiceStub(self.channel)
        self.batches = batch_pb2_grpc.BatchServiceStub(self.channel)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def create(
        self, req: pb.CreateVerificationRequest, timeout: float = 60.0
    ) -> pb.Verification:
        resp = await self.verifications.CreateVerification(req, metadata=self._md, timeout=timeout)
        return resp.verification

    async def get(self, vid: str, timeout: float = 10.0) -> pb.Verification:
        resp = await self.verifications.GetVerification(
            pb.GetVerificationRequest(verification_id=vid), metadata=self._md, timeout=timeout
        )
        return resp.verification

    async def watch(
        self, vid: str, timeout: float | None = None
    ) -> AsyncIterator[pb.WatchVerificationResponse]:
        call = self.verifications.WatchVerification(
            pb.WatchVerificationRequest(verification_id=vid), metadata=self._md, timeout=timeout
        )
        async for event in call:
            yield event

    async def report(
        self, vid: str, version: int | None = None, timeout: float = 10.0
    ) -> pb.GetReportResponse:
        """Report ``version``, or the latest when None."""
        return await self.verifications.GetReport(
            pb.GetReportRequest(verification_id=vid, version=version),
            metadata=self._md,
            timeout=timeout,
        )

    async def register_consent(
        self, consent: consent_pb.Consent, timeout: float = 10.0
    ) -> consent_pb.RegisterConsentResponse:
        return await self.consents.RegisterConsent(
            consent_pb.RegisterConsentRequest(consent=consent), metadata=self._md, timeout=timeout
        )

    async def revoke_consent(
        self, number: str, reason: str, timeout: float = 10.0
    ) -> consent_pb.Consent:
        resp = await self.consents.RevokeConsent(
            consent_pb.RevokeConsentRequest(number=number, reason=reason),
            metadata=self._md,
            timeout=timeout,
        )
        return resp.consent

    async def get_consent(self, number: str, timeout: float = 10.0) -> consent_pb.Consent:
        resp = await self.consents.GetConsent(
            consent_pb.GetConsentRequest(number=number), metadata=self._md, timeout=timeout
        )
        return resp.consent

    async def import_roster(
        self, req: roster_pb.ImportRosterRequest, timeout: float = 120.0
    ) -> roster_pb.ImportRosterResponse:
        return await self.roster.ImportRoster(req, metadata=self._md, timeout=timeout)

    async def list_roster(
        self, req: roster_pb.ListRosterEntriesRequest, timeout: float = 30.0
    ) -> roster_pb.ListRosterEntriesResponse:
        return await self.roster.ListRosterEntries(req, metadata=self._md, timeout=timeout)

    async def get_roster_entry(
        self, household_ref: str, region_code: str = "", timeout: float = 10.0
    ) -> roster_pb.RosterEntry:
        resp = await self.roster.GetRosterEntry(
            roster_pb.GetRosterEntryRequest(household_ref=household_ref, region_code=region_code),
            metadata=self._md,
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
            metadata=self._md,
            timeout=timeout,
        )
        return resp.entry

    async def list_verifications(
        self, req: pb.ListVerificationsRequest, timeout: float = 10.0
    ) -> pb.ListVerificationsResponse:
        return await self.verifications.ListVerifications(req, metadata=self._md, timeout=timeout)

    async def submit_batch(
        self, request_id: str, items: list[batch_pb.BatchItem], timeout: float = 120.0
    ) -> batch_pb.Batch:
        resp = await self.batches.SubmitBatch(
            batch_pb.SubmitBatchRequest(request_id=request_id, items=items),
            metadata=self._md,
            timeout=timeout,
        )
        return resp.batch

    async def get_batch(self, batch_id: str, timeout: float = 10.0) -> batch_pb.Batch:
        resp = await self.batches.GetBatch(
            batch_pb.GetBatchRequest(batch_id=batch_id), metadata=self._md, timeout=timeout
        )
        return resp.batch

    async def watch_batch(
        self, batch_id: str, timeout: float | None = None
    ) -> AsyncIterator[batch_pb.Batch]:
        call = self.batches.WatchBatch(
            batch_pb.WatchBatchRequest(batch_id=batch_id), metadata=self._md, timeout=timeout
        )
        async for resp in call:
            yield resp.batch

    async def cancel_batch(
        self, batch_id: str, timeout: float = 10.0
    ) -> batch_pb.CancelBatchResponse:
        return await self.batches.CancelBatch(
            batch_pb.CancelBatchRequest(batch_id=batch_id), metadata=self._md, timeout=timeout
        )

    async def jwks(self, timeout: float = 10.0) -> str:
        resp = await self.keys.ListKeys(
            keys_pb2.ListKeysRequest(), metadata=self._md, timeout=timeout
        )
        return resp.jwks_json


def consent_from_json(doc: Mapping[str, Any]) -> consent_pb.Consent:
    """A 授权书 from a JSON document (see docs/household-file.md)."""
    try:
        return consent_pb.Consent(
            number=str(doc.get("number", "")),
            region_code=str(doc.get("region_code", "")),
            subjects=[
                consent_pb.ConsentSubject(
                    id_type=_enum(
                        ID_TYPES_TO_PB,
                        IdType,
                        s.get("id_type", "resident_id"),
                        f"subjects[{i}].id_type",
                    ),
                    id_number=str(s.get("id_number", "")),
                    name=str(s.get("name", "")),
                    relation=_enum(
                        RELATIONS_TO_PB, Relation, s.get("relation"), f"subjects[{i}].relation"
                    ),
                )
                for i, s in enumerate(doc["subjects"])
            ],
            signatories=[
                consent_pb.Signatory(
                    id_type=_enum(
                        ID_TYPES_TO_PB,
                        IdType,
                        g.get("id_type", "resident_id"),
                        f"signatories[{i}].id_type",
                    ),
                    id_number=str(g.get("id_number", "")),
                    name=str(g.get("name", "")),
                    role=_enum(ROLES_TO_PB, SignatoryRole, g.get("role"), f"signatories[{i}].role"),
                    signs_for=[int(x) for x in g.get("signs_for", [])],
                )
                for i, g in enumerate(doc["signatories"])
            ],
            sources=[
                _enum(SOURCES_TO_PB, SourceKind, k, f"sources[{i}]")
                for i, k in enumerate(doc.get("sources", []))
            ],
            purposes=[
                _enum(PURPOSES_TO_PB, Purpose, p, f"purposes[{i}]")
                for i, p in enumerate(doc.get("purposes", []))
            ],
            valid_from=_date(doc.get("valid_from"), "valid_from"),
            valid_until=_date(doc.get("valid_until"), "valid_until"),
            evidence_sha256=str(doc.get("evidence_sha256", "")),
            evidence_location=str(doc.get("evidence_location", "")),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise HouseholdFileError(f"consent file is missing or mistypes {exc}") from None
