"""Assessment: income and assets aggregated, and the five programs' rules as code.

Public API::

    load_policy(region) -> Policy              # packaged regions/<code>.toml
    load_policy_file(path) -> Policy           # raises PolicyError naming every problem
    check_policy_file(path) -> list[PolicyProblem]
    assess(inp: AssessmentInput, policy: Policy) -> Assessment
    Assessment.to_json() -> dict               # policy, aggregates, assessments, discrepancies
    explain(assessment_json) -> str            # Chinese rule trace
    example_uses(prefixes, day, allowed)       # served regions running on example values

hedui gives indicative findings; people decide.
"""

from verifier.domain.household import DeductionKind, HukouNature, Purpose, SupporterStatus
from verifier.domain.money import dec_str, half_up, yuan
from verifier.domain.outcomes import SourceStatus
from verifier.policy.aggregate import Aggregates, Evidence, window_months
from verifier.policy.assess import Assessment, assess
from verifier.policy.discrepancies import Discrepancy
from verifier.policy.explain import explain
from verifier.policy.gate import ExampleUse, example_uses, refusal_message
from verifier.policy.inputs import (
    AssessmentInput,
    Declaration,
    DeclaredIncome,
    DeclaredPeriod,
    Deduction,
    Member,
    default_window,
)
from verifier.policy.params import (
    ParameterNotInForceError,
    Policy,
    PolicyError,
    PolicyProblem,
    Reference,
    Status,
    check_policy_file,
    load_policy,
    load_policy_file,
)
from verifier.policy.rules import MemberResult, Outcome, ProgramResult, Reason

__all__ = [
    "Aggregates",
    "Assessment",
    "AssessmentInput",
    "Declaration",
    "DeclaredIncome",
    "DeclaredPeriod",
    "Deduction",
    "DeductionKind",
    "Discrepancy",
    "Evidence",
    "ExampleUse",
    "HukouNature",
    "Member",
    "MemberResult",
    "Outcome",
    "ParameterNotInForceError",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "ProgramResult",
    "Purpose",
    "Reason",
    "Reference",
    "SourceStatus",
    "Status",
    "SupporterStatus",
    "assess",
    "check_policy_file",
    "dec_str",
    "default_window",
    "example_uses",
    "explain",
    "half_up",
    "load_policy",
    "load_policy_file",
    "refusal_message",
    "window_months",
    "yuan",
]
