"""Why an alert is raised: a reason code, from one of three places.

* a change document (:class:`~verifier.domain.changes.ChangeCode`): what changed between
  two checks of a household;
* an external warning (:class:`WarningReason`): a department (医保, 残联, 人社, 应急) or a
  higher level pushed a list naming people to look at (监测预警);
* a re-check that could not run (:data:`REAUTHORIZATION_NEEDED`): its 授权书 expired or
  was revoked.

A region's policy file says which reasons are high, medium or low risk, and how many
working days each level gives staff to act (``alert_*`` parameters).
"""

from __future__ import annotations

from enum import StrEnum

from verifier.domain.changes import ChangeCode


class WarningReason(StrEnum):
    """Why a department or a higher level warns about a person."""

    HIGH_MEDICAL_EXPENSE = "HIGH_MEDICAL_EXPENSE"
    """医保: high out-of-pocket medical costs (因病支出型困难)."""
    SERIOUS_ILLNESS = "SERIOUS_ILLNESS"
    """医保: a serious or catastrophic illness (重特大疾病)."""
    DISABILITY_REGISTERED = "DISABILITY_REGISTERED"
    """残联: a disability certificate issued or its grade changed."""
    UNEMPLOYMENT_REGISTERED = "UNEMPLOYMENT_REGISTERED"
    """人社: registered as unemployed (失业登记)."""
    SOCIAL_INSURANCE_LAPSED = "SOCIAL_INSURANCE_LAPSED"
    """人社: social insurance contributions stopped (断缴)."""
    DISASTER_AFFECTED = "DISASTER_AFFECTED"
    """应急: affected by a natural disaster (受灾)."""
    ACCIDENT = "ACCIDENT"
    """应急: an accident or sudden event (意外事故, 突发事件)."""
    REFERRED_BY_HIGHER_LEVEL = "REFERRED_BY_HIGHER_LEVEL"
    """A higher level's list (上级交办, 省市监测平台推送)."""


WARNING_LABELS: dict[WarningReason, str] = {
    WarningReason.HIGH_MEDICAL_EXPENSE: "医疗费用支出较高",
    WarningReason.SERIOUS_ILLNESS: "患重特大疾病",
    WarningReason.DISABILITY_REGISTERED: "新办或变更残疾人证",
    WarningReason.UNEMPLOYMENT_REGISTERED: "失业登记",
    WarningReason.SOCIAL_INSURANCE_LAPSED: "社会保险断缴",
    WarningReason.DISASTER_AFFECTED: "受灾",
    WarningReason.ACCIDENT: "意外事故或突发事件",
    WarningReason.REFERRED_BY_HIGHER_LEVEL: "上级交办",
}

REAUTHORIZATION_NEEDED = "REAUTHORIZATION_NEEDED"
"""A scheduled re-check was not run: its 授权书 expired or was revoked."""

ALERT_REASONS: frozenset[str] = frozenset(
    {*(c.value for c in ChangeCode), *(w.value for w in WarningReason), REAUTHORIZATION_NEEDED}
)
"""Every reason code an alert may carry (the policy files' ``alert_*_reasons`` choices)."""

ALWAYS_RAISED: frozenset[str] = frozenset(
    {*(w.value for w in WarningReason), REAUTHORIZATION_NEEDED}
)
"""Reasons a region must give a risk level: a pushed warning and a re-check that could
not run always need someone to act. A change code a region does not list raises none."""


def reason_label(reason: str) -> str:
    """The Chinese label of a reason code (the code itself when unknown)."""
    if reason == REAUTHORIZATION_NEEDED:
        return "授权书过期或撤回，需重新授权"
    if reason in ChangeCode.__members__:
        return ChangeCode(reason).label
    if reason in WarningReason.__members__:
        return WARNING_LABELS[WarningReason(reason)]
    return reason


__all__ = [
    "ALERT_REASONS",
    "ALWAYS_RAISED",
    "REAUTHORIZATION_NEEDED",
    "WARNING_LABELS",
    "WarningReason",
    "reason_label",
]
