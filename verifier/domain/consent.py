"""授权书: the signed authorization a check needs, and the rules that decide coverage.

A verification may ask a source about a person only if an authorization in the
household's region is in force today, covers that person, names that source (or all
sources) and that purpose. Anything else is refused with a reason code that the API
reports as ``google.rpc.ErrorInfo.reason``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from hedui_sdk import IdType, SourceKind, Subject, resident_id
from verifier.domain import identifiers as ids
from verifier.domain.errors import FieldViolation, InvalidArgument
from verifier.domain.household import Purpose, Relation

MAX_SUBJECTS = 40
EVIDENCE_LOCATION_MAX = 256
ADULT_AGE = 18


class ConsentState(StrEnum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"


class SignatoryRole(StrEnum):
    SELF = "self"
    GUARDIAN = "guardian"


@dataclass(frozen=True, slots=True)
class ConsentSubject:
    subject: Subject
    relation: Relation


@dataclass(frozen=True, slots=True)
class Signatory:
    subject: Subject
    role: SignatoryRole
    signs_for: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ConsentDoc:
    """A validated authorization as registered."""

    number: str
    region: str
    subjects: tuple[ConsentSubject, ...]
    signatories: tuple[Signatory, ...]
    sources: tuple[SourceKind, ...]
    purposes: tuple[Purpose, ...]
    valid_from: date
    valid_until: date | None
    evidence_sha256: str
    evidence_location: str

    @property
    def applicant(self) -> Subject:
        return next(s.subject for s in self.subjects if s.relation is Relation.APPLICANT)


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    at: datetime
    event: str
    actor_system: str
    actor_user: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A stored authorization: what coverage checks need, without personal data."""

    number: str
    region: str
    household_ref: str
    subject_refs: frozenset[str]
    sources: frozenset[SourceKind]
    purposes: frozenset[Purpose]
    valid_from: date
    valid_until: date | None
    state: ConsentState
    superseded_by: str = ""

    def state_on(self, day: date) -> ConsentState:
        if (
            self.state is ConsentState.ACTIVE
            and self.valid_until is not None
            and day > self.valid_until
        ):
            return ConsentState.EXPIRED
        return self.state


# --------------------------------------------------------------------------- drafts
@dataclass(frozen=True, slots=True)
class SubjectDraft:
    id_type: IdType | None
    id_number: str
    name: str
    relation: Relation | None


@dataclass(frozen=True, slots=True)
class SignatoryDraft:
    id_type: IdType | None
    id_number: str
    name: str
    role: SignatoryRole | None
    signs_for: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ConsentDraft:
    number: str
    region: str
    subjects: tuple[SubjectDraft, ...]
    signatories: tuple[SignatoryDraft, ...]
    sources: tuple[SourceKind | None, ...]
    purposes: tuple[Purpose | None, ...]
    valid_from: str
    valid_until: str
    evidence_sha256: str
    evidence_location: str
    # What the wire translation already found wrong, reported with the rest.
    wire_violations: tuple[FieldViolation, ...] = ()


def _check_person(
    path: str,
    id_type: IdType | None,
    number: str,
    name: str,
    today: date,
    out: list[FieldViolation],
) -> None:
    if id_type is None:
        out.append(FieldViolation(f"{path}.id_type", "must be set"))
    ids.check_id_number(id_type, number, f"{path}.id_number", today, out)
    ids.check_person_name(name, f"{path}.name", out)


def _is_minor(subject: Subject, today: date) -> bool:
    if subject.id_type is not IdType.RESIDENT_ID:
        return False
    born = resident_id.birth_date(subject.id_number)
    if born is None:
        return False
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age < ADULT_AGE


def validate_consent(draft: ConsentDraft, *, today: date) -> ConsentDoc:
    """Check a 授权书 before it is registered; every bad field is named at once."""
    out: list[FieldViolation] = list(draft.wire_violations)
    ids.AUTHORIZATION_NUMBER.check(draft.number, "number", out)
    ids.REGION_CODE.check(draft.region, "region_code", out)
    if not 1 <= len(draft.subjects) <= MAX_SUBJECTS:
        out.append(FieldViolation("subjects", f"must have 1 to {MAX_SUBJECTS} people"))
    if len(draft.signatories) > MAX_SUBJECTS:
        out.append(FieldViolation("signatories", f"must have at most {MAX_SUBJECTS} signatures"))
    if len(draft.purposes) > len(Purpose):
        out.append(FieldViolation("purposes", "must not repeat a program"))
    if len(draft.sources) > len(SourceKind):
        out.append(FieldViolation("sources", "must not repeat a source"))
    if (
        len(draft.subjects) > MAX_SUBJECTS
        or len(draft.signatories) > MAX_SUBJECTS
        or len(draft.purposes) > len(Purpose)
        or len(draft.sources) > len(SourceKind)
    ):
        raise InvalidArgument(out)  # not worth looking at each of thousands of people
    seen: dict[tuple[IdType | None, str], int] = {}
    for i, s in enumerate(draft.subjects):
        _check_person(f"subjects[{i}]", s.id_type, s.id_number, s.name, today, out)
        if s.relation is None:
            out.append(FieldViolation(f"subjects[{i}].relation", "must be set"))
        key = (s.id_type, s.id_number.upper())
        if key in seen:
            out.append(
                FieldViolation(f"subjects[{i}].id_number", f"duplicates subjects[{seen[key]}]")
            )
        seen.setdefault(key, i)
    applicants = sum(1 for s in draft.subjects if s.relation is Relation.APPLICANT)
    if draft.subjects and applicants != 1:
        out.append(FieldViolation("subjects", f"must have exactly one applicant, got {applicants}"))
    if not draft.signatories:
        out.append(FieldViolation("signatories", "must have at least one signature"))
    for i, g in enumerate(draft.signatories):
        _check_person(f"signatories[{i}]", g.id_type, g.id_number, g.name, today, out)
        if g.role is None:
            out.append(FieldViolation(f"signatories[{i}].role", "must be SELF or GUARDIAN"))
        if any(not 0 <= j < len(draft.subjects) for j in g.signs_for):
            out.append(FieldViolation(f"signatories[{i}].signs_for", "must index subjects"))
    if not draft.purposes:
        out.append(FieldViolation("purposes", "must name at least one program"))
    for i, p in enumerate(draft.purposes):
        if p is None:
            out.append(FieldViolation(f"purposes[{i}]", "must be a known program"))
    for i, k in enumerate(draft.sources):
        if k is None:
            out.append(FieldViolation(f"sources[{i}]", "must be a known source"))
    start = ids.check_date(draft.valid_from, "valid_from", out)
    end = None
    if draft.valid_until:
        end = ids.check_date(draft.valid_until, "valid_until", out)
    if start and end and end < start:
        out.append(FieldViolation("valid_until", "must not be before valid_from"))
    ids.SHA256_HEX.check(draft.evidence_sha256, "evidence_sha256", out)
    where = ids.free_text_problem(draft.evidence_location, EVIDENCE_LOCATION_MAX)
    if where is not None:
        out.append(
            FieldViolation(
                "evidence_location", f"must say where the signed original is kept: {where}"
            )
        )
    loc = draft.evidence_location.strip(" ")
    if out:
        raise InvalidArgument(out)

    subjects = tuple(
        ConsentSubject(Subject(s.id_type, s.id_number.upper(), ids.person_name(s.name)), s.relation)
        for s in draft.subjects
        if s.id_type is not None and s.relation is not None
    )
    signatories = tuple(
        Signatory(
            Subject(g.id_type, g.id_number.upper(), ids.person_name(g.name)),
            g.role,
            tuple(sorted(set(g.signs_for))),
        )
        for g in draft.signatories
        if g.id_type is not None and g.role is not None
    )
    # Everyone covered must have signed, or have a guardian who signed for them; minors
    # (no full legal capacity) only through a guardian.
    for i, cs in enumerate(subjects):
        by_guardian = guardian_signed(i, signatories)
        if _is_minor(cs.subject, today) and not by_guardian:
            out.append(FieldViolation(f"subjects[{i}]", "a minor must be signed for by a guardian"))
        elif not (self_signed(cs.subject, signatories) or by_guardian):
            out.append(FieldViolation(f"subjects[{i}]", "has no signature (own or a guardian's)"))
    if out:
        raise InvalidArgument(out)
    assert start is not None
    return ConsentDoc(
        number=draft.number,
        region=draft.region,
        subjects=subjects,
        signatories=signatories,
        sources=tuple(k for k in draft.sources if k is not None),
        purposes=tuple(p for p in draft.purposes if p is not None),
        valid_from=start,
        valid_until=end,
        evidence_sha256=draft.evidence_sha256,
        evidence_location=loc,
    )


def self_signed(subject: Subject, signatories: Sequence[Signatory]) -> bool:
    """Whether ``subject`` signed for themself: a SELF signatory of the same identity,
    whatever its ``signs_for`` lists."""
    return any(
        g.role is SignatoryRole.SELF
        and g.subject.id_type is subject.id_type
        and g.subject.id_number == subject.id_number
        for g in signatories
    )


def guardian_signed(index: int, signatories: Sequence[Signatory]) -> bool:
    """Whether a guardian signed for the subject at ``index``."""
    return any(g.role is SignatoryRole.GUARDIAN and index in g.signs_for for g in signatories)


def signed_subjects(doc: ConsentDoc) -> tuple[Subject, ...]:
    """The subjects of ``doc`` whose signature it holds (their own or a guardian's), by
    the rule :func:`validate_consent` accepted it under."""
    return tuple(
        cs.subject
        for i, cs in enumerate(doc.subjects)
        if self_signed(cs.subject, doc.signatories) or guardian_signed(i, doc.signatories)
    )


@dataclass(frozen=True, slots=True)
class CoverageDecision:
    allowed: bool
    reason: str = "ALLOWED"
    message: str = "covered"


def check_coverage(
    consent: ConsentRecord | None,
    *,
    region: str,
    subject_refs: Sequence[str],
    sources: Sequence[SourceKind],
    purposes: Sequence[Purpose],
    today: date,
) -> CoverageDecision:
    """Whether ``consent`` covers this check. Messages name members by index only."""
    if consent is None or consent.region != region:
        return CoverageDecision(
            False, "CONSENT_MISSING", "no authorization with that number for this region"
        )
    state = consent.state_on(today)
    if state is ConsentState.REVOKED:
        return CoverageDecision(False, "CONSENT_REVOKED", "the authorization was revoked")
    if state is ConsentState.SUPERSEDED:
        return CoverageDecision(
            False, "CONSENT_REVOKED", f"the authorization was superseded by {consent.superseded_by}"
        )
    if state is ConsentState.EXPIRED or today < consent.valid_from:
        return CoverageDecision(False, "CONSENT_EXPIRED", "the authorization is not in force today")
    missing = [i for i, ref in enumerate(subject_refs) if ref not in consent.subject_refs]
    if missing:
        where = ", ".join(f"members[{i}]" for i in missing)
        return CoverageDecision(False, "CONSENT_SUBJECT_NOT_COVERED", f"not covered: {where}")
    if consent.sources:
        outside = [k.value for k in sources if k not in consent.sources]
        if outside:
            return CoverageDecision(
                False, "CONSENT_SOURCE_NOT_COVERED", f"sources not covered: {', '.join(outside)}"
            )
    unauthorized = [p.value for p in purposes if p not in consent.purposes]
    if unauthorized:
        return CoverageDecision(
            False, "PURPOSE_NOT_AUTHORIZED", f"purposes not authorized: {', '.join(unauthorized)}"
        )
    return CoverageDecision(True)


def consent_doc_to_json(doc: ConsentDoc) -> dict[str, object]:
    """Full fidelity, with raw ID numbers and names: seal it before storing."""

    def person(s: Subject) -> list[str]:
        return [s.id_type.value, s.id_number, s.name]

    return {
        "number": doc.number,
        "region": doc.region,
        "subjects": [[*person(s.subject), s.relation.value] for s in doc.subjects],
        "signatories": [
            [*person(g.subject), g.role.value, list(g.signs_for)] for g in doc.signatories
        ],
        "sources": [k.value for k in doc.sources],
        "purposes": [p.value for p in doc.purposes],
        "valid_from": doc.valid_from.isoformat(),
        "valid_until": doc.valid_until.isoformat() if doc.valid_until else None,
        "evidence_sha256": doc.evidence_sha256,
        "evidence_location": doc.evidence_location,
    }


def consent_doc_from_json(d: dict[str, object]) -> ConsentDoc:
    subjects = d["subjects"]
    signatories = d["signatories"]
    sources = d["sources"]
    purposes = d["purposes"]
    assert isinstance(subjects, list)
    assert isinstance(signatories, list)
    assert isinstance(sources, list)
    assert isinstance(purposes, list)
    until = d["valid_until"]
    return ConsentDoc(
        number=str(d["number"]),
        region=str(d["region"]),
        subjects=tuple(
            ConsentSubject(Subject(IdType(t), n, nm), Relation(r)) for t, n, nm, r in subjects
        ),
        signatories=tuple(
            Signatory(Subject(IdType(t), n, nm), SignatoryRole(role), tuple(sf))
            for t, n, nm, role, sf in signatories
        ),
        sources=tuple(SourceKind(k) for k in sources),
        purposes=tuple(Purpose(p) for p in purposes),
        valid_from=date.fromisoformat(str(d["valid_from"])),
        valid_until=date.fromisoformat(str(until)) if until else None,
        evidence_sha256=str(d["evidence_sha256"]),
        evidence_location=str(d["evidence_location"]),
    )
