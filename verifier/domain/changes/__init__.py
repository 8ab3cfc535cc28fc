"""Changes between two checks of the same household (动态管理): the change document.

Public API::

    change_document(previous: ReportVersion, current: ReportVersion) -> dict
    ReportVersion(document, envelope_sha256, household_ref, member_refs)
    member_refs(request, pseudonym_key) / household_ref(request, pseudonym_key)
    ChangeCode, WithheldReason                    # reason codes, in listing order
    DifferentHouseholds                           # an InvalidArgument

Pure (no I/O, no clock). Signing is :mod:`verifier.signing.changes`; the format is
described in docs/change-document.md.
"""

from verifier.domain.changes.codes import LABELS, ChangeCode, WithheldReason
from verifier.domain.changes.document import SCHEMA, DifferentHouseholds, change_document
from verifier.domain.changes.reading import ReportVersion
from verifier.domain.changes.refs import household_ref, member_refs

__all__ = [
    "LABELS",
    "SCHEMA",
    "ChangeCode",
    "DifferentHouseholds",
    "ReportVersion",
    "WithheldReason",
    "change_document",
    "household_ref",
    "member_refs",
]
