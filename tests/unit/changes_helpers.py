"""Shared ground for the change-document tests (动态管理): the golden test policy, the people
and facts of one household, and checks made, signed and read back for real.

Every report is made by the real report builder and the real policy engine (the golden test
policy, rural standard S), signed by the real signer and read back through the verifier, so
the comparison is tested on the documents it will meet. Members are named by index; ID
numbers are synthetic (``hedui_sdk.resident_id.make``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    CancellationReason,
    HouseholdRegistrationRecord,
    IdType,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    Record,
    RegisteredMember,
    RegistrationStatus,
    SourceKind,
    Subject,
    Window,
)
from hedui_sdk.resident_id import make
from verifier import policy
from verifier.domain.changes import (
    ChangeCode,
    ReportVersion,
    change_document,
    household_ref,
    member_refs,
)
from verifier.domain.household import Household, Member, Purpose, Relation, VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.report import ReportContext, build_report
from verifier.policy.snapshot import Snapshot
from verifier.service.assessment import assessment_input
from verifier.signing.changes import report_version
from verifier.signing.jwks import key_id
from verifier.signing.signer import ReportSigner

GOLDEN = Path(__file__).parent / "golden"
POLICY = policy.load_policy_file(GOLDEN / "policy_test.toml")
REGION = "370322"
WINDOW = Window(date(2025, 1, 1), date(2025, 12, 31))  # 12 whole months
TODAY = date(2026, 1, 15)
AS_OF = datetime(2026, 1, 10, tzinfo=UTC)
FIRST_CHECK = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
PSEUDONYM_KEY = bytes(range(32))
REPORT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
CHANGES_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
KEYS = {key_id(k.public_key()): k.public_key() for k in (REPORT_KEY, CHANGES_KEY)}

_snap = Snapshot(POLICY, TODAY)
S = _snap.fen("dibao_standard_rural")
"""The 低保 standard the household (rural) is held to, fen per person per month."""
DIBAO_ASSET_MONTHS = _snap.integer("dibao_financial_asset_months")


@dataclass(frozen=True)
class Person:
    id_number: str
    name: str
    relation: Relation
    registered_as: str


APPLICANT = Person(make(REGION, date(1968, 4, 2), 11), "测试甲", Relation.APPLICANT, "户主")
SPOUSE = Person(make(REGION, date(1970, 9, 14), 12), "测试乙", Relation.SPOUSE, "配偶")
CHILD = Person(make(REGION, date(2008, 1, 30), 13), "测试丙", Relation.CHILD, "子女")
BABY = Person(make(REGION, date(2025, 6, 1), 14), "测试丁", Relation.CHILD, "子女")
OTHER_APPLICANT = Person(make(REGION, date(1959, 2, 3), 15), "测试戊", Relation.APPLICANT, "户主")
CANCELLED = RegistrationStatus.CANCELLED
PLATE = "鲁C·D7Q61"
VEHICLE_RECORD_ID = "VEH-REG-0042"


def prov(source: SourceKind, record_id: str) -> Provenance:
    return Provenance(source.value, "test-adapter", "1.0", record_id, AS_OF)


def vehicle(value_fen: int = 4_500_000, record_id: str = VEHICLE_RECORD_ID) -> AssetRecord:
    return AssetRecord(
        AssetCategory.VEHICLE,
        "car",
        value_fen,
        prov(SourceKind.VEHICLE, record_id),
        1,
        None,
        {"plate": PLATE, "vehicle_kind": "car"},
    )


def deposit(value_fen: int) -> AssetRecord:
    return AssetRecord(AssetCategory.DEPOSIT, "current", value_fen, prov(SourceKind.BANK, "DEP-1"))


def home(area_m2: str | None = "70") -> AssetRecord:
    area = Decimal(area_m2) if area_m2 is not None else None
    return AssetRecord(
        AssetCategory.REAL_ESTATE,
        "house",
        30_000_000,
        prov(SourceKind.REAL_ESTATE, "RE-1"),
        1,
        area,
    )


@dataclass(frozen=True)
class Facts:
    """What the departments hold about a household at one check."""

    members: tuple[Person, ...] = (APPLICANT, SPOUSE)
    monthly_per_capita_fen: int | None = None
    """Set the household's wages so income ÷ 12 months ÷ members is exactly this."""
    wages_fen: Mapping[int, int] = field(default_factory=dict)
    """Wages over the window per member index (used when monthly_per_capita_fen is None)."""
    assets: Mapping[tuple[int, SourceKind], tuple[AssetRecord, ...]] = field(default_factory=dict)
    registered: tuple[Person, ...] = (APPLICANT, SPOUSE)
    """Who the 户口簿 lists; a member not on it has no 户籍 (NOT_FOUND) unless cancelled."""
    cancelled: tuple[Person, ...] = ()
    """Members whose own 户籍 answer is their cancelled registration, as the sandbox gives
    it after a death: the same household number, a record id of its own, only them."""
    cancel_reason: CancellationReason | None = None
    """Why, when the record says so (a status of cancelled); None: a department that gives
    the cancelled registration without a status."""
    statuses: Mapping[tuple[int, SourceKind], SourceStatus] = field(default_factory=dict)
    purposes: tuple[Purpose, ...] = (Purpose.DIBAO, Purpose.DIBAO_BIANYUAN)
    receiving: tuple[Purpose, ...] = (Purpose.DIBAO,)
    region: str = REGION
    sources: tuple[SourceKind, ...] = tuple(SourceKind)

    def wages(self) -> Mapping[int, int]:
        if self.monthly_per_capita_fen is None:
            return self.wages_fen
        return {0: self.monthly_per_capita_fen * 12 * len(self.members)}

    def with_(self, **changes: Any) -> Facts:
        return dataclasses.replace(self, **changes)


def _records(facts: Facts, i: int, kind: SourceKind) -> tuple[Record, ...]:
    if kind is SourceKind.TAX and facts.wages().get(i):
        return (
            IncomeRecord(
                IncomeCategory.WAGES,
                "salary",
                WINDOW.start,
                WINDOW.end,
                facts.wages()[i],
                prov(kind, f"TAX-{i}"),
                "某公司",
            ),
        )
    if kind is SourceKind.HOUSEHOLD_REGISTRATION:
        person = facts.members[i]
        if person in facts.cancelled:
            own = RegisteredMember(
                IdType.RESIDENT_ID.value, person.id_number, person.name, person.registered_as
            )
            status = RegistrationStatus.ACTIVE if facts.cancel_reason is None else CANCELLED
            return (
                HouseholdRegistrationRecord(
                    REGION,
                    (own,),
                    prov(kind, f"HR-E{i:07d}"),
                    "HK370322000777",
                    status,
                    facts.cancel_reason,
                    None if facts.cancel_reason is None else date(2025, 9, 30),
                ),
            )
        if person not in facts.registered:
            return ()
        listed = tuple(
            RegisteredMember(IdType.RESIDENT_ID.value, p.id_number, p.name, p.registered_as)
            for p in facts.registered
        )
        return (HouseholdRegistrationRecord(REGION, listed, prov(kind, "HR-1"), "HK370322000777"),)
    return facts.assets.get((i, kind), ())


@dataclass(frozen=True)
class Check:
    request: VerificationRequest
    document: dict[str, Any]
    envelope: bytes
    version: ReportVersion


_checks = 0


def check(
    facts: Facts,
    *,
    at: datetime | None = None,
    assessed: bool = True,
    refs_key: bytes = PSEUDONYM_KEY,
    number: int | None = None,
) -> Check:
    """One check of ``facts``: request, outcomes, assessment, report, envelope.

    Checks are numbered in the order made (ids and times follow), unless ``number``."""
    global _checks
    _checks += 1
    n = _checks if number is None else number
    request = VerificationRequest(
        request_id=f"req-{n}",
        case_id="CASE-2026-7",
        authorization_id="SQ-2025-7",
        purposes=facts.purposes,
        household=Household(
            facts.region,
            tuple(
                Member(Subject(IdType.RESIDENT_ID, p.id_number, p.name), p.relation)
                for p in facts.members
            ),
        ),
        sources=facts.sources,
        window=WINDOW,
        current_programs=facts.receiving,
    )
    outcomes = []
    for i in range(len(facts.members)):
        for kind in facts.sources:
            records = _records(facts, i, kind)
            status = facts.statuses.get((i, kind))
            if status is None:
                status = SourceStatus.FOUND if records else SourceStatus.NOT_FOUND
            answered = status in (SourceStatus.FOUND, SourceStatus.NOT_FOUND)
            outcomes.append(
                SourceOutcome(
                    i,
                    kind,
                    status,
                    "test-adapter",
                    "1.0",
                    AS_OF if answered else None,
                    records if status is SourceStatus.FOUND else (),
                    "" if answered else "source did not answer",
                    attempts=1,
                )
            )
    sections: dict[str, Any] | None = None
    if assessed:
        sections = policy.assess(assessment_input(request, outcomes, TODAY), POLICY).to_json()
        # As the service does: assessments for the programs the check is for.
        wanted = {p.value for p in facts.purposes}
        assessments = sections["assessments"]
        assert isinstance(assessments, dict)
        sections["assessments"] = {k: v for k, v in assessments.items() if k in wanted}
    created = at or FIRST_CHECK + timedelta(days=n)
    doc = build_report(
        ReportContext(
            report_id=f"rep-{n:04d}",
            version=1,
            previous_sha256=None,
            verification_id=f"00000000-0000-4000-8000-{n:012d}",
            created_at=created,
            requester={"system": "case-system-a", "user": "worker-1", "role": "caseworker"},
        ),
        request,
        outcomes,
        sections,
    )
    envelope = ReportSigner(REPORT_KEY).sign(doc).envelope
    version = report_version(
        envelope,
        KEYS,
        household_ref=household_ref(request, refs_key),
        member_refs=member_refs(request, refs_key),
    )
    return Check(request, doc, envelope, version)


def changes_between(before: Facts, after: Facts) -> dict[str, Any]:
    return change_document(check(before).version, check(after).version)


def codes(doc: Mapping[str, Any]) -> list[str]:
    return [c["code"] for c in doc["changes"]]


def only(doc: Mapping[str, Any], code: ChangeCode) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in doc["changes"] if c["code"] == code.value]
    assert len(found) == 1, codes(doc)
    return found[0]


def program(c: Check, key: str) -> Mapping[str, Any]:
    prog: Mapping[str, Any] = c.document["assessments"][key]
    return prog


BASE = Facts(monthly_per_capita_fen=S // 2)
