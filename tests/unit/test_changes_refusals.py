"""Inputs the change comparison refuses: reports of different households or regions, an
older current report, malformed inputs (naming the field), foreign refs and envelopes.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from tests.unit.changes_helpers import BASE, CHANGES_KEY, FIRST_CHECK, KEYS, OTHER_APPLICANT, check
from verifier.domain.changes import DifferentHouseholds, change_document
from verifier.domain.errors import InvalidArgument
from verifier.signing.changes import ChangeSigner, report_version
from verifier.signing.dsse import EnvelopeError

# --------------------------------------------------------------------------- refusals


def test_reports_of_different_households_are_refused() -> None:
    mine = check(BASE)
    theirs = check(BASE.with_(members=(OTHER_APPLICANT,), registered=(OTHER_APPLICANT,)))
    with pytest.raises(DifferentHouseholds) as exc:
        change_document(mine.version, theirs.version)
    assert [v.field for v in exc.value.violations] == ["current.household_ref"]
    assert "different household" in str(exc.value)


def test_reports_of_different_regions_are_refused() -> None:
    here = check(BASE)
    there = check(BASE.with_(region="370305"), assessed=False)
    with pytest.raises(DifferentHouseholds) as exc:
        change_document(here.version, there.version)
    assert [v.field for v in exc.value.violations] == ["current.document.region"]


def test_the_current_report_must_not_be_older() -> None:
    older = check(BASE, at=FIRST_CHECK - timedelta(days=400))
    with pytest.raises(InvalidArgument, match=r"current\.document\.created_at"):
        change_document(check(BASE).version, older.version)


@pytest.mark.parametrize(
    ("tamper", "field_name"),
    [
        (lambda v: dataclasses.replace(v, member_refs=v.member_refs[:1]), "previous.member_refs"),
        (
            lambda v: dataclasses.replace(v, member_refs=(v.member_refs[0], v.member_refs[0])),
            "previous.member_refs",
        ),
        (
            lambda v: dataclasses.replace(v, member_refs=("X" * 64, v.member_refs[1])),
            "previous.member_refs[0]",
        ),
        (lambda v: dataclasses.replace(v, household_ref="ab\n"), "previous.household_ref"),
        (lambda v: dataclasses.replace(v, envelope_sha256="0" * 63), "previous.envelope_sha256"),
        (
            lambda v: dataclasses.replace(v, document={**v.document, "schema": "other/v1"}),
            "previous.document.schema",
        ),
        (
            lambda v: dataclasses.replace(
                v,
                document={
                    **v.document,
                    "sources": [{**v.document["sources"][0], "status": "MAYBE"}],
                },
            ),
            "previous.document.sources[0].status",
        ),
        (
            lambda v: dataclasses.replace(v, document={**v.document, "records": [{"x": 1}]}),
            "previous.document.records[0].member_index",
        ),
        (
            lambda v: dataclasses.replace(v, document={**v.document, "created_at": "yesterday"}),
            "previous.document.created_at",
        ),
    ],
)
def test_malformed_inputs_are_refused_naming_the_field(tamper: Any, field_name: str) -> None:
    good = check(BASE).version
    with pytest.raises(InvalidArgument) as exc:
        change_document(tamper(good), check(BASE).version)
    assert field_name in [v.field for v in exc.value.violations]
    assert not isinstance(exc.value, DifferentHouseholds)


def test_refs_that_do_not_belong_to_the_reports_are_refused() -> None:
    prev, cur = check(BASE), check(BASE)
    crossed = dataclasses.replace(cur.version, member_refs=tuple(reversed(cur.version.member_refs)))
    with pytest.raises(InvalidArgument, match="do not belong") as exc:
        change_document(prev.version, crossed)
    assert {v.field for v in exc.value.violations} == {
        "current.member_refs[0]",
        "current.member_refs[1]",
    }


def test_one_envelope_hash_for_two_different_documents_is_refused() -> None:
    prev, cur = check(BASE), check(BASE)
    lying = dataclasses.replace(cur.version, envelope_sha256=prev.version.envelope_sha256)
    with pytest.raises(InvalidArgument, match="documents differ"):
        change_document(prev.version, lying)


def test_a_change_envelope_is_not_taken_for_a_report() -> None:
    c = check(BASE)
    signed = ChangeSigner(CHANGES_KEY).sign(change_document(c.version, c.version))
    with pytest.raises(EnvelopeError, match="payloadType"):
        report_version(
            signed.envelope,
            KEYS,
            household_ref=c.version.household_ref,
            member_refs=c.version.member_refs,
        )
