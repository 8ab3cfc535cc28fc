"""Reading an issued report (``hedui.report/v1``) for comparison.

The comparison reads only what a report says: statuses, asset records, 户籍 listings
(masked) and the policy's own findings. Anything it needs that is missing or of the
wrong type is refused with the JSON path named, never guessed at.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from verifier.domain.errors import FieldViolation, InvalidArgument

REPORT_SCHEMA = "hedui.report/v1"

ANSWERED = frozenset({"FOUND", "NOT_FOUND"})
"""Statuses that are an answer: only between two answers is a change claimed."""
FAILING = frozenset({"FAILED", "DENIED"})
STATUSES = ANSWERED | FAILING | {"PENDING"}
ABSENT = "ABSENT"
"""The status of a source a check did not ask about a member."""

HOUSEHOLD_REGISTRATION = "household_registration"
ACTIVE = "active"
CANCELLED = "cancelled"
"""A registration record's ``status`` when 户籍 cancelled it (注销); reports write no
status for a registration in force."""

_CANCEL_REASON = re.compile(r"[a-z_]{1,32}", re.ASCII)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
_RFC3339_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)


@dataclass(frozen=True, slots=True)
class ReportVersion:
    """One issued report version, as the comparison takes it.

    ``envelope_sha256`` is the lowercase hex SHA-256 of the DSSE envelope bytes, the
    same digest by which report version n+1 names version n (``previous_sha256``).
    ``household_ref`` is the household's keyed reference (the 授权书 registry uses the
    applicant's subject_ref, see :mod:`verifier.domain.changes.refs`); ``member_refs`` holds each
    member's keyed ``subject_ref`` in the report's member order. Both are HMACs under
    the pseudonym key, never ID numbers: the report itself carries masked IDs only,
    which are not enough to tell two people apart with certainty.
    """

    document: Mapping[str, Any]
    envelope_sha256: str
    household_ref: str
    member_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MemberView:
    index: int
    id_type: str
    id_number_masked: str
    subject_ref: str


@dataclass(frozen=True, slots=True)
class AssetView:
    member_index: int
    source: str
    category: str
    count: int
    value_fen: int


PersonKey = tuple[str, str]
"""A person on a 户口簿 as a report shows them: (id_type, masked ID number)."""
RegistrationKey = tuple[str, str, str]
"""A 户口簿 as a report shows it: (region code, masked household number, the 户籍
department's record id). The record id tells the household's 户口簿 from a member's own
cancelled registration, which keeps the household number after a death; it is a key
only, never written into a change document (a record id can identify a person)."""


@dataclass(frozen=True)
class RegistrationView:
    """Everyone a report's 户籍 answers list on one 户口簿 (the union of its listings)."""

    key: RegistrationKey
    persons: Counter[PersonKey]
    relations: Mapping[PersonKey, str]


@dataclass(frozen=True)
class ReportView:
    """What the comparison needs from one report, checked and typed."""

    side: str
    report_id: str
    version: int
    verification_id: str
    case_id: str
    created_at: datetime
    created_at_text: str
    region: str
    envelope_sha256: str
    household_ref: str
    members: tuple[MemberView, ...]
    statuses: Mapping[tuple[int, str], str]
    assets: tuple[AssetView, ...]
    registrations: Mapping[RegistrationKey, RegistrationView]
    cancellations: Mapping[int, str]
    """Member index → why 户籍 says that member's registration is cancelled (注销), for
    members whose 户籍 answer is a cancelled registration."""
    assessments: Mapping[str, Mapping[str, Any]] | None
    document: Mapping[str, Any]

    def status(self, member_index: int, source: str) -> str:
        return self.statuses.get((member_index, source), ABSENT)

    def kinds(self) -> frozenset[str]:
        return frozenset(source for _, source in self.statuses)

    def reference(self) -> dict[str, Any]:
        """How a change document names this report version (no personal data)."""
        return {
            "report_id": self.report_id,
            "version": self.version,
            "verification_id": self.verification_id,
            "case_id": self.case_id,
            "created_at": self.created_at_text,
            "envelope_sha256": self.envelope_sha256,
        }


class _Reader:
    """Typed access to untrusted JSON that records each problem with its path."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.out: list[FieldViolation] = []

    def bad(self, path: str, problem: str) -> None:
        self.out.append(FieldViolation(f"{self.side}.{path}", problem))

    def obj(self, value: Any, path: str) -> Mapping[str, Any]:
        if isinstance(value, dict):
            return value
        self.bad(path, "must be a JSON object")
        return {}

    def arr(self, value: Any, path: str) -> list[Any]:
        if isinstance(value, list):
            return value
        self.bad(path, "must be a JSON array")
        return []

    def text(self, parent: Mapping[str, Any], key: str, path: str) -> str:
        value = parent.get(key)
        if isinstance(value, str):
            return value
        self.bad(f"{path}.{key}", "must be a string")
        return ""

    def integer(self, parent: Mapping[str, Any], key: str, path: str) -> int:
        value = parent.get(key)
        if type(value) is int:
            return value
        self.bad(f"{path}.{key}", "must be an integer")
        return 0


def _check_ref(value: str, path: str, r: _Reader) -> None:
    if not _SHA256_HEX.fullmatch(value):
        r.bad(path, "must be 64 lowercase hex digits")


def _members(doc: Mapping[str, Any], refs: tuple[str, ...], r: _Reader) -> tuple[MemberView, ...]:
    raw = r.arr(doc.get("members"), "document.members")
    if len(refs) != len(raw):
        r.bad("member_refs", f"must hold one subject_ref per report member ({len(raw)})")
    for i, ref in enumerate(refs):
        _check_ref(ref, f"member_refs[{i}]", r)
    if len(set(refs)) != len(refs):
        r.bad("member_refs", "must not name the same person twice")
    members = []
    for i, m in enumerate(raw):
        path = f"document.members[{i}]"
        m = r.obj(m, path)
        if m.get("index") != i:
            r.bad(f"{path}.index", f"must be {i}")
        members.append(
            MemberView(
                i,
                r.text(m, "id_type", path),
                r.text(m, "id_number_masked", path),
                refs[i] if i < len(refs) else "",
            )
        )
    return tuple(members)


def _statuses(doc: Mapping[str, Any], n: int, r: _Reader) -> dict[tuple[int, str], str]:
    out: dict[tuple[int, str], str] = {}
    for i, s in enumerate(r.arr(doc.get("sources"), "document.sources")):
        path = f"document.sources[{i}]"
        s = r.obj(s, path)
        member = r.integer(s, "member_index", path)
        source = r.text(s, "source", path)
        status = r.text(s, "status", path)
        if not 0 <= member < n:
            r.bad(f"{path}.member_index", "must index a report member")
        if status not in STATUSES:
            r.bad(f"{path}.status", "must be FOUND, NOT_FOUND, FAILED, DENIED or PENDING")
        if (member, source) in out:
            r.bad(path, "repeats a member and source")
        out[(member, source)] = status
    return out


def _registration(
    rec: Mapping[str, Any], record_id: str, path: str, r: _Reader
) -> tuple[RegistrationKey, list[tuple[PersonKey, str]]]:
    key = (r.text(rec, "region_code", path), r.text(rec, "household_number", path), record_id)
    persons = []
    for j, p in enumerate(r.arr(rec.get("members"), f"{path}.members")):
        ppath = f"{path}.members[{j}]"
        p = r.obj(p, ppath)
        persons.append(
            (
                (r.text(p, "id_type", ppath), r.text(p, "id_number_masked", ppath)),
                r.text(p, "relation", ppath),
            )
        )
    return key, persons


def _cancel_reason(rec: Mapping[str, Any], path: str, r: _Reader) -> str | None:
    """Why a registration record is cancelled, or None for one in force (no ``status``:
    reports show a status on cancelled registrations only)."""
    status = rec.get("status")
    if status is None or status == ACTIVE:
        return None
    if status != CANCELLED:
        r.bad(f"{path}.status", "must be active or cancelled")
        return None
    reason = r.text(rec, "cancel_reason", path)
    if not _CANCEL_REASON.fullmatch(reason):
        r.bad(f"{path}.cancel_reason", "must be a lowercase reason code")
    return reason


def _records(
    doc: Mapping[str, Any],
    statuses: Mapping[tuple[int, str], str],
    r: _Reader,
) -> tuple[tuple[AssetView, ...], dict[RegistrationKey, RegistrationView], dict[int, str]]:
    assets: list[AssetView] = []
    listed: dict[RegistrationKey, Counter[PersonKey]] = {}
    relations: dict[RegistrationKey, dict[PersonKey, str]] = {}
    cancellations: dict[int, str] = {}
    for i, rec in enumerate(r.arr(doc.get("records"), "document.records")):
        path = f"document.records[{i}]"
        rec = r.obj(rec, path)
        member = r.integer(rec, "member_index", path)
        provenance = r.obj(rec.get("provenance"), f"{path}.provenance")
        source = r.text(provenance, "source", f"{path}.provenance")
        if statuses.get((member, source)) != "FOUND":
            r.bad(path, "must belong to a member and source the report lists as FOUND")
        kind = rec.get("type")
        if kind == "asset":
            assets.append(
                AssetView(
                    member,
                    source,
                    r.text(rec, "category", path),
                    r.integer(rec, "count", path),
                    r.integer(rec, "value_fen", path),
                )
            )
        elif kind == HOUSEHOLD_REGISTRATION:
            reason = _cancel_reason(rec, path, r)
            if reason is not None:
                # A member's own cancelled registration is no 户口簿 anyone is on.
                cancellations[member] = reason
                continue
            record_id = r.text(provenance, "record_id", f"{path}.provenance")
            key, persons = _registration(rec, record_id, path, r)
            # Each member's answer lists the whole 户口簿: the same listing seen through
            # several members counts once (the most copies of a person any listing shows).
            seen: Counter[PersonKey] = Counter(p for p, _ in persons)
            merged = listed.setdefault(key, Counter())
            merged |= seen
            rel = relations.setdefault(key, {})
            for p, relation in sorted(persons):
                rel.setdefault(p, relation)
    registrations = {
        key: RegistrationView(key, listed[key], relations[key]) for key in sorted(listed)
    }
    return tuple(assets), registrations, cancellations


def _assessments(doc: Mapping[str, Any], r: _Reader) -> dict[str, Mapping[str, Any]] | None:
    raw = doc.get("assessments")
    if raw is None:
        return None  # issued without an assessment ("assessment_unavailable")
    programs = r.obj(raw, "document.assessments")
    out: dict[str, Mapping[str, Any]] = {}
    for key in sorted(programs):
        path = f"document.assessments.{key}"
        prog = r.obj(programs[key], path)
        if prog.get("outcome") not in ("ELIGIBLE", "NEEDS_REVIEW", "INELIGIBLE"):
            r.bad(f"{path}.outcome", "must be ELIGIBLE, NEEDS_REVIEW or INELIGIBLE")
        for j, reason in enumerate(r.arr(prog.get("reasons", []), f"{path}.reasons")):
            rpath = f"{path}.reasons[{j}]"
            reason = r.obj(reason, rpath)
            r.text(reason, "rule", rpath)
            r.obj(reason.get("values", {}), f"{rpath}.values")
        for j, m in enumerate(r.arr(prog.get("members", []), f"{path}.members")):
            for k, reason in enumerate(
                r.arr(r.obj(m, f"{path}.members[{j}]").get("reasons", []), f"{path}.members[{j}]")
            ):
                r.obj(reason, f"{path}.members[{j}].reasons[{k}]")
        out[key] = prog
    return out


def _created_at(doc: Mapping[str, Any], r: _Reader) -> tuple[datetime, str]:
    text = r.text(doc, "created_at", "document")
    if _RFC3339_UTC.fullmatch(text):
        try:
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC), text
        except ValueError:
            pass
    r.bad("document.created_at", "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ")
    return datetime.min.replace(tzinfo=UTC), text


def read_report(version: ReportVersion, side: str) -> ReportView:
    """Check and type one report for comparison; ``side`` prefixes every field path.

    Raises :class:`InvalidArgument` naming every problem found.
    """
    r = _Reader(side)
    doc = r.obj(version.document, "document")
    if doc.get("schema") != REPORT_SCHEMA:
        r.bad("document.schema", f"must be {REPORT_SCHEMA!r}")
    _check_ref(version.envelope_sha256, "envelope_sha256", r)
    _check_ref(version.household_ref, "household_ref", r)
    members = _members(doc, tuple(version.member_refs), r)
    statuses = _statuses(doc, len(members), r)
    assets, registrations, cancellations = _records(doc, statuses, r)
    assessments = _assessments(doc, r)
    created_at, created_text = _created_at(doc, r)
    view = ReportView(
        side=side,
        report_id=r.text(doc, "report_id", "document"),
        version=r.integer(doc, "version", "document"),
        verification_id=r.text(doc, "verification_id", "document"),
        case_id=r.text(doc, "case_id", "document"),
        created_at=created_at,
        created_at_text=created_text,
        region=r.text(doc, "region", "document"),
        envelope_sha256=version.envelope_sha256,
        household_ref=version.household_ref,
        members=members,
        statuses=statuses,
        assets=assets,
        registrations=registrations,
        cancellations=cancellations,
        assessments=assessments,
        document=doc,
    )
    if r.out:
        raise InvalidArgument(r.out)
    return view


__all__ = [
    "ABSENT",
    "ANSWERED",
    "FAILING",
    "HOUSEHOLD_REGISTRATION",
    "REPORT_SCHEMA",
    "AssetView",
    "MemberView",
    "PersonKey",
    "RegistrationKey",
    "RegistrationView",
    "ReportVersion",
    "ReportView",
    "read_report",
]
