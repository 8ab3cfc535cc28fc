"""授权书 validation and coverage rules (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from hedui_sdk import SourceKind
from tests.consents import consent_draft
from tests.fakes import synthetic_id
from verifier.domain.consent import (
    ConsentRecord,
    ConsentState,
    SignatoryDraft,
    SignatoryRole,
    check_coverage,
    validate_consent,
)
from verifier.domain.errors import InvalidArgument
from verifier.domain.household import Purpose, Relation

TODAY = date(2026, 11, 26)
ADULT = synthetic_id(seq=11, born=date(1970, 1, 1))
CHILD = synthetic_id(seq=12, born=date(2015, 6, 1))


def violations(draft: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as ei:
        validate_consent(draft, today=TODAY)  # type: ignore[arg-type]
    return {v.field: v.description for v in ei.value.violations}


def test_a_valid_consent() -> None:
    doc = validate_consent(consent_draft("SQ-1", [(ADULT, Relation.APPLICANT)]), today=TODAY)
    assert doc.applicant.id_number == ADULT and doc.valid_until is None


def test_a_minor_needs_a_guardian_not_their_own_signature() -> None:
    d = consent_draft("SQ-1", [(ADULT, Relation.APPLICANT), (CHILD, Relation.CHILD)])
    assert violations(d) == {"subjects[1]": "a minor must be signed for by a guardian"}
    guardian = SignatoryDraft(
        d.signatories[0].id_type, ADULT, "测试0", SignatoryRole.GUARDIAN, (1,)
    )
    ok = replace(d, signatories=(d.signatories[0], guardian))
    assert len(validate_consent(ok, today=TODAY).signatories) == 2


def test_an_adult_without_a_signature_is_refused() -> None:
    other = synthetic_id(seq=13, born=date(1975, 1, 1))
    d = consent_draft("SQ-1", [(ADULT, Relation.APPLICANT), (other, Relation.SPOUSE)])
    d = replace(d, signatories=d.signatories[:1])
    assert violations(d) == {"subjects[1]": "has no signature (own or a guardian's)"}


def test_every_bad_field_is_named() -> None:
    d = consent_draft("", [(ADULT, Relation.OTHER)], region="12", purposes=())
    d = replace(d, valid_from="2026-02-30", evidence_sha256="abc", evidence_location=" ")
    assert set(violations(d)) == {
        "number", "region_code", "subjects", "purposes", "valid_from", "evidence_sha256",
        "evidence_location",
    }  # fmt: skip


def test_valid_until_before_valid_from_is_refused() -> None:
    d = consent_draft("SQ-1", [(ADULT, Relation.APPLICANT)], valid_until=date(2025, 1, 1))
    assert violations(d) == {"valid_until": "must not be before valid_from"}


RECORD = ConsentRecord(
    number="SQ-1", region="370322", household_ref="h", subject_refs=frozenset({"a", "b"}),
    sources=frozenset({SourceKind.TAX}), purposes=frozenset({Purpose.DIBAO}),
    valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31), state=ConsentState.ACTIVE,
)  # fmt: skip


@pytest.mark.parametrize(
    ("record", "refs", "sources", "purposes", "today", "reason"),
    [
        (RECORD, ["a", "b"], [SourceKind.TAX], [Purpose.DIBAO], TODAY, "ALLOWED"),
        (None, ["a"], [SourceKind.TAX], [Purpose.DIBAO], TODAY, "CONSENT_MISSING"),
        (
            replace(RECORD, region="341824"),
            ["a"],
            [SourceKind.TAX],
            [Purpose.DIBAO],
            TODAY,
            "CONSENT_MISSING",
        ),
        (
            replace(RECORD, state=ConsentState.REVOKED),
            ["a"],
            [SourceKind.TAX],
            [Purpose.DIBAO],
            TODAY,
            "CONSENT_REVOKED",
        ),
        (
            replace(RECORD, state=ConsentState.SUPERSEDED, superseded_by="SQ-2"),
            ["a"],
            [SourceKind.TAX],
            [Purpose.DIBAO],
            TODAY,
            "CONSENT_REVOKED",
        ),
        (RECORD, ["a"], [SourceKind.TAX], [Purpose.DIBAO], date(2027, 1, 1), "CONSENT_EXPIRED"),
        (RECORD, ["a"], [SourceKind.TAX], [Purpose.DIBAO], date(2025, 12, 31), "CONSENT_EXPIRED"),
        (
            RECORD,
            ["a", "c"],
            [SourceKind.TAX],
            [Purpose.DIBAO],
            TODAY,
            "CONSENT_SUBJECT_NOT_COVERED",
        ),
        (RECORD, ["a"], [SourceKind.BANK], [Purpose.DIBAO], TODAY, "CONSENT_SOURCE_NOT_COVERED"),
        (
            replace(RECORD, sources=frozenset()),
            ["a"],
            [SourceKind.BANK],
            [Purpose.DIBAO],
            TODAY,
            "ALLOWED",
        ),
        (RECORD, ["a"], [SourceKind.TAX], [Purpose.TEKUN], TODAY, "PURPOSE_NOT_AUTHORIZED"),
    ],
)
def test_coverage(
    record: ConsentRecord | None, refs: list[str], sources: list[SourceKind],
    purposes: list[Purpose], today: date, reason: str,
) -> None:  # fmt: skip
    d = check_coverage(
        record, region="370322", subject_refs=refs, sources=sources, purposes=purposes, today=today
    )
    assert d.reason == reason and d.allowed is (reason == "ALLOWED")
    assert "a" not in d.message.split()  # refs are never echoed, only member indexes
