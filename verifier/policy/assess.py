"""``assess``: aggregate, apply the five programs' rules, list discrepancies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from verifier.domain.household import Purpose
from verifier.policy.aggregate import Aggregates, aggregate
from verifier.policy.discrepancies import Discrepancy, find_discrepancies
from verifier.policy.fact_discrepancies import fact_discrepancies
from verifier.policy.facts import Facts, resolve_facts
from verifier.policy.inputs import AssessmentInput
from verifier.policy.params import Policy
from verifier.policy.rules import ProgramResult, evaluate
from verifier.policy.snapshot import Snapshot

SCHEMA = "hedui.assessment/v1"


@dataclass(frozen=True)
class Assessment:
    """The indicative finding for one household under one policy version.

    The policy's id, version and file SHA-256 and every parameter entry used are recorded
    (each with its structured reference), so a later change of the policy file never alters
    what an issued report says; ``example_parameters`` names those used whose values are
    examples no document states, so no reader mistakes a placeholder for the law.
    """

    region: str
    request_date: str
    hukou: str
    policy: Policy
    parameters_used: Mapping[str, Mapping[str, object]]
    example_parameters: tuple[str, ...]
    aggregates: Aggregates
    programs: Mapping[Purpose, ProgramResult]
    discrepancies: tuple[Discrepancy, ...]
    facts: Facts = field(default_factory=Facts)

    def to_json(self) -> dict[str, object]:
        """JSON for the report: keys ``policy``, ``aggregates``, ``assessments``,
        ``discrepancies`` and ``facts`` (per member and fact: verified or declared).

        Fen are ints, decimals are strings; the output is deterministic for a given input
        (members, records and evidence are ordered), so its JCS bytes are stable.
        """
        aggregates = self.aggregates.to_json()
        aggregates = {
            "schema": SCHEMA,
            "region": self.region,
            "request_date": self.request_date,
            "hukou": self.hukou,
            **aggregates,
        }
        return {
            "policy": {
                "id": self.policy.id,
                "region": self.policy.region,
                "name": self.policy.name,
                "version": self.policy.version,
                "file": self.policy.file,
                "sha256": self.policy.sha256,
                "parameters_used": {k: dict(v) for k, v in self.parameters_used.items()},
                "example_parameters": list(self.example_parameters),
            },
            "aggregates": aggregates,
            "assessments": {p.value: self.programs[p].to_json() for p in Purpose},
            "discrepancies": [d.to_json() for d in self.discrepancies],
            "facts": self.facts.to_json(),
        }


def assess(inp: AssessmentInput, policy: Policy) -> Assessment:
    """Assess ``inp`` under ``policy`` with the parameters in force on the request date.

    Raises :class:`ValueError` when the policy does not serve the household's region and
    :class:`~verifier.policy.params.ParameterNotInForceError` when the policy has a gap on the
    request date (the assessment cannot be made honestly without it).
    """
    if not policy.serves(inp.region):
        raise ValueError(f"policy {policy.id} (region {policy.region}) does not serve {inp.region}")
    snap = Snapshot(policy, inp.request_date)
    # The rules read the circumstances and 刚性支出 the departments verified; what the
    # case file declared is compared beside them.
    verified, facts = resolve_facts(inp, snap)
    agg = aggregate(verified, snap)
    programs = evaluate(verified, agg, snap, facts)
    discrepancies = find_discrepancies(inp, agg, snap) + fact_discrepancies(inp, facts, snap)
    return Assessment(
        region=inp.region,
        request_date=inp.request_date.isoformat(),
        hukou=inp.hukou.value,
        policy=policy,
        parameters_used=snap.used(),
        example_parameters=tuple(snap.examples_used()),
        aggregates=agg,
        programs=programs,
        discrepancies=discrepancies,
        facts=facts,
    )
