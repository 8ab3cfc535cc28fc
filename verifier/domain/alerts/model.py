"""Alerts (监测预警): what staff must look at, by when, and what they did about it.

An alert is raised from a change between two checks, from an external warning about a
person covered by a 授权书, or from a re-check whose 授权书 lapsed. A warning about a
person no 授权书 covers becomes an **outreach ledger entry** (台账): an alert of kind
OUTREACH, worked the same way, that never leads hedui to ask any source about anyone.

Lifecycle: OPEN → ACKNOWLEDGED → RESOLVED (with a resolution), or OPEN → RESOLVED.
An alert not resolved by its deadline is *overdue*: computed on every read from the
deadline, and marked once (with a history event and a notification) by a leased sweep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as dt_time
from enum import StrEnum
from typing import Any

from hedui_sdk import Subject

CHINA = timezone(timedelta(hours=8), "CST")
"""China Standard Time (no daylight saving): a deadline is the end of a working day here."""


class AlertKind(StrEnum):
    CHANGE = "change"
    """A change between two checks of a household (a change document's code)."""
    WARNING = "warning"
    """An external warning about a person a 授权书 covers."""
    REAUTHORIZATION = "reauthorization"
    """A scheduled re-check not run because its 授权书 expired or was revoked."""
    OUTREACH = "outreach"
    """An outreach ledger entry (台账): a warning about a person no 授权书 covers."""


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class RiskLevel(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for HIGH: sorts the most urgent first."""
        return _RISK_RANK[self]


_RISK_RANK = {RiskLevel.HIGH: 0, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 2}


class Resolution(StrEnum):
    CONFIRMED = "confirmed"
    """The change or warning is real and was acted on (e.g. assistance adjusted)."""
    NO_CHANGE = "no_change"
    """Looked into: nothing to change for the household."""
    REFERRED = "referred"
    """Referred (转介) to a program; the program is named."""


class ReferralProgram(StrEnum):
    """Where a resolved alert was referred (转介): the five programs one check serves,
    and the special assistance (专项救助) other departments run."""

    DIBAO = "dibao"
    TEKUN = "tekun"
    LINSHI = "linshi"
    DIBAO_BIANYUAN = "dibao_bianyuan"
    YINBING_ZHIPIN = "yinbing_zhipin"
    MEDICAL_ASSISTANCE = "medical_assistance"
    """医疗救助"""
    EDUCATION_ASSISTANCE = "education_assistance"
    """教育救助"""
    HOUSING_ASSISTANCE = "housing_assistance"
    """住房救助"""
    EMPLOYMENT_ASSISTANCE = "employment_assistance"
    """就业救助"""
    DISASTER_RELIEF = "disaster_relief"
    """受灾人员救助"""


class Department(StrEnum):
    """Who pushed a warning list."""

    MEDICAL_INSURANCE = "medical_insurance"
    """医保 (医疗保障局)"""
    DISABLED_PERSONS_FEDERATION = "disabled_persons_federation"
    """残联"""
    HUMAN_RESOURCES = "human_resources"
    """人社 (人力资源和社会保障局)"""
    EMERGENCY_MANAGEMENT = "emergency_management"
    """应急 (应急管理局)"""
    HIGHER_LEVEL = "higher_level"
    """A higher level of government (上级民政部门, 省市监测平台)."""


def deadline_at(act_by: date) -> datetime:
    """The instant an alert to be acted on by ``act_by`` becomes overdue: the end of that
    day in China (23:59:59.999999 CST), as an aware datetime."""
    return datetime.combine(act_by, dt_time.max, tzinfo=CHINA)


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """A new alert. ``dedup_key`` names it: raising a draft whose key is already stored
    returns the stored alert (re-imports, repeated comparisons and retried re-checks
    raise nothing twice).

    ``details`` is JSON without personal data (codes, figures, parameter references);
    ``person`` (warnings and outreach only) is stored sealed and shown masked.
    """

    kind: AlertKind
    reason: str
    region: str
    risk_level: RiskLevel
    act_by: date | None
    dedup_key: str
    household_ref: str = ""
    subject_ref: str = ""
    verification_id: str = ""
    report_version: int = 0
    owner: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    person: Subject | None = None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: str
    kind: AlertKind
    reason: str
    region: str
    risk_level: RiskLevel
    state: AlertState
    owner: str
    household_ref: str
    subject_ref: str
    verification_id: str
    report_version: int
    act_by: date | None
    created_at: datetime
    updated_at: datetime
    resolution: Resolution | None = None
    referred_program: ReferralProgram | None = None
    overdue_marked_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def deadline(self) -> datetime | None:
        return deadline_at(self.act_by) if self.act_by is not None else None

    def overdue(self, now: datetime) -> bool:
        """Not resolved and past its deadline (computed, whatever the sweep has marked)."""
        deadline = self.deadline
        return self.state is not AlertState.RESOLVED and deadline is not None and now > deadline


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One step of an alert's history."""

    at: datetime
    event: str
    """raised, assigned, acknowledged, resolved, overdue."""
    actor_system: str
    actor_user: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    alert: AlertRecord
    created: bool
    """False when an alert with the draft's dedup key was already stored."""


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """A page of alerts. Every given filter must match (AND). ``regions`` are the
    caller's GB/T 2260 prefixes (at least one must cover the alert's region); ``region``
    narrows to one prefix. ``created_from`` is inclusive, ``created_until`` exclusive.
    ``overdue`` compares deadlines with ``now``. Alerts come in (created_at, id) order,
    starting after ``after``."""

    regions: tuple[str, ...]
    now: datetime
    limit: int
    region: str = ""
    kind: AlertKind | None = None
    state: AlertState | None = None
    risk_level: RiskLevel | None = None
    owner: str = ""
    household_ref: str = ""
    overdue: bool | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    after: tuple[datetime, str] | None = None


__all__ = [
    "CHINA",
    "AlertDraft",
    "AlertEvent",
    "AlertKind",
    "AlertQuery",
    "AlertRecord",
    "AlertState",
    "Department",
    "RaisedAlert",
    "ReferralProgram",
    "Resolution",
    "RiskLevel",
    "deadline_at",
]
