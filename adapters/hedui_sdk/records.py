"""Normalized records an adapter returns. Money is always integer fen (分).

Each record names where it came from in its :class:`Provenance`, so a reviewer can
trace every number in a report back to a department's own record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from hedui_sdk.masking import mask_id_number, mask_name


class IncomeCategory(StrEnum):
    """Income categories used by the assessment rules."""

    WAGES = "wages"
    """工资性收入: wages, salaries, bonuses."""
    BUSINESS = "business"
    """经营净收入: net income from a business."""
    PROPERTY = "property"
    """财产净收入: rent, interest, dividends."""
    TRANSFER = "transfer"
    """转移净收入: pensions, benefits, alimony and support received."""


class AssetCategory(StrEnum):
    """Asset categories used by the assessment rules."""

    DEPOSIT = "deposit"
    """银行存款."""
    SECURITIES = "securities"
    """证券 (market value)."""
    INSURANCE_CASH_VALUE = "insurance_cash_value"
    """商业保险现金价值."""
    INTERNET_FINANCE = "internet_finance"
    """互联网金融资产."""
    PROVIDENT_FUND = "provident_fund"
    """住房公积金余额."""
    VEHICLE = "vehicle"
    """机动车."""
    VESSEL = "vessel"
    """船舶."""
    REAL_ESTATE = "real_estate"
    """不动产."""
    BUSINESS = "business"
    """市场主体 (registered capital or equity share)."""


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a record came from.

    ``source`` is the :class:`~hedui_sdk.contract.SourceKind` value, ``adapter`` and
    ``adapter_version`` the adapter that fetched it, ``record_id`` the department's own
    identifier for the record and ``as_of`` when the department's data was current.
    """

    source: str
    adapter: str
    adapter_version: str
    record_id: str
    as_of: datetime


@dataclass(frozen=True, slots=True)
class IncomeRecord:
    """Income received over a period, in fen.

    ``kind`` is a finer, source-specific label (``"salary"``, ``"pension"``,
    ``"unemployment_benefit"``...); ``payer`` names who paid (an employer, a fund).
    """

    category: IncomeCategory
    kind: str
    period_start: date
    period_end: date
    amount_fen: int
    provenance: Provenance
    payer: str = ""


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """An asset the subject holds, valued in fen.

    ``count`` is how many (properties, vehicles); ``area_m2`` the floor area for real
    estate; ``details`` free-form department facts (``{"vehicle_kind": "motorcycle"}``).
    """

    category: AssetCategory
    kind: str
    value_fen: int
    provenance: Provenance
    count: int = 1
    area_m2: Decimal | None = None
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContributionRecord:
    """A social insurance or provident fund contribution period.

    ``base_fen`` is the monthly contribution base (often the declared wage) and
    ``paid_fen`` what was paid over the period by the person and employer together.
    """

    scheme: str
    period_start: date
    period_end: date
    base_fen: int
    paid_fen: int
    provenance: Provenance
    employer: str = ""


@dataclass(frozen=True, slots=True)
class RegisteredMember:
    """A person on a household registration (户口簿)."""

    id_type: str
    id_number: str
    name: str
    relation: str

    def __repr__(self) -> str:
        return (
            f"RegisteredMember(id_number={mask_id_number(self.id_number)},"
            f" name={mask_name(self.name)}, relation={self.relation})"
        )


class RegistrationStatus(StrEnum):
    """Whether a household registration (户籍) is in force."""

    ACTIVE = "active"
    """正常: the registration is in force (the default: most answers are)."""
    CANCELLED = "cancelled"
    """已注销: the registration was cancelled; the record says why and, if the department
    gives it, on which day."""


class CancellationReason(StrEnum):
    """Why a household registration was cancelled (户口注销原因), as 户籍 records it."""

    DEATH = "death"
    """死亡: the person died (a death certificate was registered)."""
    MOVED_OUT = "moved_out"
    """迁出: the person moved their registration out of this 户籍 office's area."""
    OTHER = "other"
    """其他: any other reason (settling abroad, a duplicate registration…), or one the
    department does not say."""


@dataclass(frozen=True, slots=True)
class HouseholdRegistrationRecord:
    """A household registration: its region and the members registered on it.

    ``status`` is :attr:`RegistrationStatus.ACTIVE` for a registration in force (the
    default). A cancelled registration (注销) is the department's record of one person:
    ``status`` is :attr:`RegistrationStatus.CANCELLED`, ``cancel_reason`` says why (it is
    required then) and ``cancelled_on`` the day, when the department gives it. An active
    registration has neither.
    """

    region_code: str
    members: tuple[RegisteredMember, ...]
    provenance: Provenance
    household_number: str = ""
    status: RegistrationStatus = RegistrationStatus.ACTIVE
    cancel_reason: CancellationReason | None = None
    cancelled_on: date | None = None


class DiagnosisKind(StrEnum):
    """Which certified diagnosis a 医保 record is (the categories medical assistance uses)."""

    CHRONIC_SPECIAL = "chronic_special"
    """门诊慢特病: a chronic or special outpatient condition certified by the 医保 office."""
    CATASTROPHIC = "catastrophic"
    """重特大疾病: a serious or catastrophic illness certified for medical assistance."""


class DisabilityType(StrEnum):
    """The disability type on a 残疾人证 (GB/T 26341)."""

    VISUAL = "visual"
    """视力残疾."""
    HEARING = "hearing"
    """听力残疾."""
    SPEECH = "speech"
    """言语残疾."""
    PHYSICAL = "physical"
    """肢体残疾."""
    INTELLECTUAL = "intellectual"
    """智力残疾."""
    MENTAL = "mental"
    """精神残疾."""
    MULTIPLE = "multiple"
    """多重残疾."""


class EducationLevel(StrEnum):
    """The level of schooling an enrolment is at."""

    PRESCHOOL = "preschool"
    """学前教育 (幼儿园)."""
    PRIMARY = "primary"
    """小学."""
    JUNIOR_SECONDARY = "junior_secondary"
    """初中."""
    SENIOR_SECONDARY = "senior_secondary"
    """普通高中."""
    VOCATIONAL = "vocational"
    """中等职业教育 (中职/技工学校)."""
    HIGHER = "higher"
    """高等教育 (专科、本科、研究生)."""


class EmploymentStatus(StrEnum):
    """What 人社 records about a person's work."""

    EMPLOYED = "employed"
    """就业登记: employed, with the employer named."""
    UNEMPLOYED_REGISTERED = "unemployed_registered"
    """失业登记: registered as unemployed with the public employment service."""


class CivilEvent(StrEnum):
    """A civil registration event recorded by 民政."""

    MARRIED = "married"
    """结婚登记."""
    DIVORCED = "divorced"
    """离婚登记."""
    DECEASED = "deceased"
    """死亡 (殡葬/死亡登记): the person died."""


@dataclass(frozen=True, slots=True)
class MedicalExpenseRecord:
    """Medical costs settled by 医保 for one bill or one period, in fen.

    ``kind`` is ``"inpatient"``, ``"outpatient"`` or ``"pharmacy"``; ``total_fen`` is the
    whole bill, ``fund_paid_fen`` what the insurance funds paid and ``self_paid_fen`` the
    individually paid part (个人自付): what the family paid itself. ``provider`` names the
    hospital or pharmacy.
    """

    kind: str
    period_start: date
    period_end: date
    total_fen: int
    fund_paid_fen: int
    self_paid_fen: int
    provider: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class DiagnosisRecord:
    """A diagnosis certified by 医保 (门诊慢特病 or 重特大疾病).

    ``condition`` is the condition's name as the department gives it; ``valid_until`` is
    ``None`` when the certification does not expire.
    """

    kind: DiagnosisKind
    condition: str
    certified_on: date
    valid_until: date | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class DisabilityCertificateRecord:
    """A disability certificate (残疾人证) issued by 残联.

    ``grade`` is 1 to 4, 1 the most severe (一级); ``valid_until`` is ``None`` for a
    certificate without an end date.
    """

    disability_type: DisabilityType
    grade: int
    issued_on: date
    valid_until: date | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class EnrolmentRecord:
    """A school enrolment recorded by 教育, with the fees the family paid in fen.

    ``period_end`` is ``None`` while the student is still enrolled; ``fees_paid_fen`` is
    what was paid for tuition and boarding within the enrolment.
    """

    level: EducationLevel
    institution: str
    period_start: date
    period_end: date | None
    fees_paid_fen: int
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class EmploymentRecord:
    """An employment or unemployment registration recorded by 人社.

    ``employer`` is empty for an unemployment registration; ``period_end`` is ``None``
    while the registration is current. Unemployment benefits paid are separate
    :class:`IncomeRecord` entries (``category=TRANSFER``, ``kind="unemployment_benefit"``).
    """

    status: EmploymentStatus
    employer: str
    period_start: date
    period_end: date | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class CivilStatusRecord:
    """A civil registration event (marriage, divorce, death) recorded by 民政."""

    event: CivilEvent
    occurred_on: date
    provenance: Provenance


Record = (
    IncomeRecord
    | AssetRecord
    | ContributionRecord
    | HouseholdRegistrationRecord
    | MedicalExpenseRecord
    | DiagnosisRecord
    | DisabilityCertificateRecord
    | EnrolmentRecord
    | EmploymentRecord
    | CivilStatusRecord
)
"""Any record an adapter may return."""
