"""External warnings (监测预警 lists): a department (医保, 残联, 人社, 应急) or a higher
level names people to look at. A warning names a person (id_type, id_number, name), the
issuing department, a reason code, the date of the warning, the region the person lives
in, and the department's own reference for it.

The file format is protobuf's canonical JSON mapping of ``hedui.v1.ExternalWarning``, one
warning a line; the wire and the file are checked by the same rules here, and every bad
row is named by its index and field (``warnings[3].id_number``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from hedui_sdk import IdType, Subject
from verifier.domain import identifiers as ids
from verifier.domain.alerts.model import Department
from verifier.domain.alerts.reasons import WarningReason
from verifier.domain.errors import FieldViolation, InvalidArgument

MAX_WARNINGS = 1000
"""Warnings per ImportWarnings call (a longer list is sent in several calls)."""

EARLIEST_WARNING = date(2000, 1, 1)

WARNING_ID = ids.Format(
    "warning reference",
    re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,63}", re.ASCII),
    64,
    "the department's reference for the warning (1-64 of A-Z a-z 0-9 . _ : / -)",
)
"""The issuing department's own id for a warning: with the department, it names the
warning, so a list imported twice raises nothing twice. Never personal data."""


@dataclass(frozen=True, slots=True)
class WarningDraft:
    """A warning as received (wire or file), before validation. ``None`` stands for an
    unset enum or an absent date; ``wire_violations`` are what translation found."""

    id_type: IdType | None
    id_number: str
    name: str
    department: Department | None
    reason: WarningReason | None
    warning_date: date | None
    region: str
    warning_id: str
    wire_violations: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True, slots=True)
class ExternalWarning:
    person: Subject
    department: Department
    reason: WarningReason
    warning_date: date
    region: str
    warning_id: str

    @property
    def key(self) -> str:
        """What names the warning across imports: the department and its reference."""
        return f"{self.department.value}:{self.warning_id}"


def _one(d: WarningDraft, at: str, today: date, out: list[FieldViolation]) -> None:
    out.extend(FieldViolation(f"{at}.{v.field}", v.description) for v in d.wire_violations)
    wired = {v.field for v in d.wire_violations}
    if d.id_type is None and "id_type" not in wired:
        out.append(FieldViolation(f"{at}.id_type", "must be given"))
    ids.check_id_number(d.id_type, d.id_number, f"{at}.id_number", today, out)
    ids.check_person_name(d.name, f"{at}.name", out)
    if d.department is None and "department" not in wired:
        out.append(FieldViolation(f"{at}.department", "must name the issuing department"))
    if d.reason is None and "reason" not in wired:
        out.append(FieldViolation(f"{at}.reason", "must be a warning reason code"))
    if d.warning_date is None:
        if "warning_date" not in wired:
            out.append(FieldViolation(f"{at}.warning_date", "must be given"))
    elif not EARLIEST_WARNING <= d.warning_date <= today:
        out.append(
            FieldViolation(
                f"{at}.warning_date",
                f"must be between {EARLIEST_WARNING.isoformat()} and today ({today.isoformat()})",
            )
        )
    ids.REGION_CODE.check(d.region, f"{at}.region_code", out)
    WARNING_ID.check(d.warning_id, f"{at}.warning_id", out)


def validate_warnings(
    drafts: Sequence[WarningDraft], *, today: date, field: str = "warnings"
) -> list[ExternalWarning]:
    """Every warning checked; :class:`InvalidArgument` naming each bad one by index and
    field, or the validated list (nothing is half-accepted)."""
    out: list[FieldViolation] = []
    if not drafts:
        out.append(FieldViolation(field, "must hold at least one warning"))
    if len(drafts) > MAX_WARNINGS:
        out.append(FieldViolation(field, f"must hold at most {MAX_WARNINGS} warnings"))
        raise InvalidArgument(out)
    seen: dict[tuple[Department | None, str], int] = {}
    for i, d in enumerate(drafts):
        at = f"{field}[{i}]"
        _one(d, at, today, out)
        key = (d.department, d.warning_id)
        if d.department is not None and d.warning_id and key in seen:
            out.append(
                FieldViolation(
                    f"{at}.warning_id", f"repeats {field}[{seen[key]}] (same department)"
                )
            )
        seen.setdefault(key, i)
    if out:
        raise InvalidArgument(out)
    result = []
    for d in drafts:
        assert d.id_type is not None
        assert d.department is not None
        assert d.reason is not None
        assert d.warning_date is not None
        result.append(
            ExternalWarning(
                person=Subject(d.id_type, d.id_number.upper(), ids.person_name(d.name)),
                department=d.department,
                reason=d.reason,
                warning_date=d.warning_date,
                region=d.region,
                warning_id=d.warning_id,
            )
        )
    return result


__all__ = [
    "MAX_WARNINGS",
    "WARNING_ID",
    "ExternalWarning",
    "WarningDraft",
    "validate_warnings",
]
