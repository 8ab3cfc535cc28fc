"""The recipient roster (动态管理): households a region supports, and their re-checks.

Pure (no I/O). The use cases are in :mod:`verifier.service.roster`; the file formats and
the cycle rules are described in docs/roster.md.
"""

from verifier.domain.roster.due import (
    CHINA,
    add_months,
    china_date,
    china_midnight,
    due_after,
    first_working_day,
)
from verifier.domain.roster.entry import (
    CLASS_LABELS,
    CLASS_PROGRAM,
    HOUSEHOLD_REF,
    RosterClass,
    RosterEntry,
    RosterEntryDraft,
    entry_content,
    entry_field,
    household_from_json,
    household_to_json,
    validate_entry,
)
from verifier.domain.roster.recheck import (
    OPEN_STATES,
    CheckOutcome,
    JobState,
    LastCheck,
    RecheckJob,
    RecheckState,
    recheck_now_request_id,
    recheck_request_id,
    recheck_state,
)

__all__ = [
    "CHINA",
    "CLASS_LABELS",
    "CLASS_PROGRAM",
    "HOUSEHOLD_REF",
    "OPEN_STATES",
    "CheckOutcome",
    "JobState",
    "LastCheck",
    "RecheckJob",
    "RecheckState",
    "RosterClass",
    "RosterEntry",
    "RosterEntryDraft",
    "add_months",
    "china_date",
    "china_midnight",
    "due_after",
    "entry_content",
    "entry_field",
    "first_working_day",
    "household_from_json",
    "household_to_json",
    "recheck_now_request_id",
    "recheck_request_id",
    "recheck_state",
    "validate_entry",
]
