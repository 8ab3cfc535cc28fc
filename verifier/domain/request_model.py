"""The verification request's values: who is checked, for what, under which authorization.

The words (relations, purposes, 户口性质, deductions, supporters) and the request as a
draft from the wire and as validated. :mod:`verifier.domain.household` is the name the
rest of hedui imports them by.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hedui_sdk import AssetCategory, IdType, IncomeCategory, SourceKind, Subject, Window
from verifier.domain.errors import FieldViolation

MAX_MEMBERS = 30
MAX_DEDUCTIONS = 100
MAX_DECLARED_ASSETS = 100


class Relation(StrEnum):
    APPLICANT = "applicant"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"
    SUPPORTER = "supporter"
    OTHER = "other"


class Purpose(StrEnum):
    """The five programs one authorization and one check serve (五合一)."""

    DIBAO = "dibao"
    TEKUN = "tekun"
    LINSHI = "linshi"
    DIBAO_BIANYUAN = "dibao_bianyuan"
    YINBING_ZHIPIN = "yinbing_zhipin"


PURPOSE_LABELS: dict[Purpose, str] = {
    Purpose.DIBAO: "最低生活保障",
    Purpose.TEKUN: "特困人员救助供养",
    Purpose.LINSHI: "临时救助",
    Purpose.DIBAO_BIANYUAN: "低保边缘家庭",
    Purpose.YINBING_ZHIPIN: "因病致贫重病患者",
}


class HukouNature(StrEnum):
    """户口性质: which 低保 standard applies."""

    URBAN = "urban"
    RURAL = "rural"


HUKOU_LABELS: dict[HukouNature, str] = {HukouNature.URBAN: "城市", HukouNature.RURAL: "农村"}


class DeductionKind(StrEnum):
    """刚性支出 and necessary job costs that may be deducted from household income."""

    ILLNESS = "illness"
    """医疗: out-of-pocket medical expenses."""
    DISABILITY_CARE = "disability_care"
    """残疾康复、护理."""
    SCHOOLING = "schooling"
    """就学."""
    EMPLOYMENT_COST = "employment_cost"
    """必要的就业成本."""


class SupporterStatus(StrEnum):
    """法定赡养、抚养、扶养义务人 outside the household, as the case file establishes it."""

    UNKNOWN = "unknown"
    """Not established: 特困 needs review."""
    NONE = "none"
    """无法定义务人."""
    INCAPABLE = "incapable"
    """有义务人但其无履行能力 (itself 特困/低保/重残…): counts as none for 特困."""
    CAPABLE = "capable"
    """有具备履行能力的义务人."""


@dataclass(frozen=True, slots=True)
class Circumstances:
    """What the case file establishes about a member."""

    disability_grade: int | None = None
    serious_illness: bool = False
    in_school: bool = False
    able_to_work: bool | None = None
    supporter: SupporterStatus = SupporterStatus.UNKNOWN


@dataclass(frozen=True, slots=True)
class Member:
    """A household member as validated.

    ``hukou_region`` is the GB/T 2260 code of the member's 户籍地 as the caller gave it;
    "" means the household's region. A code equal to the household's region is kept as
    given (not cleared): the stored request is what was sent.
    """

    subject: Subject
    relation: Relation
    circumstances: Circumstances = Circumstances()
    hukou_region: str = ""


@dataclass(frozen=True, slots=True)
class DeductionClaim:
    """An expense over the window to deduct from income, with its evidence reference."""

    kind: DeductionKind
    amount_fen: int
    evidence_ref: str
    member_index: int | None = None


@dataclass(frozen=True, slots=True)
class DeclaredAsset:
    category: AssetCategory
    value_fen: int
    count: int = 0


@dataclass(frozen=True, slots=True)
class Declaration:
    """家庭经济状况申报. Absent categories mean "declared none"."""

    monthly_income_fen: tuple[tuple[IncomeCategory, int], ...] = ()
    assets: tuple[DeclaredAsset, ...] = ()
    member_count: int | None = None


@dataclass(frozen=True, slots=True)
class Household:
    region: str
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class VerificationRequest:
    """A validated request. Build it with :func:`validate_request`."""

    request_id: str
    case_id: str
    authorization_id: str
    purposes: tuple[Purpose, ...]
    household: Household
    sources: tuple[SourceKind, ...]
    window: Window
    hukou: HukouNature = HukouNature.RURAL
    declaration: Declaration | None = None
    deductions: tuple[DeductionClaim, ...] = ()
    current_programs: tuple[Purpose, ...] = ()


def member_regions(request: VerificationRequest) -> tuple[str, ...]:
    """Each member's 户籍 region, in member order: its own ``hukou_region``, else the
    household's region. Federation routing asks the deployment serving it."""
    household = request.household
    return tuple(m.hukou_region or household.region for m in household.members)


@dataclass(frozen=True, slots=True)
class MemberDraft:
    """A member as received, before validation; ``None`` stands for an unset enum."""

    id_type: IdType | None
    id_number: str
    name: str
    relation: Relation | None
    disability_grade: int = 0
    serious_illness: bool = False
    in_school: bool = False
    able_to_work: bool | None = None
    supporter: SupporterStatus = SupporterStatus.UNKNOWN
    hukou_region: str = ""


@dataclass(frozen=True, slots=True)
class DeductionDraft:
    kind: DeductionKind | None
    amount_fen: int
    evidence_ref: str
    member_index: int | None


@dataclass(frozen=True, slots=True)
class DeclarationDraft:
    incomes: tuple[tuple[IncomeCategory | None, int], ...] = ()
    assets: tuple[tuple[AssetCategory | None, int, int], ...] = ()
    member_count: int = 0


@dataclass(frozen=True, slots=True)
class RequestDraft:
    """A request as received from the wire, before validation."""

    request_id: str
    case_id: str
    authorization_id: str
    purposes: tuple[Purpose | None, ...]
    region: str
    members: tuple[MemberDraft, ...]
    sources: tuple[SourceKind | None, ...]
    window_start: str
    window_end: str
    hukou: HukouNature | None = HukouNature.RURAL
    declaration: DeclarationDraft | None = None
    deductions: tuple[DeductionDraft, ...] = ()
    current_programs: tuple[Purpose | None, ...] = ()
    # What the wire translation already found wrong (an enum number no draft field can
    # hold, say), reported together with everything validation finds.
    wire_violations: tuple[FieldViolation, ...] = ()
