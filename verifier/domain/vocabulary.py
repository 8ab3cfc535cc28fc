"""The words every layer shares: who may act (roles) and what the audit log records
(actions). One definition each; the proto mirrors them as enums (``Role``,
``AuditAction``) and the API translates names, never numbers, across the boundary."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AuditAction", "Role"]


class Role(StrEnum):
    """The role an end user acts in, sent as ``x-hedui-role`` and bound to the calling
    system's configured roles."""

    CASEWORKER = "caseworker"
    """Starts checks, registers 授权书, manages the roster, works alerts."""
    REVIEWER = "reviewer"
    """Reads reports and alerts, acknowledges and resolves alerts; starts nothing."""
    AUDITOR = "auditor"
    """Reads the audit log and proves it; never reads report contents."""
    ADMIN = "admin"
    """Operates the deployment: roster imports, warning imports, webhooks."""


class AuditAction(StrEnum):
    """What one audit entry records. Stored as its value in the entry body."""

    AUTHORIZE = "authorize"
    ACCESS_INTENT = "access_intent"
    RELEASED = "released"
    REPORT_READ = "report_read"
    AUDIT_READ = "audit_read"
    ANOMALY = "anomaly"
    CONSENT_REGISTER = "consent_register"
    CONSENT_REVOKE = "consent_revoke"
    CONSENT_READ = "consent_read"
    # Dynamic management (动态管理): rosters, re-checks, batches, changes, alerts.
    VERIFICATION_LIST = "verification_list"
    ROSTER_IMPORT = "roster_import"
    ROSTER_REMOVE = "roster_remove"
    ROSTER_READ = "roster_read"
    RECHECK_SCHEDULED = "recheck_scheduled"
    REAUTHORIZATION_NEEDED = "reauthorization_needed"
    BATCH_SUBMIT = "batch_submit"
    BATCH_CANCEL = "batch_cancel"
    BATCH_READ = "batch_read"
    CHANGES_RECORDED = "changes_recorded"
    ALERT_RAISED = "alert_raised"
    ALERT_READ = "alert_read"
    ALERT_ACKNOWLEDGE = "alert_acknowledge"
    ALERT_RESOLVE = "alert_resolve"
    ALERT_ASSIGN = "alert_assign"
    ALERT_OVERDUE = "alert_overdue"
    CHANGES_READ = "changes_read"
    WARNINGS_IMPORT = "warnings_import"
    OUTREACH_LEDGER = "outreach_ledger"
    WEBHOOK_ADMIN = "webhook_admin"
    # Retention: personal data whose period ran out was removed (counts and kinds only).
    PURGED = "purged"
    # Federation (异地协查): an operator trusted or revoked a peer deployment.
    FEDERATION_TRUST = "federation_trust"
    FEDERATION_REVOKE = "federation_revoke"
    # A 协查 sent to a peer, and the peer's answer (accepted, refused or failed).
    FEDERATION_REQUEST = "federation_request"
    FEDERATION_ANSWER = "federation_answer"
