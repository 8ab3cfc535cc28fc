"""Declared circumstances and 刚性支出 vs what the departments answered (诚信 evidence).

Every difference between what the case file declared and what a department that answered
shows is listed, in both directions (a grade declared without a certificate, and a
certificate not declared): whether a declaration was untrue is for people to decide. A
member 民政 records as deceased who is still listed is always listed. 刚性支出 are compared
as totals over the window with the general tolerance (``discrepancy_tolerance_fen``,
``discrepancy_tolerance_percent`` of the found figure).
"""

from __future__ import annotations

from fractions import Fraction

from verifier.domain.labels import FACT_LABELS, RELATION_LABELS, SOURCE_LABELS, label
from verifier.domain.money import half_up, yuan
from verifier.policy.discrepancies import Discrepancy
from verifier.policy.facts import EXPENSE_FACTS, FactFinding, Facts
from verifier.policy.inputs import AssessmentInput
from verifier.policy.snapshot import Snapshot
from verifier.policy.specs import P

_GRADES = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}


def _grade(g: object) -> str:
    return f"{_GRADES[g]}残疾" if isinstance(g, int) and g in _GRADES else "无残疾"


def _member(inp: AssessmentInput, index: int | None) -> str:
    relation = {m.index: m.relation for m in inp.members}.get(index if index is not None else -1)
    return f"家庭成员 {index}（{label(RELATION_LABELS, relation)}）"


def _said(who: str, declared: bool, what: str) -> str:
    """What the case file said: a declaration, or its silence (not a declared absence)."""
    return f"申报{who}{what}" if declared else f"{who}未申报{what}"


def _flag(
    inp: AssessmentInput, f: FactFinding, kind: str, category: str, yes: str, no: str
) -> Discrepancy:
    declared, found = int(bool(f.declared)), int(bool(f.found))
    dept = label(SOURCE_LABELS, f.source)
    return Discrepancy(
        kind,
        category,
        declared,
        found,
        0,
        f"{_said(_member(inp, f.member), bool(declared), yes)}；{dept}记录显示"
        f"{yes if found else no}",
        "",
        f.evidence,
    )


def _member_discrepancy(inp: AssessmentInput, f: FactFinding) -> Discrepancy | None:
    dept = label(SOURCE_LABELS, f.source)
    who = _member(inp, f.member)
    if f.fact == "disability":
        declared = f.declared if isinstance(f.declared, int) else 0
        found = f.found if isinstance(f.found, int) else 0
        shown = f"持有{_GRADES[found]}残疾人证" if found in _GRADES else "无有效残疾人证"
        return Discrepancy(
            "disability",
            "grade",
            declared,
            found,
            0,
            f"{_said(who, bool(declared), _grade(declared) if declared else '残疾')}；"
            f"{dept}记录显示{shown}",
            "",
            f.evidence,
        )
    if f.fact == "serious_illness":
        return _flag(inp, f, "serious_illness", "diagnosis", "患重病", "无有效的重病诊断认定")
    if f.fact == "in_school":
        return _flag(inp, f, "in_school", "enrolment", "在校就学", "无在校学籍")
    if f.fact == "employment":
        if f.declared is not False or f.found is not True:
            return None
        return Discrepancy(
            "employment",
            "able_to_work",
            0,
            1,
            0,
            f"申报{who}无劳动能力；{dept}记录显示现有就业或失业登记（失业登记以有劳动能力为前提）",
            "",
            f.evidence,
        )
    return None


def _expense_discrepancy(f: FactFinding, snap: Snapshot) -> Discrepancy | None:
    declared = f.declared if isinstance(f.declared, int) else 0
    found = f.found if isinstance(f.found, int) else 0
    percent = snap.get(P.discrepancy_tolerance_percent)
    tol_exact = max(
        Fraction(snap.get(P.discrepancy_tolerance_fen)), Fraction(found) * Fraction(percent) / 100
    )
    diff = found - declared
    if abs(diff) <= tol_exact:
        return None
    tol = half_up(tol_exact)
    what = label(FACT_LABELS, f.fact)
    dept = label(SOURCE_LABELS, f.source)
    return Discrepancy(
        "rigid_expense",
        EXPENSE_FACTS[f.fact].value,
        declared,
        found,
        tol,
        f"申报窗口期{what} {yuan(declared)} 元；{dept}记录显示 {yuan(found)} 元，"
        f"相差 {yuan(abs(diff))} 元，超出容差 {yuan(tol)} 元；扣除按{dept}记录计算",
        snap.ref(P.discrepancy_tolerance_fen.name, P.discrepancy_tolerance_percent.name),
        f.evidence,
    )


def fact_discrepancies(
    inp: AssessmentInput, facts: Facts, snap: Snapshot
) -> tuple[Discrepancy, ...]:
    """Differences between the declaration and the departments that answered, then deaths
    and spouses divorced."""
    out: list[Discrepancy] = []
    for f in facts.findings:
        if not f.differs:
            continue
        if f.fact in EXPENSE_FACTS:
            d = _expense_discrepancy(f, snap)
        else:
            d = _member_discrepancy(inp, f)
        if d is not None:
            out.append(d)
    for death in facts.deaths:
        out.append(
            Discrepancy(
                "deceased",
                "death",
                1,
                0,
                0,
                f"申报的{_member(inp, death.member)}仍列为家庭成员；"
                f"{label(SOURCE_LABELS, death.evidence.source)}记录显示已于 "
                f"{death.occurred_on.isoformat()} 死亡；家庭人口和人均收入仍按申报计算，供核实",
                "",
                (death.evidence,),
            )
        )
    for div in facts.divorces:
        out.append(
            Discrepancy(
                "spouse_divorced",
                "divorced",
                1,
                0,
                0,
                f"申报的{_member(inp, div.member)}以配偶身份列为家庭成员；"
                f"{label(SOURCE_LABELS, div.evidence.source)}记录显示其最近一次婚姻登记为"
                f"{div.occurred_on.isoformat()} 离婚；家庭人口和人均收入仍按申报计算，供核实",
                "",
                (div.evidence,),
            )
        )
    return tuple(out)
