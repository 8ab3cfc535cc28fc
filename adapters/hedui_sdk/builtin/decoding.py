"""Strict decoding of gateway protocol v1 answers into SDK records.

Anything off-contract (not JSON, a missing field, money that is not an integer, a float
area, an unknown record type) raises :class:`~hedui_sdk.errors.PermanentSourceError`:
hedui must never guess at a department's numbers. Unknown *fields* are ignored so that a
department can add information without breaking older adapters.

Error messages name the offending field, never its value: values can be personal data.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from hedui_sdk.builtin.decoding_evidence import decode_evidence
from hedui_sdk.builtin.fields import INT64_MAX, JsonObject
from hedui_sdk.builtin.fields import day as _day
from hedui_sdk.builtin.fields import fen as _fen
from hedui_sdk.builtin.fields import json_object as _object
from hedui_sdk.builtin.fields import period as _period
from hedui_sdk.builtin.fields import text as _text
from hedui_sdk.contract import SourceResult
from hedui_sdk.errors import PermanentSourceError
from hedui_sdk.records import (
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
)

# Full matches on ASCII: `$` lets a trailing newline through, and without re.ASCII `\d`
# takes any script's digits (which Decimal() and int() then read as numbers).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_AREA = re.compile(r"\d{1,9}(\.\d{1,4})?", re.ASCII)
_TICKET = re.compile(r"[A-Za-z0-9._~-]{1,256}", re.ASCII)
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}", re.ASCII)
_REGION = re.compile(r"[0-9]{6}", re.ASCII)

_Category = TypeVar("_Category", IncomeCategory, AssetCategory)


@dataclass(frozen=True, slots=True)
class Origin:
    """Who fetched the records: stamped into every record's provenance."""

    source: str
    adapter: str
    adapter_version: str

    def provenance(self, record_id: str, as_of: datetime) -> Provenance:
        """The provenance of one record."""
        return Provenance(self.source, self.adapter, self.adapter_version, record_id, as_of)


def parse_json(content: bytes) -> Any:
    """The decoded body; a body that is not UTF-8 JSON is a permanent error."""
    try:
        return json.loads(content.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        raise PermanentSourceError("answer body is not valid JSON") from None
    except RecursionError:
        raise PermanentSourceError("answer body is nested too deeply") from None


def _refuse_constant(_name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def decode_final(body: Any, origin: Origin) -> SourceResult:
    """A 200 answer: FOUND with records, or NOT_FOUND."""
    answer = _object(body, "answer")
    status = answer.get("status")
    as_of = _instant(answer.get("as_of"), "as_of")
    records = answer.get("records", [])
    if not isinstance(records, list):
        raise PermanentSourceError("answer field 'records' must be a list")
    if status == "NOT_FOUND":
        if records:
            raise PermanentSourceError("NOT_FOUND answer carries records")
        return SourceResult.not_found(as_of)
    if status != "FOUND":
        raise PermanentSourceError("answer field 'status' must be FOUND or NOT_FOUND on HTTP 200")
    if not records:
        raise PermanentSourceError("FOUND answer carries no records")
    decoded = [decode_record(r, origin, as_of, index=i) for i, r in enumerate(records)]
    return SourceResult.found(decoded, as_of)


def decode_pending(body: Any, header_retry_after: float | None) -> SourceResult:
    """A 202 answer: PENDING with a ticket to poll."""
    answer = _object(body, "answer")
    if answer.get("status") != "PENDING":
        raise PermanentSourceError("answer field 'status' must be PENDING on HTTP 202")
    ticket = answer.get("ticket")
    if not isinstance(ticket, str) or not _TICKET.fullmatch(ticket):
        raise PermanentSourceError("answer field 'ticket' must be 1..256 URL-safe characters")
    retry_after = answer.get("retry_after", header_retry_after)
    if retry_after is None:
        retry_after = 1.0
    if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
        raise PermanentSourceError("answer field 'retry_after' must be a number of seconds")
    if not math.isfinite(retry_after) or retry_after < 0:
        raise PermanentSourceError("answer field 'retry_after' must be finite and not negative")
    return SourceResult.pending(ticket, float(retry_after))


def valid_ticket(ticket: str) -> bool:
    """Whether ``ticket`` is safe to put into a URL path."""
    return bool(_TICKET.fullmatch(ticket))


def decode_record(raw: Any, origin: Origin, default_as_of: datetime, *, index: int) -> Record:
    """One record object; ``index`` only locates errors."""
    where = f"records[{index}]"
    rec = _object(raw, where)
    record_id = _text(rec, "record_id", where, required=True)
    as_of = default_as_of if rec.get("as_of") is None else _instant(rec["as_of"], where + ".as_of")
    provenance = origin.provenance(record_id, as_of)
    kind = rec.get("type")
    if kind == "income":
        return _income(rec, where, provenance)
    if kind == "asset":
        return _asset(rec, where, provenance)
    if kind == "contribution":
        return _contribution(rec, where, provenance)
    if kind == "household_registration":
        return _registration(rec, where, provenance)
    evidence = decode_evidence(kind, rec, where, provenance)
    if evidence is not None:
        return evidence
    raise PermanentSourceError(f"{where}.type is not a known record type")


def _income(rec: JsonObject, where: str, provenance: Provenance) -> IncomeRecord:
    start, end = _period(rec, where)
    category = _enum(IncomeCategory, rec, "category", where)
    return IncomeRecord(
        category=category,
        kind=_text(rec, "kind", where, required=True),
        period_start=start,
        period_end=end,
        # Only a business can make a loss; any other negative income is a department error.
        amount_fen=_fen(rec, "amount_fen", where, signed=category is IncomeCategory.BUSINESS),
        provenance=provenance,
        payer=_text(rec, "payer", where),
    )


def _asset(rec: JsonObject, where: str, provenance: Provenance) -> AssetRecord:
    count = rec.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= INT64_MAX:
        raise PermanentSourceError(f"{where}.count must be a non-negative integer")
    area_raw = rec.get("area_m2")
    area: Decimal | None = None
    if area_raw is not None:
        if not isinstance(area_raw, str) or not _AREA.fullmatch(area_raw):
            raise PermanentSourceError(f"{where}.area_m2 must be a decimal string like '86.35'")
        area = Decimal(area_raw)
    details_raw = rec.get("details", {})
    if details_raw is None:
        details_raw = {}
    if not isinstance(details_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in details_raw.items()
    ):
        raise PermanentSourceError(f"{where}.details must map strings to strings")
    return AssetRecord(
        category=_enum(AssetCategory, rec, "category", where),
        kind=_text(rec, "kind", where, required=True),
        value_fen=_fen(rec, "value_fen", where),
        provenance=provenance,
        count=count,
        area_m2=area,
        details=dict(details_raw),
    )


def _contribution(rec: JsonObject, where: str, provenance: Provenance) -> ContributionRecord:
    start, end = _period(rec, where)
    return ContributionRecord(
        scheme=_text(rec, "scheme", where, required=True),
        period_start=start,
        period_end=end,
        base_fen=_fen(rec, "base_fen", where),
        paid_fen=_fen(rec, "paid_fen", where),
        provenance=provenance,
        employer=_text(rec, "employer", where),
    )


def _registration(
    rec: JsonObject, where: str, provenance: Provenance
) -> HouseholdRegistrationRecord:
    region = _text(rec, "region_code", where, required=True)
    if not _REGION.fullmatch(region):
        raise PermanentSourceError(f"{where}.region_code must be 6 digits")
    members_raw = rec.get("members")
    if not isinstance(members_raw, list) or not members_raw:
        raise PermanentSourceError(f"{where}.members must be a non-empty list")
    members = []
    for i, raw in enumerate(members_raw):
        at = f"{where}.members[{i}]"
        member = _object(raw, at)
        members.append(
            RegisteredMember(
                id_type=_text(member, "id_type", at, required=True),
                id_number=_text(member, "id_number", at, required=True),
                name=_text(member, "name", at, required=True),
                relation=_text(member, "relation", at, required=True),
            )
        )
    status, reason, day = _registration_status(rec, where)
    return HouseholdRegistrationRecord(
        region_code=region,
        members=tuple(members),
        provenance=provenance,
        household_number=_text(rec, "household_number", where),
        status=status,
        cancel_reason=reason,
        cancelled_on=day,
    )


def _registration_status(
    rec: JsonObject, where: str
) -> tuple[RegistrationStatus, CancellationReason | None, date | None]:
    """The optional ``status`` of a registration (absent: active); a cancelled one must
    say why (``cancel_reason``) and may say when (``cancelled_on``), an active one neither."""
    raw = rec.get("status")
    if raw is None or raw == RegistrationStatus.ACTIVE.value:
        if rec.get("cancel_reason") is not None or rec.get("cancelled_on") is not None:
            raise PermanentSourceError(
                f"{where}.cancel_reason and cancelled_on belong to a cancelled registration only"
            )
        return RegistrationStatus.ACTIVE, None, None
    if raw != RegistrationStatus.CANCELLED.value:
        raise PermanentSourceError(f"{where}.status must be active or cancelled")
    reason = rec.get("cancel_reason")
    if not isinstance(reason, str) or reason not in {r.value for r in CancellationReason}:
        raise PermanentSourceError(
            f"{where}.cancel_reason must be one of "
            + ", ".join(r.value for r in CancellationReason)
        )
    day = rec.get("cancelled_on")
    cancelled_on = None if day is None else _day(day, f"{where}.cancelled_on")
    return RegistrationStatus.CANCELLED, CancellationReason(reason), cancelled_on


def _enum(kind: type[_Category], rec: JsonObject, key: str, where: str) -> _Category:
    value = rec.get(key)
    if not isinstance(value, str):
        raise PermanentSourceError(f"{where}.{key} must be a category string")
    try:
        return kind(value)
    except ValueError:
        raise PermanentSourceError(f"{where}.{key} is not a known category") from None


def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise PermanentSourceError(f"{where} must be an RFC 3339 timestamp with an offset")
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        raise PermanentSourceError(f"{where} is not a real instant") from None


def retry_after_seconds(header: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` if absent/invalid."""
    if header is None:
        return None
    value = header.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def error_code(content: bytes) -> str | None:
    """The protocol error code of an error body, when it is a plain upper-case code.

    The department's free-text ``message`` is deliberately not used: it could carry
    personal data into hedui's logs.
    """
    try:
        body = json.loads(content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else None
