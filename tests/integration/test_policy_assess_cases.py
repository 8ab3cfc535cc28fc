"""Boundary cases computed by hand, run through `hedui policy assess` as an officer runs it.

Each case is a directory under ``policy_assess_cases/`` with the two input files the
command reads: ``household.json`` (the ``hedui check`` format; members by birth date, so no
ID number is in a test file) and ``records.json`` (the report's record format). The
command's ``--json`` output is checked against the figures worked out below.

Golden policy (``tests/unit/golden/policy_test.toml``), request 2025-03-10: window
2024-03-01..2025-02-28 = 12 whole months; urban 低保 standard S = 100000 fen, rural 80000;
taper below 2 S for 1–6 months; 边缘 line 1.5 S; 临时救助 bands 急难 2–4 × and 支出型
2–10 × the household's S, 重特大疾病 3–12 × and 就学 3–6 × the urban S; ties (a fraction of
a fen) go to the family. The income record covers the whole window, so y = income ÷ 12 ÷ n.

Region files, request 2025-06-10 (window 2024-06-01..2025-05-31, 12 months): 高青 and 临淄
urban S 98000, rural 80000; 胶州 114000 both; 莘县 urban 85000, rural 70000; 绩溪 80000
both (all example values except the bands and the taper, which follow each county's seed).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from verifier.cli.main import main

CASES = Path(__file__).parent / "policy_assess_cases"
GOLDEN = Path(__file__).parents[1] / "unit" / "golden" / "policy_test.toml"
FALLBACK_NONE = "本地政策文件未规定临时救助金额档次"
FALLBACK_UNMATCHED = "本地政策文件规定的临时救助档次均不适用于本户情形"

G = "golden"
GD = "2025-03-10"
RD = "2025-06-10"

# (case directory, policy, date, {JSON path: expected}). Paths are dotted keys into the
# --json output; "dibao" etc. stand for assessments.<program>.
TABLE: list[tuple[str, str, str, dict[str, Any]]] = [
    # c01 The example. 3 urban members, 3000000 fen: y = 3000000 ÷ 36 = 250000/3
    # = 83333.33…; top-up (100000 − 250000/3) × 3 = 300000 − 250000 = 50000 exactly.
    # (Rounding y first gave (100000 − 83333) × 3 = 50001.)
    (
        "c01_three_members_issue_example",
        G,
        GD,
        {
            "aggregates.monthly_per_capita_income_exact": "250000/3",
            "aggregates.monthly_per_capita_income_fen": 83333,
            "dibao.outcome": "ELIGIBLE",
            "dibao.amount_fen": 50000,
        },
    ),
    # c02 7 members, 1000000 fen: y = 1000000 ÷ 84 = 250000/21 = 11904.76…;
    # top-up 700000 − 1000000 ÷ 12 = 700000 − 83333.33… = 616666.67 → 616667.
    # (Rounded first: (100000 − 11905) × 7 = 616665, two fen short.)
    (
        "c02_seven_members",
        G,
        GD,
        {
            "aggregates.monthly_per_capita_income_exact": "250000/21",
            "dibao.amount_fen": 616667,
        },
    ),
    # c03 30 members, 2000000 fen: y = 2000000 ÷ 360 = 50000/9 = 5555.56;
    # top-up 3000000 − 2000000 ÷ 12 = 3000000 − 166666.67 = 2833333.33 → 2833333.
    # (Rounded first: (100000 − 5556) × 30 = 2833320, thirteen fen short.)
    (
        "c03_thirty_members",
        G,
        GD,
        {
            "aggregates.household_size": 30,
            "aggregates.monthly_per_capita_income_exact": "50000/9",
            "dibao.amount_fen": 2833333,
        },
    ),
    # c04 3 members, 3599988 fen: y = 3599988 ÷ 36 = 299999/3 = 99999.67 < S (exactly) →
    # ELIGIBLE; top-up 300000 − 3599988 ÷ 12 = 300000 − 299999 = 1. (Rounded first, y was
    # 100000 = S and the family was refused.)
    (
        "c04_fraction_below_standard",
        G,
        GD,
        {
            "aggregates.monthly_per_capita_income_exact": "299999/3",
            "aggregates.monthly_per_capita_income_fen": 100000,
            "dibao.outcome": "ELIGIBLE",
            "dibao.amount_fen": 1,
        },
    ),
    # c05 3 members, 3600012 fen: y = 300001/3 = 100000.33 — a third of a fen above S.
    # Taken down to the whole fen (the family's tie rule) it is 100000, still not below S →
    # INELIGIBLE; 边缘 line 150000 → ELIGIBLE.
    (
        "c05_fraction_above_standard",
        G,
        GD,
        {
            "aggregates.monthly_per_capita_income_exact": "300001/3",
            "dibao.outcome": "INELIGIBLE",
            "dibao.amount_fen": None,
            "dibao_bianyuan.outcome": "ELIGIBLE",
        },
    ),
    # c06 1 member on 低保, 1200000 fen: y = 100000 = S, not below → no top-up; below 2 S
    # = 200000 → 渐退, a range of 1–6 months, not a fixed number.
    (
        "c06_exactly_at_standard_taper",
        G,
        GD,
        {
            "dibao.outcome": "ELIGIBLE",
            "dibao.amount_fen": None,
            "dibao.taper_months_range": {"min": 1, "max": 6},
        },
    ),
    # c07 3 members on 低保, 7199988 fen: y = 599999/3 = 199999.67 < 200000 → 渐退 1–6.
    (
        "c07_taper_fraction_below_ceiling",
        G,
        GD,
        {
            "aggregates.monthly_per_capita_income_exact": "599999/3",
            "dibao.outcome": "ELIGIBLE",
            "dibao.taper_months_range": {"min": 1, "max": 6},
        },
    ),
    # c08 3 members on 低保, 7200012 fen: y = 600001/3 = 200000.33; down to the fen 200000,
    # not below 200000 → INELIGIBLE, no 渐退.
    (
        "c08_taper_fraction_above_ceiling",
        G,
        GD,
        {
            "dibao.outcome": "INELIGIBLE",
            "dibao.taper_months_range": None,
        },
    ),
    # c09 Rural S 80001 (the golden policy with an odd standard), 5 members, 7200102 fen:
    # y = 7200102 ÷ 60 = 1200017/10 = 120001.7; 边缘 line 1.5 × 80001 = 120001.5. A tie
    # within one fen: in the family's favour y goes down to 120001 and the line up to
    # 120002 → 120001 < 120002 → ELIGIBLE.
    (
        "c09_fractional_line_tie",
        "odd-family",
        GD,
        {
            "aggregates.monthly_per_capita_income_exact": "1200017/10",
            "dibao_bianyuan.outcome": "ELIGIBLE",
        },
    ),
    # c10 The same household under fen_tie_rule = "exact": 120001.7 < 120001.5 is false →
    # INELIGIBLE. The policy file, not the code, decides which way the tie goes.
    (
        "c09_fractional_line_tie",
        "odd-exact",
        GD,
        {"dibao_bianyuan.outcome": "INELIGIBLE"},
    ),
    # c11 高青, RURAL household, member 1 with a 重特大疾病, medical receipts 600000:
    # 高政字〔2021〕27号 bands are of the URBAN standard 98000 whatever the hukou:
    # 3 × 98000 = 294000 to 12 × 98000 = 1176000 (not 3–12 × rural 80000 = 240000–960000).
    # y = (960000 − 600000) ÷ 24 = 15000 < 2 × 80000 → ELIGIBLE; not a cap (一事一议).
    (
        "c11_gaoqing_rural_illness_band",
        "region:370322",
        RD,
        {
            "linshi.outcome": "ELIGIBLE",
            "linshi.band": "illness",
            "linshi.range_fen": {"min": 294000, "max": 1176000},
            "linshi.case_by_case": True,
            "linshi.fallback": None,
        },
    ),
    # c12 临淄, rural, a child in school, school fees 200000: 就学 band 3–6 × urban 98000 =
    # 294000–588000. y = (960000 − 200000) ÷ 24 = 31666.67 < 160000 → ELIGIBLE.
    (
        "c12_linzi_rural_schooling_band",
        "region:370305",
        RD,
        {
            "linshi.outcome": "ELIGIBLE",
            "linshi.band": "schooling",
            "linshi.range_fen": {"min": 294000, "max": 588000},
            "linshi.case_by_case": True,
        },
    ),
    # c13 高青, a medical receipt but nobody with a 重特大疾病 and nobody in school: the
    # county's bands are not triggered by a deduction; 高青 states no general band →
    # no range; the amount falls to the provincial and national rule (国发〔2014〕47号).
    (
        "c13_gaoqing_receipt_without_trigger",
        "region:370322",
        RD,
        {
            "linshi.outcome": "ELIGIBLE",
            "linshi.band": None,
            "linshi.range_fen": None,
            "linshi.fallback~": FALLBACK_UNMATCHED,
        },
    ),
    # c14 胶州 (胶政发〔2020〕106号 states no bands): a member with a 重特大疾病 still gets no
    # band; the reason says the provincial and national rule applies.
    (
        "c14_jiaozhou_no_bands",
        "region:370281",
        RD,
        {
            "linshi.outcome": "ELIGIBLE",
            "linshi.range_fen": None,
            "linshi.ranges_fen": {},
            "linshi.fallback~": FALLBACK_NONE,
        },
    ),
    # c15 莘县 (莘政办发〔2024〕12号 states no bands): as 胶州.
    (
        "c15_shenxian_no_bands",
        "region:371522",
        RD,
        {"linshi.range_fen": None, "linshi.fallback~": FALLBACK_NONE},
    ),
    # c16 绩溪, rural, medical receipts 600000: 支出型 2–10 × the monthly standard 80000 =
    # 160000–800000; 急难型 2–4 × = 160000–320000 is listed, never applied by data.
    (
        "c16_jixi_expense_band",
        "region:341824",
        RD,
        {
            "linshi.band": "expense",
            "linshi.range_fen": {"min": 160000, "max": 800000},
            "linshi.ranges_fen": {
                "emergency": {"min": 160000, "max": 320000},
                "expense": {"min": 160000, "max": 800000},
            },
            "linshi.case_by_case": True,
        },
    ),
    # c17 绩溪, 1 member on 低保, 1200000 fen: y = 100000 ≥ S 80000 and < 2 × 80000 = 160000
    # → 渐退 1–6 months (绩办〔2021〕27号), where the file used to say 3.
    (
        "c17_jixi_taper_range",
        "region:341824",
        RD,
        {
            "dibao.outcome": "ELIGIBLE",
            "dibao.taper_months_range": {"min": 1, "max": 6},
        },
    ),
    # c18 因病致贫, gross 2400001 fen, self-paid medical 1200000 (member 1 seriously ill):
    # the burden is 0.5 × 2400001 = 1200000.5, half a fen above what was paid. In the
    # family's favour the threshold goes down to 1200000 → met → ELIGIBLE. (Rounding the
    # threshold up to 1200001 first refused it.) y = 1200001 ÷ 24 = 50000.04 < 200000.
    (
        "c18_medical_burden_half_fen",
        G,
        GD,
        {
            "yinbing_zhipin.outcome": "ELIGIBLE",
            "yinbing_zhipin.reasons[yinbing_zhipin.medical_burden].values.threshold_exact": (
                "2400001/2"
            ),
        },
    ),
    # c19 单人户: 3 members, 5399988 fen: y = 449999/3 = 149999.67 < 1.5 × 100000 = 150000
    # → member 1 (grade-1 disabled, 30 years old, no own income) ELIGIBLE, 100000 − 0.
    (
        "c19_single_person_fraction_below_line",
        G,
        GD,
        {
            "dibao.outcome": "ELIGIBLE",
            "dibao.members[0].route": "single_person",
            "dibao.members[0].outcome": "ELIGIBLE",
            "dibao.members[0].amount_fen": 100000,
        },
    ),
    # c20 高青, URBAN household as c11: the same band 294000–1176000 (the base is the urban
    # standard for every household), while its 低保 standard is the urban 98000.
    (
        "c20_gaoqing_urban_illness_band",
        "region:370322",
        RD,
        {
            "linshi.band": "illness",
            "linshi.range_fen": {"min": 294000, "max": 1176000},
            "linshi.standard_fen": 98000,
        },
    ),
]


def policy_args(policy: str, tmp: Path) -> list[str]:
    if policy == G:
        return ["--policy", str(GOLDEN)]
    if policy.startswith("region:"):
        return ["--region", policy.removeprefix("region:")]
    text = GOLDEN.read_text(encoding="utf-8")
    rural = "{ from = 2023-01-01, value_fen = 80000,"
    assert text.count(rural) == 1
    text = text.replace(rural, "{ from = 2023-01-01, value_fen = 80001,")
    if policy == "odd-exact":
        assert text.count('value = "family"') == 1
        text = text.replace('value = "family"', 'value = "exact"')
    path = tmp / f"{policy}.toml"
    path.write_text(text, encoding="utf-8")
    return ["--policy", str(path)]


def lookup(doc: dict[str, Any], path: str) -> Any:
    """``dibao.amount_fen``, ``dibao.members[0].route``, ``x.reasons[rule].values.k``."""
    head, _, rest = path.partition(".")
    node: Any = doc["aggregates"] if head == "aggregates" else doc["assessments"][head]
    for name, key in re.findall(r"([^.\[\]]+)(?:\[([^\]]*)\])?", rest):
        node = node[name]
        if key:
            node = (
                node[int(key)]
                if re.fullmatch(r"[0-9]+", key)
                else next(r for r in node if r.get("rule") == key)
            )
    return node


def run_assess(case: str, policy: str, day: str, tmp: Path, capsys: Any) -> dict[str, Any]:
    d = CASES / case
    code = main(
        [
            "policy",
            "assess",
            "--household",
            str(d / "household.json"),
            "--records",
            str(d / "records.json"),
            *policy_args(policy, tmp),
            "--date",
            day,
            "--json",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    doc: dict[str, Any] = json.loads(out.out)
    return doc


def test_the_table_has_at_least_fifteen_cases() -> None:
    assert len(TABLE) >= 15
    assert {c for c, *_ in TABLE} == {p.name for p in CASES.iterdir() if p.is_dir()}


@pytest.mark.parametrize(("case", "policy", "day", "expected"), TABLE, ids=[t[0] for t in TABLE])
def test_boundary_case(
    case: str,
    policy: str,
    day: str,
    expected: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = run_assess(case, policy, day, tmp_path, capsys)
    for path, want in expected.items():
        if path.endswith("~"):  # the sentence contains the words
            assert want in lookup(doc, path[:-1]), path
        else:
            assert lookup(doc, path) == want, path


def test_the_installed_command_gives_the_same_answer(tmp_path: Path) -> None:
    # The example through a real process: exit 0, the table, then the JSON.
    d = CASES / "c01_three_members_issue_example"
    cmd = [
        sys.executable,
        "-m",
        "verifier.cli.main",
        "policy",
        "assess",
        "--household",
        str(d / "household.json"),
        "--records",
        str(d / "records.json"),
        "--policy",
        str(GOLDEN),
        "--date",
        GD,
    ]
    table = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert table.returncode == 0, table.stderr
    assert "500.00 元/月" in table.stdout
    assert "精确值 250000/3 分" in table.stdout
    as_json = subprocess.run(
        [*cmd, "--json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert json.loads(as_json.stdout)["assessments"]["dibao"]["amount_fen"] == 50000


def test_the_table_says_how_each_fact_was_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # c11: 医保 answered for member 1 (a diagnosis and the bills), nothing else was found.
    d = CASES / "c11_gaoqing_rural_illness_band"
    args = ["--household", str(d / "household.json"), "--records", str(d / "records.json")]
    code = main(["policy", "assess", *args, *policy_args("region:370322", tmp_path), "--date", RD])
    out = capsys.readouterr().out
    assert code == 0
    assert "核实情况" in out
    assert "医保（已查到）" in out and "残联（无记录）" in out
    doc = run_assess("c11_gaoqing_rural_illness_band", "region:370322", RD, tmp_path, capsys)
    costs = [f for f in doc["facts"]["findings"] if f["fact"] == "medical_costs"]
    assert [(f["basis"], f["declared"], f["found"]) for f in costs] == [
        ("verified", 600000, 600000)
    ]
