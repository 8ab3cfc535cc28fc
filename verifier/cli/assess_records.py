"""The records file of ``hedui policy assess``: what the sources answered, in the
report's own record format (docs/policy-assess.md), so that a disputed report can be
reproduced from its records. No error echoes a value from the file: values may be
personal data; errors name the place (``records[3].amount_fen``) and what is expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from hedui_sdk import (
    AssetCategory,
    AssetRecord,
    CancellationReason,
    ContributionRecord,
    HouseholdRegistrationRecord,
    IncomeCategory,
    IncomeRecord,
    Provenance,
    Record,
    RegisteredMember,
    RegistrationStatus,
    SourceKind,
)
from hedui_sdk.validation import MAX_FEN, record_problems
from verifier.cli.assess_inputs import AssessInputError, load_json, parse_day
from verifier.domain.evidence_codec import EVIDENCE_KEYS, Readers, evidence_record
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import SourceOutcome, SourceStatus

_ADAPTER = "policy-assess"
"""The adapter a source answer is credited to when the records file names none."""


_SOURCE_KEYS = frozenset(
    {
        "member_index",
        "source",
        "status",
        "adapter",
        "adapter_version",
        # A report's own source entries carry these too; they do not change the assessment.
        "as_of",
        "reason",
        "attempts",
        "record_count",
        "reused",
        "fetched_at",
        "due_date",
        "overdue",
        # A peer's answer (异地协查) names the peer and its fragment.
        "deployment",
        "fragment_sha256",
    }
)
_RECORD_KEYS: Mapping[str, frozenset[str]] = {
    "income": frozenset({"category", "kind", "period_start", "period_end", "amount_fen", "payer"}),
    "asset": frozenset({"category", "kind", "value_fen", "count", "area_m2", "details"}),
    "contribution": frozenset(
        {"scheme", "period_start", "period_end", "base_fen", "paid_fen", "employer"}
    ),
    "household_registration": frozenset(
        {"region_code", "household_number", "members", "status", "cancel_reason", "cancelled_on"}
    ),
}
_COMMON_KEYS = frozenset({"member_index", "type", "provenance"})
_PROVENANCE_KEYS = frozenset(
    {"source", "adapter", "adapter_version", "record_id", "as_of", "deployment"}
)
_REGISTERED_KEYS = frozenset({"id_type", "id_number_masked", "name_masked", "relation"})


class _Bad(Exception):
    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")


def _obj(v: object, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Bad(where, "must be a JSON object")
    return v


def _keys(d: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise _Bad(where, f"unknown keys {unknown}; allowed: {sorted(allowed)}")


def _str(d: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    v = d.get(key, default)
    if not isinstance(v, str):
        raise _Bad(f"{where}.{key}", "must be a string")
    return v


def _int(d: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"{where}.{key}", "must be an integer (money is integer fen)")
    if not -MAX_FEN <= v <= MAX_FEN:
        raise _Bad(f"{where}.{key}", "is beyond int64")
    return v


def _day(d: Mapping[str, Any], key: str, where: str) -> date:
    try:
        return parse_day(_str(d, key, where), f"{where}.{key}")
    except AssessInputError as exc:
        raise _Bad(exc.file, exc.problems[0]) from None


def _instant(d: Mapping[str, Any], key: str, where: str) -> datetime:
    text = _str(d, key, where)
    if not text.isascii():
        raise _Bad(f"{where}.{key}", "must be an RFC 3339 UTC time such as 2025-03-01T00:00:00Z")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(
            f"{where}.{key}", "must be an RFC 3339 UTC time such as 2025-03-01T00:00:00Z"
        ) from None
    if ts.tzinfo is None:
        raise _Bad(f"{where}.{key}", "must carry its UTC offset (Z)")
    return ts


def _enum_value(kind: Any, d: Mapping[str, Any], key: str, where: str) -> Any:
    text = _str(d, key, where)
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(k.value for k in kind)
        raise _Bad(f"{where}.{key}", f"must be one of {allowed}") from None


def _member_index(d: Mapping[str, Any], where: str, size: int) -> int:
    i = _int(d, "member_index", where)
    if not 0 <= i < size:
        raise _Bad(f"{where}.member_index", f"must index a household member (0–{size - 1})")
    return i


def _provenance(d: Mapping[str, Any], where: str) -> Provenance:
    p = _obj(d.get("provenance"), f"{where}.provenance")
    _keys(p, _PROVENANCE_KEYS, f"{where}.provenance")
    source = _enum_value(SourceKind, p, "source", f"{where}.provenance")
    return Provenance(
        source.value,
        _str(p, "adapter", f"{where}.provenance"),
        _str(p, "adapter_version", f"{where}.provenance"),
        _str(p, "record_id", f"{where}.provenance"),
        _instant(p, "as_of", f"{where}.provenance"),
    )


def _area(d: Mapping[str, Any], where: str) -> Decimal | None:
    v = d.get("area_m2")
    if v is None:
        return None
    if not isinstance(v, str) or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", v):
        raise _Bad(f"{where}.area_m2", 'must be a decimal string such as "45.5", or null')
    try:
        return Decimal(v)
    except InvalidOperation:
        raise _Bad(f"{where}.area_m2", "is not a decimal number") from None


def _record(d: dict[str, Any], where: str) -> Record:
    kind = _str(d, "type", where)
    if kind in EVIDENCE_KEYS:
        _keys(d, _COMMON_KEYS | EVIDENCE_KEYS[kind], where)
        readers = Readers(_str, _int, _day, _enum_value)
        return evidence_record(kind, d, where, _provenance(d, where), readers)
    if kind not in _RECORD_KEYS:
        types = ", ".join((*_RECORD_KEYS, *EVIDENCE_KEYS))
        raise _Bad(f"{where}.type", f"must be one of {types}")
    _keys(d, _COMMON_KEYS | _RECORD_KEYS[kind], where)
    prov = _provenance(d, where)
    if kind == "income":
        return IncomeRecord(
            _enum_value(IncomeCategory, d, "category", where),
            _str(d, "kind", where, ""),
            _day(d, "period_start", where),
            _day(d, "period_end", where),
            _int(d, "amount_fen", where),
            prov,
            _str(d, "payer", where, ""),
        )
    if kind == "asset":
        details = _obj(d.get("details", {}), f"{where}.details")
        if not all(isinstance(v, str) for v in details.values()):
            raise _Bad(f"{where}.details", "must map names to strings")
        return AssetRecord(
            _enum_value(AssetCategory, d, "category", where),
            _str(d, "kind", where, ""),
            _int(d, "value_fen", where),
            prov,
            _int(d, "count", where, 1),
            _area(d, where),
            dict(details),
        )
    if kind == "contribution":
        return ContributionRecord(
            _str(d, "scheme", where, ""),
            _day(d, "period_start", where),
            _day(d, "period_end", where),
            _int(d, "base_fen", where),
            _int(d, "paid_fen", where),
            prov,
            _str(d, "employer", where, ""),
        )
    members = d.get("members", [])
    if not isinstance(members, list):
        raise _Bad(f"{where}.members", "must be a list")
    registered = []
    for j, raw in enumerate(members):
        mw = f"{where}.members[{j}]"
        m = _obj(raw, mw)
        _keys(m, _REGISTERED_KEYS, mw)
        # The report shows registered people masked; masked they still count heads.
        registered.append(
            RegisteredMember(
                _str(m, "id_type", mw),
                _str(m, "id_number_masked", mw),
                _str(m, "name_masked", mw),
                _str(m, "relation", mw, ""),
            )
        )
    return HouseholdRegistrationRecord(
        _str(d, "region_code", where),
        tuple(registered),
        prov,
        _str(d, "household_number", where, ""),
        *_registration_status(d, where),
    )


def _registration_status(
    d: Mapping[str, Any], where: str
) -> tuple[RegistrationStatus, CancellationReason | None, date | None]:
    """A cancelled registration's status as a report shows it (absent: in force); the
    record check then refuses a cancelled one without a reason."""
    status = _str(d, "status", where, RegistrationStatus.ACTIVE.value)
    reason = d.get("cancel_reason")
    if status not in set(RegistrationStatus):
        raise _Bad(f"{where}.status", "must be active or cancelled")
    if reason is not None and (
        not isinstance(reason, str) or reason not in set(CancellationReason)
    ):
        raise _Bad(f"{where}.cancel_reason", "must be death, moved_out or other")
    return (
        RegistrationStatus(status),
        None if reason is None else CancellationReason(reason),
        None if d.get("cancelled_on") is None else _day(d, "cancelled_on", where),
    )


@dataclass
class _Answer:
    status: SourceStatus
    adapter: str
    adapter_version: str


def _statuses(raw: object, size: int) -> dict[tuple[int, SourceKind], _Answer]:
    """Entries apply in order; no ``member_index`` means every member, ``"*"`` every source."""
    if not isinstance(raw, list):
        raise _Bad("sources", "must be a list of {member_index, source, status} entries")
    out: dict[tuple[int, SourceKind], _Answer] = {}
    for i, item in enumerate(raw):
        where = f"sources[{i}]"
        e = _obj(item, where)
        _keys(e, _SOURCE_KEYS, where)
        members = [_member_index(e, where, size)] if "member_index" in e else list(range(size))
        every_source = _str(e, "source", where) == "*"
        kinds = list(SourceKind) if every_source else [_enum_value(SourceKind, e, "source", where)]
        status = _enum_value(SourceStatus, e, "status", where)
        answer = _Answer(
            status, _str(e, "adapter", where, _ADAPTER), _str(e, "adapter_version", where, "0")
        )
        for m in members:
            for k in kinds:
                out[(m, k)] = answer
    return out


def read_records(path: Path, request: VerificationRequest) -> list[SourceOutcome]:
    """What each member × source answered, with its records, as the engine receives it.

    A member × source the file does not mention did not answer: the engine then says the
    data is incomplete, never "no record".
    """
    where = str(path)
    doc = load_json(path)
    size = len(request.household.members)
    try:
        top = _obj(doc, "$")
        if top.get("schema") != "hedui.report/v1":
            _keys(top, frozenset({"sources", "records"}), "$")
        answers = _statuses(top.get("sources", []), size)
        raw_records = top.get("records", [])
        if not isinstance(raw_records, list):
            raise _Bad("records", "must be a list")
        found: dict[tuple[int, SourceKind], list[Record]] = {}
        for i, item in enumerate(raw_records):
            rw = f"records[{i}]"
            d = _obj(item, rw)
            member = _member_index(d, rw, size)
            record = _record(d, rw)
            source = SourceKind(record.provenance.source)
            problems = record_problems(record, source.value)
            if problems:
                raise _Bad(rw, "; ".join(problems))
            answer = answers.get((member, source))
            if answer is None or answer.status is not SourceStatus.FOUND:
                raise _Bad(
                    rw,
                    f"member {member}'s {source.value} answer must have status FOUND in "
                    "'sources' to carry records",
                )
            found.setdefault((member, source), []).append(record)
    except _Bad as exc:
        raise AssessInputError(where, [str(exc)]) from None
    return [
        SourceOutcome(
            member_index=m,
            source=k,
            status=a.status,
            adapter=a.adapter,
            adapter_version=a.adapter_version,
            records=tuple(found.get((m, k), ())),
        )
        for (m, k), a in sorted(answers.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
    ]
