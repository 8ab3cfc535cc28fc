"""The five programs' rules as code.

hedui gives indicative findings; people decide. Each rule yields a :class:`Reason` with
the rule id, its legal reference (the national rule, then the citations of the region's
entries used), the parameters among them that are examples no document states, the
numbers compared (fen as int) and a Chinese sentence. A program's outcome is the worst of
its checks (INELIGIBLE < NEEDS_REVIEW < ELIGIBLE), so missing data can lower an outcome to
NEEDS_REVIEW but never raise one to ELIGIBLE.

Arithmetic is exact: income per capita, lines derived from a standard (``S × 1.5``) and
gaps are rationals, compared exactly under the policy's ``fen_tie_rule`` (a fraction of a
fen goes to the family unless the policy says "exact"). Only an amount paid (a top-up, a
特困 standard, a 临时救助 band) is rounded, half-up to the fen, once. A reason shows each
compared figure in fen and, when it is not a whole fen, its exact value as ``p/q``.

Each program is its own module (:mod:`~verifier.policy.dibao`, ``tekun``, ``linshi``,
``bianyuan``, ``yinbing``); the checks they share are in :mod:`~verifier.policy.checks`.
"""

from __future__ import annotations

from verifier.domain.household import Purpose
from verifier.policy.aggregate import Aggregates
from verifier.policy.bianyuan import bianyuan
from verifier.policy.context import Context
from verifier.policy.dibao import dibao
from verifier.policy.facts import Facts
from verifier.policy.findings import MemberResult, Outcome, ProgramResult, Reason, best, worst
from verifier.policy.inputs import AssessmentInput
from verifier.policy.linshi import linshi
from verifier.policy.snapshot import Snapshot
from verifier.policy.tekun import tekun
from verifier.policy.yinbing import yinbing

__all__ = [
    "MemberResult",
    "Outcome",
    "ProgramResult",
    "Reason",
    "best",
    "evaluate",
    "worst",
]


def evaluate(
    inp: AssessmentInput, agg: Aggregates, snap: Snapshot, facts: Facts | None = None
) -> dict[Purpose, ProgramResult]:
    ctx = Context.of(inp, agg, snap, facts)
    return {
        Purpose.DIBAO: dibao(ctx),
        Purpose.TEKUN: tekun(ctx),
        Purpose.LINSHI: linshi(ctx),
        Purpose.DIBAO_BIANYUAN: bianyuan(ctx),
        Purpose.YINBING_ZHIPIN: yinbing(ctx),
    }
