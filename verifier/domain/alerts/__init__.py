"""Alerts (监测预警) and the outreach ledger (台账): values, reason codes, warnings.

Pure (no I/O). The use cases are in :mod:`verifier.service.monitoring`; the format of
alerts, warnings and their parameters is described in docs/alerts.md.
"""

from verifier.domain.alerts.model import (
    CHINA,
    AlertDraft,
    AlertEvent,
    AlertKind,
    AlertQuery,
    AlertRecord,
    AlertState,
    Department,
    RaisedAlert,
    ReferralProgram,
    Resolution,
    RiskLevel,
    deadline_at,
)
from verifier.domain.alerts.reasons import (
    ALERT_REASONS,
    ALWAYS_RAISED,
    REAUTHORIZATION_NEEDED,
    WarningReason,
    reason_label,
)

__all__ = [
    "ALERT_REASONS",
    "ALWAYS_RAISED",
    "CHINA",
    "REAUTHORIZATION_NEEDED",
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
    "WarningReason",
    "deadline_at",
    "reason_label",
]
