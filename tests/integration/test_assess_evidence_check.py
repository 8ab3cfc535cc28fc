"""Verified evidence through a real check, on SQLite and PostgreSQL: a gRPC server over the
built-in adapters and the sandbox's 医保, 残联, 教育, 人社 and 民政 departments.

A 高青 (370322) household declares a grade-1 disability for a member the sandbox's 残联
has no certificate for, and a serious illness for a member while 医保 refuses every
request. 高青 requires both facts verified (``fact_basis_*`` in its region file): the
signed report lists the disability difference with 残联's answer as its basis, says the
illness is unverified because 医保 was DENIED, and sends the rules resting on it to review.
"""

from __future__ import annotations

import functools
from typing import Any

from hedui_sdk import SourceKind
from hedui_sdk.sandbox import Household
from tests import alerts_flow_helpers
from tests.alerts_flow_helpers import Stack, _plain, household_doc, population
from verifier.api.client import request_from_json
from verifier.signing.dsse import verify_envelope
from verifier.signing.jwks import key_id

stack = alerts_flow_helpers.stack


@functools.cache
def household() -> Household:
    """A plain 高青 household of two or more whose second member holds no certificate."""
    return next(
        h
        for h in population().all_households
        if h.region == "370322"
        and _plain(h)
        and not h.members[1].facts_for(SourceKind.DISABILITY)
        and all(p.died_on is None for p in h.members)
    )


def declared(h: Household) -> dict[str, Any]:
    doc = household_doc(h, "evidence-1")
    doc["purposes"] = ["PURPOSE_DIBAO", "PURPOSE_YINBING_ZHIPIN"]
    members = doc["household"]["members"]
    members[1]["circumstances"] = {"disability_grade": 1}
    members[0]["circumstances"] = {"serious_illness": True}
    return doc


def reasons(report: dict[str, Any], program: str) -> list[dict[str, Any]]:
    prog = report["assessments"][program]
    found: list[dict[str, Any]] = list(prog["reasons"])
    for m in prog["members"]:
        found += m["reasons"]
    return found


async def test_declarations_are_compared_with_the_departments_and_an_outage_is_reviewed(
    stack: Stack,
) -> None:
    h = household()
    await stack.sandbox.set_faults("medical_insurance", deny_rate=1.0)
    async with stack.checks() as c:
        v = await c.create(request_from_json(declared(h), wait=True))
        envelope = (await c.report(v.verification_id)).envelope
    keys = {key_id(k): k for k in stack.app.keys.public_keys("signing")}
    report = verify_envelope(envelope, keys).document

    statuses = {(s["member_index"], s["source"]): s["status"] for s in report["sources"]}
    assert statuses[(1, "disability")] == "NOT_FOUND"
    assert statuses[(0, "medical_insurance")] == "DENIED"

    (grade,) = [d for d in report["discrepancies"] if d["kind"] == "disability" and d["declared"]]
    assert (grade["declared"], grade["found"]) == (1, 0)
    assert grade["text"].startswith("申报家庭成员 1（")
    findings = {(f["fact"], f["member"]): f for f in report["facts"]["findings"]}
    assert findings[("disability", 1)]["basis"] == "verified"
    illness = findings[("serious_illness", 0)]
    assert (illness["basis"], illness["status"], illness["found"]) == ("unverified", "DENIED", None)

    # 低保's 单人户 route for member 0 rests on the unconfirmed illness; 因病致贫 too.
    for program, rule in (
        ("dibao", "dibao.single_person.evidence"),
        ("yinbing_zhipin", "yinbing_zhipin.evidence"),
    ):
        (why,) = [
            r
            for r in reasons(report, program)
            if r["rule"] == rule and r["values"]["fact"] == "serious_illness"
        ]
        assert why["outcome"] == "NEEDS_REVIEW"
        assert why["values"]["status"] == "DENIED" and "医保被拒绝" in why["text"]
    assert report["assessments"]["yinbing_zhipin"]["outcome"] != "ELIGIBLE"
    # No member is named but by index: the texts carry no name from the household.
    text = str(report["discrepancies"]) + str(report["facts"])
    assert all(p.name not in text and p.id_number not in text for p in h.members)
