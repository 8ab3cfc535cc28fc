"""The evidence records of ``hedui policy assess``'s records file: 医保 bills and
diagnoses, 残联 certificates, 教育 enrolments, 人社 registrations and 民政 events, in the
report's own format (:mod:`verifier.domain.evidence_codec`). Each field is read by type,
so a wrong one is named by its place, never echoed (the records themselves are read by
:func:`verifier.domain.evidence_codec.evidence_record`, as stored reports are).
"""

from __future__ import annotations

from collections.abc import Mapping

EVIDENCE_KEYS: Mapping[str, frozenset[str]] = {
    "medical_expense": frozenset(
        {
            "kind",
            "period_start",
            "period_end",
            "total_fen",
            "fund_paid_fen",
            "self_paid_fen",
            "provider",
        }
    ),
    "diagnosis": frozenset({"kind", "condition", "certified_on", "valid_until"}),
    "disability_certificate": frozenset({"disability_type", "grade", "issued_on", "valid_until"}),
    "enrolment": frozenset({"level", "institution", "period_start", "period_end", "fees_paid_fen"}),
    "employment": frozenset({"status", "employer", "period_start", "period_end"}),
    "civil_status": frozenset({"event", "occurred_on"}),
}
"""The fields of each evidence record type, besides ``member_index``, ``type`` and
``provenance``."""
