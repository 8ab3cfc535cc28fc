"""The change document between two checks of one household (动态管理).

Every report here is made by the real report builder and the real policy engine (the
golden test policy, rural standard S), signed by the real signer and read back through
the verifier, so the comparison is tested on the documents it will meet. Members are
named by index; ID numbers are synthetic (``hedui_sdk.resident_id.make``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
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
from tests.pii import PiiScanner
from verifier import policy
from verifier.domain.changes import (
    ChangeCode,
    DifferentHouseholds,
    ReportVersion,
    WithheldReason,
    change_document,
    household_ref,
    member_refs,
)
from verifier.domain.errors import InvalidArgument
from verifier.domain.household import Household, Member, Purpose, Relation, VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus
from verifier.domain.report import ReportContext, build_report
from verifier.policy.snapshot import Snapshot
from verifier.service.assessment import assessment_input
from verifier.signing.changes import (
    CHANGES_PAYLOAD_TYPE,
    ChangeSigner,
    report_version,
    verify_changes,
)
from verifier.signing.dsse import EnvelopeError, verify_envelope
from verifier.signing.jcs import canonical_bytes
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
EVERYONE = (APPLICANT, SPOUSE, CHILD, BABY, OTHER_APPLICANT)
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


def shop() -> AssetRecord:
    return AssetRecord(
        AssetCategory.BUSINESS,
        "individual",
        500_000,
        prov(SourceKind.BUSINESS_REGISTRATION, "BIZ-1"),
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


def hukou_codes(doc: dict[str, Any]) -> list[str]:
    """The 户籍 codes alone: a registration change may also move program outcomes."""
    return [c for c in codes(doc) if c.startswith("HUKOU_")]


def only(doc: Mapping[str, Any], code: ChangeCode) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in doc["changes"] if c["code"] == code.value]
    assert len(found) == 1, codes(doc)
    return found[0]


def program(c: Check, key: str) -> Mapping[str, Any]:
    prog: Mapping[str, Any] = c.document["assessments"][key]
    return prog


def income_reason(c: Check) -> Mapping[str, Any]:
    return next(
        r
        for r in program(c, "dibao")["reasons"]
        if r["rule"] in ("dibao.income", "dibao.taper") and r["member"] is None
    )


BASE = Facts(monthly_per_capita_fen=S // 2)


# --------------------------------------------------------------------------- no change


def test_the_same_report_twice_has_no_changes() -> None:
    c = check(BASE)
    doc = change_document(c.version, c.version)
    assert doc["changes"] == [] and doc["withheld"] == []
    assert doc["household_figures_compared"] is True
    assert doc["previous"] == doc["current"]


def test_a_new_check_of_an_unchanged_household_has_no_changes() -> None:
    facts = BASE.with_(
        assets={(1, SourceKind.VEHICLE): (vehicle(),), (0, SourceKind.BANK): (deposit(100_000),)}
    )
    prev, cur = check(facts), check(facts)
    doc = change_document(prev.version, cur.version)
    assert doc["changes"] == [] and doc["withheld"] == []
    assert doc["household_figures_compared"] is True
    assert doc["previous"]["envelope_sha256"] != doc["current"]["envelope_sha256"]


def test_the_document_names_both_reports_by_envelope_sha256() -> None:
    import hashlib

    prev, cur = check(BASE), check(BASE)
    doc = change_document(prev.version, cur.version)
    assert doc["schema"] == "hedui.changes/v1"
    assert doc["previous"] == {
        "report_id": prev.document["report_id"],
        "version": 1,
        "verification_id": prev.document["verification_id"],
        "case_id": "CASE-2026-7",
        "created_at": prev.document["created_at"],
        "envelope_sha256": hashlib.sha256(prev.envelope).hexdigest(),
    }
    assert doc["current"]["envelope_sha256"] == hashlib.sha256(cur.envelope).hexdigest()
    assert doc["household"] == {
        "region": REGION,
        "household_ref": household_ref(cur.request, PSEUDONYM_KEY),
    }


# --------------------------------------------------------------------------- income lines


def test_income_rising_to_the_standard_exactly_crosses_it() -> None:
    # The policy's rule is "strictly below the standard": y = S is not below it.
    prev, cur = (
        check(BASE.with_(monthly_per_capita_fen=S - 1)),
        check(BASE.with_(monthly_per_capita_fen=S)),
    )
    assert income_reason(prev)["outcome"] == "ELIGIBLE"
    assert income_reason(cur)["rule"] == "dibao.taper"
    doc = change_document(prev.version, cur.version)
    entry = only(doc, ChangeCode.INCOME_ABOVE_DIBAO_STANDARD)
    assert entry["member"] is None and entry["source"] is None and entry["program"] == "dibao"
    assert entry["before"]["position"] == "below"
    assert entry["before"]["monthly_per_capita_income_fen"] == S - 1
    assert entry["before"]["standard_fen"] == S
    assert entry["before"]["rule"] == "dibao.income" and entry["before"]["reference"]
    assert entry["after"]["position"] == "at_or_above"
    assert entry["after"]["monthly_per_capita_income_fen"] == S
    assert entry["after"]["standard_fen"] == S
    # A receiving household just over the standard tapers off: 渐退 starts, the program
    # stays ELIGIBLE, and the income is still below the 渐退 ceiling.
    assert codes(doc) == ["INCOME_ABOVE_DIBAO_STANDARD", "TAPER_STARTED"]


def test_one_fen_below_the_standard_both_times_is_no_change() -> None:
    doc = changes_between(
        BASE.with_(monthly_per_capita_fen=S // 2), BASE.with_(monthly_per_capita_fen=S - 1)
    )
    assert doc["changes"] == []


def test_the_policys_finding_decides_a_fraction_of_a_fen_not_the_rounded_figure() -> None:
    # Three members and 36·S − 1 fen over 12 months: y = S − 1/36 fen, shown rounded as
    # S. The policy compares the exact value (a fraction of a fen goes to the family), so
    # the household is below the standard, and no crossing is claimed from below it.
    three = BASE.with_(
        members=(APPLICANT, SPOUSE, CHILD),
        registered=(APPLICANT, SPOUSE, CHILD),
        monthly_per_capita_fen=None,
    )
    prev = check(three.with_(wages_fen={0: 30 * S}))
    cur = check(three.with_(wages_fen={0: 36 * S - 1}))
    reason = income_reason(cur)
    assert reason["values"]["monthly_per_capita_income_fen"] == S
    assert reason["outcome"] == "ELIGIBLE", "the policy found y = S − 1/36 fen below S"
    doc = change_document(prev.version, cur.version)
    assert ChangeCode.INCOME_ABOVE_DIBAO_STANDARD.value not in codes(doc)


def test_income_falling_below_the_standard() -> None:
    doc = changes_between(
        BASE.with_(monthly_per_capita_fen=S + S // 4), BASE.with_(monthly_per_capita_fen=S // 2)
    )
    entry = only(doc, ChangeCode.INCOME_BELOW_DIBAO_STANDARD)
    assert entry["before"]["position"] == "at_or_above"
    assert entry["after"]["position"] == "below"
    assert entry["after"]["monthly_per_capita_income_fen"] == S // 2
    assert codes(doc) == ["INCOME_BELOW_DIBAO_STANDARD", "TAPER_ENDED"]


def test_income_crossing_the_bianyuan_line_both_ways() -> None:
    line = S * 3 // 2
    low, high = BASE.with_(monthly_per_capita_fen=line - 1), BASE.with_(monthly_per_capita_fen=line)
    up = changes_between(low, high)
    entry = only(up, ChangeCode.INCOME_ABOVE_BIANYUAN_LINE)
    assert entry["program"] == "dibao_bianyuan"
    assert entry["before"]["rule"] == "dibao_bianyuan.income"
    assert entry["before"]["line_fen"] == line and entry["after"]["line_fen"] == line
    assert entry["before"]["multiplier"] == "1.5"
    assert entry["after"]["monthly_per_capita_income_fen"] == line
    assert "PROGRAM_BECAME_INELIGIBLE" in codes(up)  # 低保边缘 refused at the line
    down = changes_between(high, low)
    assert only(down, ChangeCode.INCOME_BELOW_BIANYUAN_LINE)["after"]["position"] == "below"
    assert ChangeCode.INCOME_ABOVE_BIANYUAN_LINE.value not in codes(down)


def test_income_crossing_the_taper_ceiling_ends_the_taper() -> None:
    ceiling = 2 * S
    prev = check(BASE.with_(monthly_per_capita_fen=ceiling - 1))
    cur = check(BASE.with_(monthly_per_capita_fen=ceiling))
    doc = change_document(prev.version, cur.version)
    entry = only(doc, ChangeCode.INCOME_ABOVE_TAPER_CEILING)
    assert entry["before"]["rule"] == "dibao.taper"
    assert entry["after"]["taper_ceiling_fen"] == ceiling
    assert entry["after"]["taper_multiplier"] == "2"
    assert entry["after"]["currently_receiving"] is True
    assert codes(doc) == ["INCOME_ABOVE_TAPER_CEILING", "PROGRAM_BECAME_INELIGIBLE", "TAPER_ENDED"]
    back = change_document(
        cur.version, check(BASE.with_(monthly_per_capita_fen=S * 3 // 2 + 1)).version
    )
    assert codes(back) == ["INCOME_BELOW_TAPER_CEILING", "PROGRAM_BECAME_ELIGIBLE", "TAPER_STARTED"]


def test_the_taper_ceiling_is_not_claimed_for_a_household_not_receiving_dibao() -> None:
    # 渐退 applies only to current 低保 households: for others the report records no
    # finding about its ceiling, and none is made up.
    new = BASE.with_(receiving=())
    doc = changes_between(
        new.with_(monthly_per_capita_fen=2 * S - 1), new.with_(monthly_per_capita_fen=2 * S)
    )
    assert doc["changes"] == []


def test_the_taper_starting_is_reported_with_its_range() -> None:
    prev, cur = check(BASE), check(BASE.with_(monthly_per_capita_fen=S + S // 10))
    doc = change_document(prev.version, cur.version)
    entry = only(doc, ChangeCode.TAPER_STARTED)
    assert entry["program"] == "dibao"
    assert entry["before"] == {"taper_months": None}
    granted = program(cur, "dibao")["taper_months_range"]
    assert granted is not None and entry["after"]["taper_months"] == granted
    assert entry["after"]["rule"] == "dibao.taper" and entry["after"]["position"] == "below"


def test_a_report_signed_before_the_taper_range_is_read_in_its_own_form() -> None:
    prev = check(BASE.with_(monthly_per_capita_fen=S + 1))
    old = json.loads(json.dumps(prev.document))
    old["assessments"]["dibao"].pop("taper_months_range")
    old["assessments"]["dibao"]["taper_months"] = 3
    stored = dataclasses.replace(prev.version, document=old)
    doc = change_document(stored, check(BASE).version)
    entry = only(doc, ChangeCode.TAPER_ENDED)
    assert entry["before"]["taper_months"] == 3 and entry["after"] == {"taper_months": None}


# --------------------------------------------------------------------------- assets


def test_a_new_vehicle_is_reported_for_its_member_and_source() -> None:
    doc = changes_between(BASE, BASE.with_(assets={(1, SourceKind.VEHICLE): (vehicle(),)}))
    entry = only(doc, ChangeCode.VEHICLE_ADDED)
    assert entry["member"]["index_before"] == 1 and entry["member"]["index_after"] == 1
    assert (
        entry["member"]["id_number_masked"]
        == SPOUSE.id_number[:4] + "*" * 10 + SPOUSE.id_number[-4:]
    )
    assert entry["source"] == "vehicle" and entry["category"] == "vehicle"
    assert entry["before"] == {"count": 0, "value_fen": 0}
    assert entry["after"] == {"count": 1, "value_fen": 4_500_000}
    # No non-exempt vehicle is allowed under the test policy: 低保 is refused now.
    assert codes(doc) == ["VEHICLE_ADDED", "PROGRAM_BECAME_INELIGIBLE", "PROGRAM_BECAME_INELIGIBLE"]
    dibao = next(c for c in doc["changes"] if c.get("program") == "dibao")
    assert dibao["before"]["outcome"] == "ELIGIBLE" and dibao["after"]["outcome"] == "INELIGIBLE"
    assert "dibao.vehicles" in dibao["after"]["rules"]


def test_a_vehicle_sold_is_reported_removed() -> None:
    doc = changes_between(BASE.with_(assets={(0, SourceKind.VEHICLE): (vehicle(),)}), BASE)
    entry = only(doc, ChangeCode.VEHICLE_REMOVED)
    assert entry["before"]["count"] == 1 and entry["after"]["count"] == 0
    assert "PROGRAM_BECAME_ELIGIBLE" in codes(doc)


@pytest.mark.parametrize(
    ("source", "record", "code", "program_code"),
    [
        (SourceKind.REAL_ESTATE, home(area_m2=None), ChangeCode.REAL_ESTATE_ADDED, "NEEDS_REVIEW"),
        (SourceKind.BUSINESS_REGISTRATION, shop(), ChangeCode.BUSINESS_ADDED, None),
    ],
)
def test_a_new_property_or_business_registration(
    source: SourceKind, record: AssetRecord, code: ChangeCode, program_code: str | None
) -> None:
    doc = changes_between(BASE, BASE.with_(assets={(0, source): (record,)}))
    entry = only(doc, code)
    assert entry["member"]["index_after"] == 0 and entry["source"] == source.value
    assert entry["before"]["count"] == 0 and entry["after"]["count"] == 1
    reviews = [c for c in doc["changes"] if c["code"] == "PROGRAM_NEEDS_REVIEW"]
    if program_code == "NEEDS_REVIEW":
        # A home with no recorded area cannot be held to the area limit: people review it.
        dibao = next(c for c in reviews if c["program"] == "dibao")
        assert "dibao.real_estate_area" in dibao["after"]["rules"]
    else:
        assert reviews == []


def test_business_and_property_removed() -> None:
    doc = changes_between(
        BASE.with_(
            assets={
                (0, SourceKind.REAL_ESTATE): (home(),),
                (1, SourceKind.BUSINESS_REGISTRATION): (shop(),),
            }
        ),
        BASE,
    )
    assert {"REAL_ESTATE_REMOVED", "BUSINESS_REMOVED"} <= set(codes(doc))


def test_deposits_crossing_the_asset_limit_both_ways() -> None:
    limit = S * DIBAO_ASSET_MONTHS * 2
    within = BASE.with_(assets={(0, SourceKind.BANK): (deposit(limit),)})
    above = BASE.with_(assets={(0, SourceKind.BANK): (deposit(limit + 1),)})
    up = changes_between(within, above)
    entry = only(up, ChangeCode.FINANCIAL_ASSETS_ABOVE_LIMIT)
    assert entry["program"] == "dibao" and entry["member"] is None
    assert entry["before"] == {
        "position": "within",
        "rule": "dibao.financial_assets",
        "outcome": "ELIGIBLE",
        "reference": entry["before"]["reference"],
        "financial_assets_fen": limit,
        "limit_fen": limit,
        "standard_fen": S,
        "months": DIBAO_ASSET_MONTHS,
        "household_size": 2,
    }
    assert entry["after"]["position"] == "above"
    assert entry["after"]["financial_assets_fen"] == limit + 1
    assert codes(up) == ["FINANCIAL_ASSETS_ABOVE_LIMIT", "PROGRAM_BECAME_INELIGIBLE"]
    down = changes_between(above, within)
    assert codes(down) == ["FINANCIAL_ASSETS_WITHIN_LIMIT", "PROGRAM_BECAME_ELIGIBLE"]


# --------------------------------------------------------------------------- 户籍 and members


def test_a_death_cancels_the_hukou_and_leaves_the_register() -> None:
    doc = changes_between(BASE, BASE.with_(registered=(APPLICANT,)))
    cancelled = only(doc, ChangeCode.HUKOU_CANCELLED)
    assert cancelled["member"]["index_after"] == 1
    assert cancelled["source"] == "household_registration"
    assert cancelled["before"] == {"status": "FOUND"} and cancelled["after"] == {
        "status": "NOT_FOUND"
    }
    removed = only(doc, ChangeCode.HUKOU_MEMBER_REMOVED)
    assert removed["member"]["subject_ref"] == cancelled["member"]["subject_ref"]
    assert removed["registration"]["region_code"] == REGION
    assert removed["registration"]["household_number_masked"] == "HK37******0777"
    assert removed["person"]["relation"] == "配偶"
    assert removed["before"] == {"listed": 1} and removed["after"] == {"listed": 0}
    assert codes(doc)[:2] == ["HUKOU_CANCELLED", "HUKOU_MEMBER_REMOVED"]


def test_a_death_the_registration_says_is_a_cancelled_hukou_and_not_a_removal() -> None:
    # The deceased's own answer is their registration, cancelled for death (注销原因 死亡):
    # that is the change; their leaving the family's 户口簿 is its consequence, not a
    # second change.
    died = BASE.with_(
        registered=(APPLICANT,), cancelled=(SPOUSE,), cancel_reason=CancellationReason.DEATH
    )
    doc = changes_between(BASE, died)
    assert hukou_codes(doc) == ["HUKOU_CANCELLED"]
    # The programs still count the spouse the family declared: they now go to staff.
    assert "PROGRAM_NEEDS_REVIEW" in codes(doc)
    cancelled = only(doc, ChangeCode.HUKOU_CANCELLED)
    assert cancelled["member"]["index_after"] == 1
    assert cancelled["source"] == "household_registration"
    assert cancelled["cancel_reason"] == "death"
    assert cancelled["before"] == {"status": "FOUND", "registration": "active"}
    assert cancelled["after"] == {"status": "FOUND", "registration": "cancelled"}
    # No date of death, no record id, no name: only what the reason code says.
    assert "2025-09-30" not in json.dumps(doc) and "HR-E" not in json.dumps(doc)
    # Checked again later, the death is not news.
    assert changes_between(died, died)["changes"] == []


def test_a_registration_cancelled_before_both_checks_or_missing_before_is_no_change() -> None:
    died = BASE.with_(
        registered=(APPLICANT,), cancelled=(SPOUSE,), cancel_reason=CancellationReason.DEATH
    )
    # Before: no 户籍 answer for the spouse (NOT_FOUND): nothing in force was cancelled,
    # and the family's 户口簿 lists the same people in both checks.
    assert hukou_codes(changes_between(BASE.with_(registered=(APPLICANT,)), died)) == []


def test_a_death_as_an_older_department_answers_it_leaves_the_register() -> None:
    # The deceased's own answer is their cancelled registration, but without the status
    # (an optional field of protocol v1): the household's number, a record of its own
    # listing only them. It is not the family's 户口簿, which no longer lists them; with
    # no status, no cancellation is claimed.
    doc = changes_between(BASE, BASE.with_(registered=(APPLICANT,), cancelled=(SPOUSE,)))
    removed = only(doc, ChangeCode.HUKOU_MEMBER_REMOVED)
    assert removed["member"]["index_after"] == 1
    assert removed["person"]["relation"] == "配偶"
    assert codes(doc) == ["HUKOU_MEMBER_REMOVED"]


def test_a_birth_on_the_register_is_one_change_however_many_members_see_it() -> None:
    doc = changes_between(BASE, BASE.with_(registered=(APPLICANT, SPOUSE, BABY)))
    added = only(doc, ChangeCode.HUKOU_MEMBER_ADDED)
    assert added["member"] is None  # the baby is not (yet) a member the case system checks
    assert added["person"]["id_number_masked"].endswith(BABY.id_number[-4:])
    assert added["before"] == {"listed": 0} and added["after"] == {"listed": 1}
    assert codes(doc) == ["HUKOU_MEMBER_ADDED"]


def test_members_added_to_and_removed_from_the_household_checked() -> None:
    two = BASE
    three = BASE.with_(members=(APPLICANT, SPOUSE, CHILD), registered=(APPLICANT, SPOUSE, CHILD))
    doc = changes_between(two, three)
    added = only(doc, ChangeCode.HOUSEHOLD_MEMBER_ADDED)
    assert added["member"]["index_before"] is None and added["member"]["index_after"] == 2
    assert added["before"] == {"household_size": 2} and added["after"] == {"household_size": 3}
    assert only(doc, ChangeCode.HUKOU_MEMBER_ADDED)["member"]["index_after"] == 2
    back = changes_between(three, two)
    removed = only(back, ChangeCode.HOUSEHOLD_MEMBER_REMOVED)
    assert removed["member"]["index_before"] == 2 and removed["member"]["index_after"] is None
    assert "HUKOU_MEMBER_REMOVED" in codes(back)


def test_members_are_matched_by_subject_ref_not_by_position() -> None:
    # The same two people listed in the other order: nothing changed about anyone.
    spouse_car = BASE.with_(assets={(1, SourceKind.VEHICLE): (vehicle(),)})
    swapped = BASE.with_(
        members=(SPOUSE, APPLICANT),
        monthly_per_capita_fen=None,
        wages_fen={1: (S // 2) * 24},
        assets={(0, SourceKind.VEHICLE): (vehicle(),)},
    )
    doc = change_document(check(spouse_car).version, check(swapped).version)
    assert doc["changes"] == [] and doc["household_figures_compared"] is True


# --------------------------------------------------------------------------- failing sources


def test_a_source_failing_now_is_not_assets_gone() -> None:
    rich = BASE.with_(assets={(0, SourceKind.BANK): (deposit(S * DIBAO_ASSET_MONTHS * 3),)})
    prev = check(rich)
    cur = check(rich.with_(statuses={(0, SourceKind.BANK): SourceStatus.FAILED}))
    # The new report, missing the bank, finds the deposits within the limit …
    limit_now = next(
        r for r in program(cur, "dibao")["reasons"] if r["rule"] == "dibao.financial_assets"
    )
    assert limit_now["outcome"] == "ELIGIBLE"
    doc = change_document(prev.version, cur.version)
    # … but no change is claimed from an answer that does not exist.
    assert codes(doc) == ["SOURCE_NEWLY_FAILING"]
    entry = doc["changes"][0]
    assert entry["member"]["index_after"] == 0 and entry["source"] == "bank"
    assert entry["before"] == {"status": "FOUND"} and entry["after"] == {"status": "FAILED"}
    assert doc["household_figures_compared"] is False
    assert doc["withheld"] == [
        {
            "reason": "SOURCE_UNANSWERED",
            "member": entry["member"],
            "source": "bank",
            "before": "FOUND",
            "after": "FAILED",
        }
    ]


@pytest.mark.parametrize("status", [SourceStatus.FAILED, SourceStatus.DENIED])
def test_income_source_failing_is_not_income_dropped(status: SourceStatus) -> None:
    high = BASE.with_(monthly_per_capita_fen=3 * S)
    doc = changes_between(high, high.with_(statuses={(0, SourceKind.TAX): status}))
    assert codes(doc) == ["SOURCE_NEWLY_FAILING"]
    assert doc["changes"][0]["after"] == {"status": status.value}


def test_a_vehicle_source_failing_is_not_the_vehicle_gone() -> None:
    with_car = BASE.with_(assets={(1, SourceKind.VEHICLE): (vehicle(),)})
    doc = changes_between(
        with_car, with_car.with_(statuses={(1, SourceKind.VEHICLE): SourceStatus.FAILED})
    )
    assert codes(doc) == ["SOURCE_NEWLY_FAILING"]


def test_a_source_answering_again_is_not_a_new_vehicle() -> None:
    with_car = BASE.with_(assets={(1, SourceKind.VEHICLE): (vehicle(),)})
    doc = changes_between(
        with_car.with_(statuses={(1, SourceKind.VEHICLE): SourceStatus.FAILED}), with_car
    )
    assert doc["changes"] == []  # it failed before: not "newly failing", and nothing new
    assert [w["source"] for w in doc["withheld"]] == ["vehicle"]


def test_a_pending_bank_withholds_household_figures_without_claiming_a_failure() -> None:
    doc = changes_between(
        BASE,
        BASE.with_(
            monthly_per_capita_fen=3 * S, statuses={(1, SourceKind.BANK): SourceStatus.PENDING}
        ),
    )
    assert doc["changes"] == []
    assert doc["household_figures_compared"] is False
    assert doc["withheld"][0]["after"] == "PENDING"


def test_a_source_not_asked_this_time_withholds_household_figures() -> None:
    fewer = tuple(k for k in SourceKind if k is not SourceKind.SECURITIES)
    doc = changes_between(BASE, BASE.with_(sources=fewer, monthly_per_capita_fen=3 * S))
    assert doc["changes"] == []
    assert {(w["source"], w["before"], w["after"]) for w in doc["withheld"]} == {
        ("securities", "NOT_FOUND", "ABSENT")
    }


def test_a_report_without_an_assessment_compares_sources_only() -> None:
    prev = check(BASE)
    cur = check(BASE.with_(assets={(0, SourceKind.VEHICLE): (vehicle(),)}), assessed=False)
    doc = change_document(prev.version, cur.version)
    assert codes(doc) == ["VEHICLE_ADDED"]
    assert doc["household_figures_compared"] is False
    assert doc["withheld"] == [
        {
            "reason": WithheldReason.ASSESSMENT_UNAVAILABLE.value,
            "member": None,
            "source": None,
            "before": "ASSESSED",
            "after": "UNAVAILABLE",
        }
    ]


# --------------------------------------------------------------------------- refusals


def test_reports_of_different_households_are_refused() -> None:
    mine = check(BASE)
    theirs = check(BASE.with_(members=(OTHER_APPLICANT,), registered=(OTHER_APPLICANT,)))
    with pytest.raises(DifferentHouseholds) as exc:
        change_document(mine.version, theirs.version)
    assert [v.field for v in exc.value.violations] == ["current.household_ref"]
    assert "different household" in str(exc.value)


def test_reports_of_different_regions_are_refused() -> None:
    here = check(BASE)
    there = check(BASE.with_(region="370305"), assessed=False)
    with pytest.raises(DifferentHouseholds) as exc:
        change_document(here.version, there.version)
    assert [v.field for v in exc.value.violations] == ["current.document.region"]


def test_the_current_report_must_not_be_older() -> None:
    older = check(BASE, at=FIRST_CHECK - timedelta(days=400))
    with pytest.raises(InvalidArgument, match=r"current\.document\.created_at"):
        change_document(check(BASE).version, older.version)


@pytest.mark.parametrize(
    ("tamper", "field_name"),
    [
        (lambda v: dataclasses.replace(v, member_refs=v.member_refs[:1]), "previous.member_refs"),
        (
            lambda v: dataclasses.replace(v, member_refs=(v.member_refs[0], v.member_refs[0])),
            "previous.member_refs",
        ),
        (
            lambda v: dataclasses.replace(v, member_refs=("X" * 64, v.member_refs[1])),
            "previous.member_refs[0]",
        ),
        (lambda v: dataclasses.replace(v, household_ref="ab\n"), "previous.household_ref"),
        (lambda v: dataclasses.replace(v, envelope_sha256="0" * 63), "previous.envelope_sha256"),
        (
            lambda v: dataclasses.replace(v, document={**v.document, "schema": "other/v1"}),
            "previous.document.schema",
        ),
        (
            lambda v: dataclasses.replace(
                v,
                document={
                    **v.document,
                    "sources": [{**v.document["sources"][0], "status": "MAYBE"}],
                },
            ),
            "previous.document.sources[0].status",
        ),
        (
            lambda v: dataclasses.replace(v, document={**v.document, "records": [{"x": 1}]}),
            "previous.document.records[0].member_index",
        ),
        (
            lambda v: dataclasses.replace(v, document={**v.document, "created_at": "yesterday"}),
            "previous.document.created_at",
        ),
    ],
)
def test_malformed_inputs_are_refused_naming_the_field(tamper: Any, field_name: str) -> None:
    good = check(BASE).version
    with pytest.raises(InvalidArgument) as exc:
        change_document(tamper(good), check(BASE).version)
    assert field_name in [v.field for v in exc.value.violations]
    assert not isinstance(exc.value, DifferentHouseholds)


def test_refs_that_do_not_belong_to_the_reports_are_refused() -> None:
    prev, cur = check(BASE), check(BASE)
    crossed = dataclasses.replace(cur.version, member_refs=tuple(reversed(cur.version.member_refs)))
    with pytest.raises(InvalidArgument, match="do not belong") as exc:
        change_document(prev.version, crossed)
    assert {v.field for v in exc.value.violations} == {
        "current.member_refs[0]",
        "current.member_refs[1]",
    }


def test_one_envelope_hash_for_two_different_documents_is_refused() -> None:
    prev, cur = check(BASE), check(BASE)
    lying = dataclasses.replace(cur.version, envelope_sha256=prev.version.envelope_sha256)
    with pytest.raises(InvalidArgument, match="documents differ"):
        change_document(prev.version, lying)


def test_a_change_envelope_is_not_taken_for_a_report() -> None:
    c = check(BASE)
    signed = ChangeSigner(CHANGES_KEY).sign(change_document(c.version, c.version))
    with pytest.raises(EnvelopeError, match="payloadType"):
        report_version(
            signed.envelope,
            KEYS,
            household_ref=c.version.household_ref,
            member_refs=c.version.member_refs,
        )


# --------------------------------------------------------------------------- bytes, signature, privacy


def _busy_pair() -> tuple[Check, Check]:
    """Many kinds of change at once, with plates and record ids in the reports."""
    prev = check(
        BASE.with_(
            members=(APPLICANT, SPOUSE, CHILD),
            registered=(APPLICANT, SPOUSE, CHILD),
            monthly_per_capita_fen=S - 1,
            assets={(2, SourceKind.REAL_ESTATE): (home(),)},
        )
    )
    cur = check(
        BASE.with_(
            members=(APPLICANT, SPOUSE, BABY),
            registered=(APPLICANT, BABY),
            monthly_per_capita_fen=3 * S,
            assets={(0, SourceKind.VEHICLE): (vehicle(),), (0, SourceKind.BANK): (deposit(10**8),)},
        )
    )
    return prev, cur


def test_entries_are_in_a_deterministic_order_whatever_the_input_order() -> None:
    prev, cur = _busy_pair()
    doc = change_document(prev.version, cur.version)
    assert len(doc["changes"]) >= 10
    ranks = [ChangeCode(c["code"]).rank for c in doc["changes"]]
    assert ranks == sorted(ranks)
    rng = random.Random(7)
    for _ in range(5):
        shuffled: list[ReportVersion] = []
        for v in (prev.version, cur.version):
            d = json.loads(json.dumps(v.document))
            for key in ("sources", "records"):
                rng.shuffle(d[key])
            d = dict(reversed(list(d.items())))
            shuffled.append(dataclasses.replace(v, document=d))
        again = change_document(*shuffled)
        assert canonical_bytes(again) == canonical_bytes(doc)


def test_canonical_bytes_are_stable_and_the_signature_verifies() -> None:
    prev, cur = _busy_pair()
    doc = change_document(prev.version, cur.version)
    body = canonical_bytes(doc)
    assert canonical_bytes(change_document(prev.version, cur.version)) == body
    assert canonical_bytes(json.loads(body)) == body
    signed = ChangeSigner(CHANGES_KEY).sign(doc)
    envelope = json.loads(signed.envelope)
    assert envelope["payloadType"] == CHANGES_PAYLOAD_TYPE
    assert base64.b64decode(envelope["payload"]) == body
    verified = verify_changes(signed.envelope, KEYS)
    assert verified.document == doc and verified.key_id == key_id(CHANGES_KEY.public_key())
    # DSSE signs the payload type: the same bytes do not verify as a report.
    with pytest.raises(EnvelopeError):
        verify_envelope(signed.envelope, KEYS)
    tampered = dict(
        envelope, payload=base64.b64encode(body.replace(b"VEHICLE", b"VESSEL")).decode()
    )
    with pytest.raises(EnvelopeError, match="does not verify"):
        verify_changes(json.dumps(tampered).encode(), KEYS)
    with pytest.raises(EnvelopeError, match="no signature by a trusted key"):
        verify_changes(signed.envelope, {key_id(REPORT_KEY.public_key()): REPORT_KEY.public_key()})


def test_only_a_change_document_is_signed_as_one() -> None:
    with pytest.raises(ValueError, match="schema"):
        ChangeSigner(CHANGES_KEY).sign(check(BASE).document)


def test_the_document_holds_no_id_number_name_plate_or_record_id() -> None:
    prev, cur = _busy_pair()
    doc = change_document(prev.version, cur.version)
    signed = ChangeSigner(CHANGES_KEY).sign(doc)
    text = canonical_bytes(doc).decode()
    scanner = PiiScanner(
        known_ids=[p.id_number for p in EVERYONE], names=[p.name for p in EVERYONE], today=TODAY
    )
    assert scanner.text(text, "change document") == []
    assert scanner.data(signed.envelope, "change envelope") == []
    assert (
        scanner.text(base64.b64decode(json.loads(signed.envelope)["payload"]).decode(), "payload")
        == []
    )
    # Department record ids and free-form details (a plate) can identify a person too.
    for secret in (PLATE, VEHICLE_RECORD_ID, "某公司", "DEP-1", "RE-1", "HR-1", "HK370322000777"):
        assert secret not in text
    # The reports themselves do hold those: the scan is not vacuous.
    assert PLATE in json.dumps(cur.document, ensure_ascii=False)
    # And every changed member is still identifiable to hedui by its keyed ref.
    refs = set(member_refs(prev.request, PSEUDONYM_KEY)) | set(
        member_refs(cur.request, PSEUDONYM_KEY)
    )
    assert {c["member"]["subject_ref"] for c in doc["changes"] if c["member"]} <= refs


def test_busy_pair_lists_every_change_it_holds() -> None:
    prev, cur = _busy_pair()
    doc = change_document(prev.version, cur.version)
    assert codes(doc) == [
        "HUKOU_CANCELLED",
        "HUKOU_MEMBER_REMOVED",
        "HUKOU_MEMBER_REMOVED",
        "HUKOU_MEMBER_ADDED",
        "HOUSEHOLD_MEMBER_REMOVED",
        "HOUSEHOLD_MEMBER_ADDED",
        "INCOME_ABOVE_DIBAO_STANDARD",
        "INCOME_ABOVE_BIANYUAN_LINE",
        "INCOME_ABOVE_TAPER_CEILING",
        "FINANCIAL_ASSETS_ABOVE_LIMIT",
        "FINANCIAL_ASSETS_ABOVE_LIMIT",
        "VEHICLE_ADDED",
        "PROGRAM_BECAME_INELIGIBLE",
        "PROGRAM_BECAME_INELIGIBLE",
    ]


def test_the_format_matches_the_golden_document() -> None:
    """The document's shape is a contract (docs/change-document.md). Reports here carry no
    assessment, so the golden file depends on this module and the report's member and
    record format only; envelope digests are left out (any change to the report builder
    moves them). Regenerate with HEDUI_UPDATE_GOLDEN=1 after a deliberate format change."""
    prev = check(
        BASE.with_(assets={(1, SourceKind.REAL_ESTATE): (home(),)}),
        assessed=False,
        number=9001,
        at=FIRST_CHECK,
    )
    cur = check(
        BASE.with_(
            members=(APPLICANT, SPOUSE, BABY),
            registered=(APPLICANT, SPOUSE, BABY),
            assets={
                (0, SourceKind.VEHICLE): (vehicle(),),
                (1, SourceKind.REAL_ESTATE): (home(),),
            },
            statuses={(1, SourceKind.BANK): SourceStatus.DENIED},
        ),
        assessed=False,
        number=9002,
        at=FIRST_CHECK + timedelta(days=183),
    )
    doc = change_document(prev.version, cur.version)
    for side in ("previous", "current"):
        doc[side]["envelope_sha256"] = "<sha256 of the envelope>"
    golden = GOLDEN / "changes_v1.json"
    text = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("HEDUI_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert json.loads(golden.read_text(encoding="utf-8")) == doc
