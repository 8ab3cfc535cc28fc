"""From a verification's outcomes to the report's assessment sections, under the
region's policy (rules as code in :mod:`verifier.policy`).

hedui gives indicative findings; people decide. Whatever goes wrong here is reported
inside the report ("assessment_unavailable"), never as a failed verification.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import structlog

from hedui_sdk import IdType, resident_id
from verifier import policy
from verifier.domain.household import VerificationRequest
from verifier.domain.outcomes import SourceOutcome

log = structlog.get_logger("hedui.assessment")


@functools.lru_cache(maxsize=64)
def _policy_for(region: str) -> policy.Policy:
    return policy.load_policy(region)


def assessment_input(
    request: VerificationRequest, outcomes: Sequence[SourceOutcome], today: date
) -> policy.AssessmentInput:
    members = tuple(
        policy.Member(
            index=i,
            relation=m.relation.value,
            birth_date=resident_id.birth_date(m.subject.id_number)
            if m.subject.id_type is IdType.RESIDENT_ID
            else None,
            disability_grade=m.circumstances.disability_grade,
            serious_illness=m.circumstances.serious_illness,
            in_school=m.circumstances.in_school,
            able_to_work=m.circumstances.able_to_work,
            supporter=m.circumstances.supporter,
        )
        for i, m in enumerate(request.household.members)
    )
    records: dict[int, list[Any]] = {i: [] for i in range(len(members))}
    statuses: dict[int, dict[Any, policy.SourceStatus]] = {i: {} for i in range(len(members))}
    for o in outcomes:
        records[o.member_index].extend(o.records)
        statuses[o.member_index][o.source] = o.status
    decl = request.declaration
    return policy.AssessmentInput(
        region=request.household.region,
        request_date=today,
        hukou=request.hukou,
        members=members,
        records={i: tuple(r) for i, r in records.items()},
        sources=statuses,
        deductions=tuple(
            policy.Deduction(d.kind, d.amount_fen, d.evidence_ref, d.member_index)
            for d in request.deductions
        ),
        declaration=None
        if decl is None
        else policy.Declaration(
            income=tuple(policy.DeclaredIncome(c, f) for c, f in decl.monthly_income_fen),
            asset_values_fen={a.category: a.value_fen for a in decl.assets},
            asset_counts={a.category: a.count for a in decl.assets},
            member_count=decl.member_count,
        ),
        window=request.window,
        current_programs=frozenset(request.current_programs),
    )


def assessment_sections(
    request: VerificationRequest,
    outcomes: Sequence[SourceOutcome],
    today: date,
    pol: policy.Policy | None = None,
) -> dict[str, Any]:
    """The ``policy``, ``aggregates``, ``assessments`` and ``discrepancies`` sections,
    with assessments for the requested programs only (the purposes the consent covers).

    ``pol`` defaults to the packaged policy of the household's region; ``hedui policy
    assess`` passes a policy file under test. Raises what :func:`policy.assess` raises.
    """
    if pol is None:
        pol = _policy_for(request.household.region)
    result = policy.assess(assessment_input(request, outcomes, today), pol).to_json()
    wanted = {p.value for p in request.purposes}
    assessments = result["assessments"]
    assert isinstance(assessments, dict)
    result["assessments"] = {k: v for k, v in assessments.items() if k in wanted}
    return result


def assess_report_sections(
    request: VerificationRequest, outcomes: Sequence[SourceOutcome], today: date
) -> Mapping[str, Any]:
    """:func:`assessment_sections` for a report: a failure becomes ``assessment_unavailable``
    inside the report, never a failed verification."""
    try:
        return assessment_sections(request, outcomes, today)
    except (policy.PolicyError, policy.ParameterNotInForceError, ValueError) as exc:
        log.warning(
            "assessment_unavailable", region=request.household.region, error=type(exc).__name__
        )
        return {
            "assessment_unavailable": (
                f"{type(exc).__name__}: no assessment for this region and date"
            )
        }
