"""A cancelled 户籍 (注销) is not a registration: a member whose own registration answer is
cancelled is not counted as registered, and the report lists the cancellation as a
discrepancy with its reason in Chinese, by member index and relation only.

Policy ``golden/policy_test.toml``; request 2025-03-10. Members are named by index only;
the ID numbers and names below are synthetic and must never reach a finding's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hedui_sdk import (
    CancellationReason,
    HouseholdRegistrationRecord,
    Provenance,
    Record,
    RegisteredMember,
    RegistrationStatus,
    SourceKind,
)
from verifier.domain.labels import CANCELLATION_LABELS
from verifier.policy import (
    AssessmentInput,
    Declaration,
    HukouNature,
    Member,
    SourceStatus,
    assess,
    load_policy_file,
)

POLICY = load_policy_file(Path(__file__).parent / "golden" / "policy_test.toml")
REQ = date(2025, 3, 10)
AS_OF = datetime(2025, 3, 1, tzinfo=UTC)
RELATIONS = ("applicant", "spouse", "child")
PEOPLE = tuple(
    RegisteredMember("resident_id", f"37032219800101{i:04d}", f"测试{i}", RELATIONS[i])
    for i in range(3)
)


def prov(rid: str) -> Provenance:
    return Provenance(SourceKind.HOUSEHOLD_REGISTRATION.value, "test-adapter", "1.0", rid, AS_OF)


def booklet(*people: RegisteredMember, rid: str = "hh-1") -> HouseholdRegistrationRecord:
    """The household's 户口簿, in force."""
    return HouseholdRegistrationRecord("370322", people, prov(rid), household_number="H-1")


def cancelled(
    person: RegisteredMember,
    reason: CancellationReason,
    on: date | None = date(2025, 1, 15),
    rid: str = "hh-dead",
) -> HouseholdRegistrationRecord:
    """The department's record of one person whose registration was cancelled."""
    return HouseholdRegistrationRecord(
        "370322",
        (person,),
        prov(rid),
        household_number="H-1",
        status=RegistrationStatus.CANCELLED,
        cancel_reason=reason,
        cancelled_on=on,
    )


def run(
    records: Mapping[int, Sequence[Record]], declaration: Declaration | None = None
) -> dict[str, Any]:
    members = tuple(Member(index=i, relation=RELATIONS[i], age=40) for i in range(3))
    inp = AssessmentInput(
        region="370322",
        request_date=REQ,
        hukou=HukouNature.URBAN,
        members=members,
        records={k: tuple(v) for k, v in records.items()},
        sources={m.index: dict.fromkeys(SourceKind, SourceStatus.FOUND) for m in members},
        declaration=declaration,
    )
    return assess(inp, POLICY).to_json()


def after_a_death(reason: CancellationReason = CancellationReason.DEATH) -> dict[int, list[Record]]:
    """Member 1 (the spouse) died: the 户口簿 no longer lists them, and their own
    registration answer is the cancelled record."""
    live = booklet(PEOPLE[0], PEOPLE[2])
    return {0: [live], 1: [cancelled(PEOPLE[1], reason)], 2: [live]}


def by_kind(j: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [d for d in j["discrepancies"] if d["kind"] == kind]


def test_a_dead_member_is_not_counted_as_registered_and_the_size_differs() -> None:
    j = run(after_a_death(), Declaration(member_count=3))
    assert j["aggregates"]["household_size_registered"] == 2
    assert j["aggregates"]["household_size"] == 3
    [size] = by_kind(j, "household_size")
    assert (size["declared"], size["found"]) == (3, 2)


def test_a_cancelled_record_does_not_count_even_where_another_record_still_lists_the_person() -> (
    None
):
    # A 户口簿 answer not yet updated still lists the dead spouse: the cancellation wins.
    stale = booklet(*PEOPLE)
    records: dict[int, list[Record]] = {
        0: [stale],
        1: [cancelled(PEOPLE[1], CancellationReason.DEATH)],
        2: [stale],
    }
    j = run(records, Declaration(member_count=3))
    assert j["aggregates"]["household_size_registered"] == 2


@pytest.mark.parametrize("reason", list(CancellationReason))
def test_a_cancelled_member_gets_its_own_finding_naming_the_reason(
    reason: CancellationReason,
) -> None:
    j = run(after_a_death(reason), Declaration(member_count=3))
    [d] = by_kind(j, "registration_cancelled")
    assert d["category"] == reason.value
    assert (d["declared"], d["found"], d["difference"], d["unit"]) == (1, 0, -1, "persons")
    assert f"户籍已注销：{CANCELLATION_LABELS[reason]}" in d["text"]
    assert d["text"].startswith("申报的家庭成员 1（配偶）户籍已注销")
    assert "2025-01-15" in d["text"]
    assert [(e["member"], e["record_id"]) for e in d["evidence"]] == [(1, "hh-dead")]
    assert CANCELLATION_LABELS == {
        CancellationReason.DEATH: "死亡",
        CancellationReason.MOVED_OUT: "迁出",
        CancellationReason.OTHER: "其他",
    }


def test_the_finding_never_names_the_person() -> None:
    j = run(after_a_death(), Declaration(member_count=3))
    text = repr(j["discrepancies"])
    for p in PEOPLE:
        assert p.id_number not in text and p.name not in text


def test_without_a_date_the_finding_says_only_the_reason() -> None:
    live = booklet(PEOPLE[0], PEOPLE[2])
    records: dict[int, list[Record]] = {
        0: [live],
        1: [cancelled(PEOPLE[1], CancellationReason.MOVED_OUT, on=None)],
        2: [live],
    }
    [d] = by_kind(run(records, Declaration(member_count=3)), "registration_cancelled")
    assert "注销日期" not in d["text"] and "户籍已注销：迁出" in d["text"]


def test_the_cancellation_is_found_without_an_economic_declaration() -> None:
    # The members on the check are the ones the household declared; a cancelled one is
    # listed whether or not income and assets were declared too.
    j = run(after_a_death())
    assert [d["kind"] for d in j["discrepancies"]] == ["registration_cancelled"]
    assert j["aggregates"]["household_size_registered"] == 2


def test_a_household_without_cancellations_reads_as_before() -> None:
    live = booklet(*PEOPLE)
    j = run({0: [live], 1: [live], 2: [live]}, Declaration(member_count=3))
    assert j["aggregates"]["household_size_registered"] == 3
    assert j["discrepancies"] == []


def registration_findings(j: dict[str, Any]) -> dict[str, list[tuple[int | None, str]]]:
    """Per program, the registration reasons: (member, outcome)."""
    out: dict[str, list[tuple[int | None, str]]] = {}
    for program, a in j["assessments"].items():
        found = [r for r in a["reasons"] if r["rule"].endswith(".registration")]
        for m in a.get("members", []):
            found += [r for r in m["reasons"] if r["rule"].endswith(".registration")]
        out[program] = [(r.get("member"), r["outcome"]) for r in found]
    return out


def test_an_assessment_counting_a_cancelled_member_goes_to_staff() -> None:
    # The family declared three; one has died. Size and per-capita income still count three,
    # so no program may come out ELIGIBLE on that count without a person looking at it.
    j = run(after_a_death(), Declaration(member_count=3))
    found = registration_findings(j)
    for program in ("dibao", "dibao_bianyuan", "linshi", "yinbing_zhipin"):
        assert found[program] == [(1, "NEEDS_REVIEW")], program
        assert j["assessments"][program]["outcome"] != "ELIGIBLE", program
    # Per-member programs say it of the member concerned only.
    assert found["tekun"] == [(1, "NEEDS_REVIEW")]
    texts = [
        r["text"]
        for a in j["assessments"].values()
        for r in a["reasons"]
        if r["rule"].endswith(".registration")
    ]
    assert texts and all("成员 1 户籍已注销（死亡）" in t for t in texts)
    assert not any(p.name in t or p.id_number in t for t in texts for p in PEOPLE)


def test_without_a_cancellation_no_program_says_anything_of_registration() -> None:
    live = booklet(*PEOPLE)
    j = run({0: [live], 1: [live], 2: [live]}, Declaration(member_count=3))
    assert all(v == [] for v in registration_findings(j).values())
