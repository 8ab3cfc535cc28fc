"""授权书 validation under hostile input: the same field formats and the same name rule
as a check (issue 12)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from hedui_sdk import IdType
from tests.consents import consent_draft
from tests.fakes import synthetic_id
from verifier.domain.consent import ConsentDraft, SubjectDraft, validate_consent
from verifier.domain.errors import InvalidArgument
from verifier.domain.household import MemberDraft, Relation, RequestDraft, validate_request

TODAY = date(2026, 11, 26)
ADULT = synthetic_id(seq=11, born=date(1970, 1, 1))


def violations(draft: ConsentDraft) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as ei:
        validate_consent(draft, today=TODAY)
    return {v.field: v.description for v in ei.value.violations}


def good() -> ConsentDraft:
    return consent_draft("SQ-1", [(ADULT, Relation.APPLICANT)])


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("number", {"number": "SQ-1\n"}),
        ("region_code", {"region": "370322\n"}),
        ("evidence_sha256", {"evidence_sha256": "ab" * 32 + "\n"}),
        ("valid_from", {"valid_from": "2026-01-01\n"}),
        ("valid_from", {"valid_from": "20260101"}),
        ("valid_until", {"valid_until": "2026-W10-1"}),
    ],
)
def test_full_match_everywhere(field: str, change: dict[str, str]) -> None:
    assert set(violations(replace(good(), **change))) == {field}  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["测\x07试", "测试\x00", "\x7f测试", "测\u202e试"])
def test_a_name_a_check_refuses_is_refused_here_too(name: str) -> None:
    # A 授权书 once accepted a name with BEL and NUL that a check refuses.
    d = good()
    subject = replace(d.subjects[0], name=name)
    signatory = replace(d.signatories[0], name=name)
    v = violations(replace(d, subjects=(subject,), signatories=(signatory,)))
    assert set(v) == {"subjects[0].name", "signatories[0].name"}
    member = MemberDraft(IdType.RESIDENT_ID, ADULT, name, Relation.APPLICANT)
    check = RequestDraft("r", "c", "a", (), "370322", (member,), (), "", "")
    with pytest.raises(InvalidArgument) as ei:
        validate_request(check, today=TODAY)
    named = {x.field: x.description for x in ei.value.violations}
    assert named["household.members[0].name"] == v["subjects[0].name"]


def test_every_unicode_digit_in_an_id_number_is_refused() -> None:
    for digit in ("\uff11", "\u0661", "\u0967", "\u00b2", "\u2460"):
        number = ADULT[:5] + digit + ADULT[6:]
        d = good()
        subject = replace(d.subjects[0], id_number=number)
        v = violations(replace(d, subjects=(subject,)))
        assert v["subjects[0].id_number"].startswith("character 6 ")


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("number", {"number": f"SQ-{ADULT}"}),
        ("number", {"number": ADULT[:17] + "x"}),
        ("evidence_location", {"evidence_location": f"档案室 {ADULT}"}),
    ],
)
def test_fields_not_for_personal_data_refuse_an_id_number(
    field: str, change: dict[str, str]
) -> None:
    v = violations(replace(good(), **change))  # type: ignore[arg-type]
    assert set(v) == {field}
    assert ADULT[:17] not in v[field]


def test_passport_numbers_are_ascii_and_stored_uppercase() -> None:
    d = good()
    subjects = (
        *d.subjects,
        SubjectDraft(IdType.PASSPORT, "e1234567", "John Smith", Relation.OTHER),
    )
    signatories = (
        *d.signatories,
        replace(d.signatories[0], id_type=IdType.PASSPORT, id_number="e1234567", signs_for=(1,)),
    )
    doc = validate_consent(replace(d, subjects=subjects, signatories=signatories), today=TODAY)
    assert doc.subjects[1].subject.id_number == "E1234567"
    bad = (*d.subjects, SubjectDraft(IdType.PASSPORT, "Ｅ1234567", "John Smith", Relation.OTHER))
    assert "subjects[1].id_number" in violations(replace(d, subjects=bad))


def test_thousands_of_people_are_refused_without_looking_at_each() -> None:
    d = good()
    v = violations(replace(d, signatories=d.signatories * 41))
    assert v == {"signatories": "must have at most 40 signatures"}
