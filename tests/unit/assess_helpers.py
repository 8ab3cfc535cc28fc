"""Shared ground for the assessment's golden cases, computed by hand to the fen.

Unless a case says otherwise: policy ``golden/policy_test.toml``; request 2025-03-10, so
the window is 2024-03-01..2025-02-28 = 12 whole months; urban 低保 standard S = 100000 fen
(1000.00 元, in force from 2024-07-01; 95000 before), rural 80000; every income and asset
source answered (the departments verifying circumstances only where a case says so).
Per-capita income y = window income ÷ 12 ÷ household size, half-up once.
Members are named by index only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    DiagnosisKind,
    DiagnosisRecord,
    DisabilityCertificateRecord,
    DisabilityType,
    EducationLevel,
    EnrolmentRecord,
    IncomeCategory,
    IncomeRecord,
    MedicalExpenseRecord,
    Provenance,
    Record,
    SourceKind,
    Window,
)
from verifier.policy import (
    AssessmentInput,
    Declaration,
    Deduction,
    DeductionKind,
    HukouNature,
    Member,
    Purpose,
    SourceStatus,
    assess,
    load_policy_file,
)

GOLDEN = Path(__file__).parent / "golden"
POLICY = load_policy_file(GOLDEN / "policy_test.toml")
REQ = date(2025, 3, 10)
W_START, W_END = date(2024, 3, 1), date(2025, 2, 28)
AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
S = 100000


EVIDENCE_SOURCES = frozenset(
    {
        SourceKind.MEDICAL_INSURANCE,
        SourceKind.DISABILITY,
        SourceKind.EDUCATION,
        SourceKind.EMPLOYMENT,
        SourceKind.CIVIL_AFFAIRS,
    }
)
"""The departments that verify members' circumstances (verifier.policy.facts)."""
INCOME_AND_ASSET_SOURCES = tuple(k for k in SourceKind if k not in EVIDENCE_SOURCES)
"""What "every source answered" means by default: a case about circumstances names the
evidence departments' answers itself, so the declaration stands unless it does."""


def prov(rid: str, source: SourceKind = SourceKind.TAX) -> Provenance:
    return Provenance(source.value, "test-adapter", "1.0", rid, AS_OF)


def income(
    amount_fen: int,
    rid: str = "inc",
    *,
    start: date = W_START,
    end: date = W_END,
    category: IncomeCategory = IncomeCategory.WAGES,
) -> IncomeRecord:
    return IncomeRecord(category, "salary", start, end, amount_fen, prov(rid))


def asset(
    category: AssetCategory,
    value_fen: int = 0,
    rid: str = "ast",
    *,
    count: int = 1,
    area: str | None = None,
    kind: str = "",
    vehicle_kind: str | None = None,
) -> AssetRecord:
    details = {"vehicle_kind": vehicle_kind} if vehicle_kind else {}
    return AssetRecord(
        category,
        kind,
        value_fen,
        prov(rid, SourceKind.BANK),
        count,
        Decimal(area) if area is not None else None,
        details,
    )


def certificate(grade: int, rid: str = "dis") -> DisabilityCertificateRecord:
    """A 残疾人证 issued long before the request, without an end date."""
    return DisabilityCertificateRecord(
        DisabilityType.PHYSICAL, grade, date(2020, 1, 1), None, prov(rid, SourceKind.DISABILITY)
    )


def diagnosis(rid: str = "dx", kind: DiagnosisKind = DiagnosisKind.CATASTROPHIC) -> DiagnosisRecord:
    """A 医保 diagnosis certified before the window, without an end date."""
    return DiagnosisRecord(
        kind, "重特大疾病", date(2024, 1, 1), None, prov(rid, SourceKind.MEDICAL_INSURANCE)
    )


def bill(
    self_paid_fen: int, rid: str = "bill", *, start: date = W_START, end: date = W_END
) -> MedicalExpenseRecord:
    """医保-settled bills over ``start..end`` of which the family paid ``self_paid_fen``."""
    return MedicalExpenseRecord(
        "inpatient",
        start,
        end,
        self_paid_fen * 2,
        self_paid_fen,
        self_paid_fen,
        "县人民医院",
        prov(rid, SourceKind.MEDICAL_INSURANCE),
    )


def enrolment(fees_fen: int, rid: str = "enr", *, start: date = W_START) -> EnrolmentRecord:
    """A current enrolment since ``start`` with ``fees_fen`` paid."""
    return EnrolmentRecord(
        EducationLevel.SENIOR_SECONDARY,
        "县第一中学",
        start,
        None,
        fees_fen,
        prov(rid, SourceKind.EDUCATION),
    )


def evidence_as_declared(
    members: Sequence[Member], deductions: Sequence[Deduction], start: date, end: date
) -> dict[int, list[Record]]:
    """The departments' records that confirm the declaration exactly: a certificate of each
    declared grade, a diagnosis for each declared illness, an enrolment for each member in
    school (with their declared school fees), bills for each declared medical expense."""
    out: dict[int, list[Record]] = {m.index: [] for m in members}
    for m in members:
        own = [d for d in deductions if (d.member_index or 0) == m.index]
        if m.disability_grade is not None:
            out[m.index].append(certificate(m.disability_grade, f"dis{m.index}"))
        if m.serious_illness:
            out[m.index].append(diagnosis(f"dx{m.index}"))
        fees = sum(d.amount_fen for d in own if d.kind is DeductionKind.SCHOOLING)
        if m.in_school or fees:
            out[m.index].append(enrolment(fees, f"enr{m.index}", start=start))
        paid = sum(d.amount_fen for d in own if d.kind is DeductionKind.ILLNESS)
        if paid:
            out[m.index].append(bill(paid, f"bill{m.index}", start=start, end=end))
    return out


def adult(i: int, age: int = 40, **kw: Any) -> Member:
    return Member(index=i, relation="本人" if i == 0 else "家庭成员", age=age, **kw)


def household(
    members: Sequence[Member] | int,
    records: Mapping[int, Sequence[Record]] | None = None,
    *,
    hukou: HukouNature = HukouNature.URBAN,
    deductions: Sequence[Deduction] = (),
    declaration: Declaration | None = None,
    current: frozenset[Purpose] = frozenset(),
    sources: Mapping[int, Mapping[SourceKind, SourceStatus]] | None = None,
    request: date = REQ,
    window: Window | None = None,
) -> AssessmentInput:
    ms = tuple(adult(i) for i in range(members)) if isinstance(members, int) else tuple(members)
    if sources is None:
        sources = {m.index: dict.fromkeys(INCOME_AND_ASSET_SOURCES, SourceStatus.FOUND) for m in ms}
    return AssessmentInput(
        region="370322",
        request_date=request,
        hukou=hukou,
        members=ms,
        records={k: tuple(v) for k, v in (records or {}).items()},
        sources=sources,
        deductions=tuple(deductions),
        declaration=declaration,
        window=window,
        current_programs=current,
    )


def run(inp: AssessmentInput) -> dict[str, Any]:
    return assess(inp, POLICY).to_json()


def prog(j: dict[str, Any], p: str) -> dict[str, Any]:
    out: dict[str, Any] = j["assessments"][p]
    return out


def outcome(j: dict[str, Any], p: str) -> str:
    return str(prog(j, p)["outcome"])


def reason(j: dict[str, Any], p: str, rule: str) -> dict[str, Any]:
    for r in prog(j, p)["reasons"]:
        if r["rule"] == rule:
            return dict(r)
    raise AssertionError(f"no reason {rule} in {p}")


def y_of(j: dict[str, Any]) -> int:
    return int(j["aggregates"]["monthly_per_capita_income_fen"])
