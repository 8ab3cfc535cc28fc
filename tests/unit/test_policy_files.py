"""Policy files: the shipped regions load; bad files are refused naming the place."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from verifier.policy import (
    AssessmentInput,
    HukouNature,
    Member,
    ParameterNotInForceError,
    PolicyError,
    PolicyProblem,
    assess,
    check_policy_file,
    load_policy,
    load_policy_file,
)
from verifier.policy.params import REGIONS_DIR, SPECS

GOLDEN = Path(__file__).parent / "golden" / "policy_test.toml"
SEED_COUNTIES = ("370322", "370305", "370281", "371522", "341824")


def variant(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    """The golden policy with ``old`` replaced by ``new`` (which must occur)."""
    text = GOLDEN.read_text(encoding="utf-8")
    assert old in text, old
    p = tmp_path / "bad.toml"
    p.write_text(text.replace(old, new, count), encoding="utf-8")
    return p


def one(problems: list[PolicyProblem]) -> PolicyProblem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def entry_line(name: str, value: str) -> str:
    """The single entry of parameter ``name`` in the golden file, as text."""
    text = GOLDEN.read_text(encoding="utf-8")
    m = re.search(
        rf"\[parameters\.{name}\]\n.*?\n  (\{{ from = [^\n]*{re.escape(value)}[^\n]*\}})",
        text,
        re.S,
    )
    assert m is not None
    return m.group(1)


# --------------------------------------------------------------------------- shipped files


@pytest.mark.parametrize("region", SEED_COUNTIES)
def test_seed_county_policies_are_valid(region: str) -> None:
    assert check_policy_file(REGIONS_DIR / f"{region}.toml") == []
    policy = load_policy(region)
    assert policy.region == region
    assert len(policy.sha256) == 64
    text = (REGIONS_DIR / f"{region}.toml").read_text(encoding="utf-8")
    assert "示例值" in text  # marked as examples a region must set


def test_every_shipped_policy_assesses_a_household() -> None:
    for region in SEED_COUNTIES:
        inp = AssessmentInput(
            region, date(2025, 6, 1), HukouNature.RURAL, (Member(0, "本人", age=70),)
        )
        j: dict[str, Any] = assess(inp, load_policy(region)).to_json()
        assert j["policy"]["id"] == region
        # No source answered → nothing can be ELIGIBLE.
        assert all(a["outcome"] != "ELIGIBLE" for a in j["assessments"].values())


def test_golden_policy_is_valid_and_sha_is_of_bytes() -> None:
    import hashlib

    p = load_policy_file(GOLDEN)
    assert p.sha256 == hashlib.sha256(GOLDEN.read_bytes()).hexdigest()
    assert p.entry("dibao_standard_urban", date(2024, 6, 30)).value == 95000
    assert p.entry("dibao_standard_urban", date(2024, 7, 1)).value == 100000


def test_unknown_region_refused() -> None:
    with pytest.raises(PolicyError, match="no policy file"):
        load_policy("110101")
    with pytest.raises(PolicyError, match="6-digit"):
        load_policy("37")


def test_request_before_any_entry_is_not_assessed() -> None:
    inp = AssessmentInput(
        "370322", date(2022, 6, 1), HukouNature.URBAN, (Member(0, "本人", age=40),)
    )
    with pytest.raises(ParameterNotInForceError, match=r"dibao_standard_urban|financial"):
        assess(inp, load_policy_file(GOLDEN))


# --------------------------------------------------------------------------- bad files


def test_missing_parameter(tmp_path: Path) -> None:
    p = variant(tmp_path, "[parameters.yinbing_income_multiplier]", "[parameters.unused_table_x]")
    problems = check_policy_file(p)
    places = {(x.parameter, x.message) for x in problems}
    assert ("yinbing_income_multiplier", "required parameter is missing") in places
    assert ("unused_table_x", "unknown parameter (misspelt?)") in places
    with pytest.raises(PolicyError) as exc:
        load_policy_file(p)
    assert "bad.toml: parameters.yinbing_income_multiplier: required parameter is missing" in str(
        exc.value
    )


def test_duplicate_dates_refused(tmp_path: Path) -> None:
    p = variant(
        tmp_path, "from = 2024-07-01, value_fen = 100000", "from = 2023-01-01, value_fen = 100000"
    )
    prob = one(check_policy_file(p))
    assert (prob.parameter, prob.entry) == ("dibao_standard_urban", 1)
    assert "not after entry 0" in prob.message
    assert str(prob).startswith("bad.toml: parameters.dibao_standard_urban.entries[1]: ")


def test_unordered_dates_refused(tmp_path: Path) -> None:
    p = variant(
        tmp_path, "from = 2024-07-01, value_fen = 100000", "from = 2022-07-01, value_fen = 100000"
    )
    prob = one(check_policy_file(p))
    assert (prob.parameter, prob.entry) == ("dibao_standard_urban", 1)
    assert "ascending" in prob.message


def test_overlapping_until_refused(tmp_path: Path) -> None:
    p = variant(
        tmp_path,
        "from = 2023-01-01, value_fen = 95000",
        "from = 2023-01-01, until = 2024-12-31, value_fen = 95000",
    )
    prob = one(check_policy_file(p))
    assert (prob.parameter, prob.entry) == ("dibao_standard_urban", 1)
    assert "overlaps entry 0" in prob.message


def test_multiplier_below_one(tmp_path: Path) -> None:
    line = entry_line("bianyuan_multiplier", '"1.5"')
    p = variant(tmp_path, line, line.replace('"1.5"', '"0.9"'))
    problems = check_policy_file(p)
    below = [x for x in problems if x.parameter == "bianyuan_multiplier"]
    assert len(below) == 1
    assert (below[0].entry, below[0].message) == (0, "multiplier 0.9 is below the minimum 1")


@pytest.mark.parametrize(
    ("name", "old", "new", "floor"),
    [
        ("tekun_multiplier_urban", '"1.5"', '"1.49"', "1.5"),
        ("tekun_multiplier_rural", '"1.3"', '"1.2"', "1.3"),
    ],
)
def test_tekun_floor_enforced(tmp_path: Path, name: str, old: str, new: str, floor: str) -> None:
    line = entry_line(name, old)
    prob = one(check_policy_file(variant(tmp_path, line, line.replace(old, new))))
    assert (prob.parameter, prob.entry) == (name, 0)
    assert f"below the minimum {floor}" in prob.message
    assert "特困基本生活标准不得低于" in prob.message


def test_float_money_refused(tmp_path: Path) -> None:
    prob = one(check_policy_file(variant(tmp_path, "value_fen = 95000", "value_fen = 950.00")))
    assert (prob.parameter, prob.entry) == ("dibao_standard_urban", 0)
    assert prob.message.startswith("float money")


def test_float_multiplier_refused(tmp_path: Path) -> None:
    line = entry_line("taper_ceiling_multiplier", '"2"')
    prob = one(check_policy_file(variant(tmp_path, line, line.replace('"2"', "2.0"))))
    assert prob.parameter == "taper_ceiling_multiplier"
    assert "write decimals as strings" in prob.message


@pytest.mark.parametrize(
    ("name", "old", "new", "fragment"),
    [
        ("taper_max_months", "value = 6", 'value = "6"', "expected an integer"),
        ("taper_max_months", "value = 6", "value = 7", "above the maximum 6"),
        ("single_person_serious_illness", "value = true", "value = 1", "expected true/false"),
        ("tekun_disability_grades", "value = [1, 2]", "value = [1, 5]", "unknown values [5]"),
        ("bianyuan_multiplier", 'value = "1.5"', 'value = "x"', "not a decimal"),
        ("yinbing_medical_expense_ratio", 'value = "0.5"', 'value = "1.5"', "above the maximum"),
    ],
)
def test_bad_types_refused(tmp_path: Path, name: str, old: str, new: str, fragment: str) -> None:
    line = entry_line(name, old.split(" = ")[1])
    prob = one(check_policy_file(variant(tmp_path, line, line.replace(old, new))))
    assert (prob.parameter, prob.entry) == (name, 0)
    assert fragment in prob.message


def test_missing_reference_and_wrong_value_key(tmp_path: Path) -> None:
    line = entry_line("taper_max_months", "value = 6")
    bad = line.replace("value = 6", "value_fen = 6")
    bad = re.sub(r", reference = \{[^}]*\}", "", bad)
    assert "reference" not in bad
    problems = check_policy_file(variant(tmp_path, line, bad))
    msgs = sorted(x.message for x in problems if x.parameter == "taper_max_months")
    assert any("reference" in m for m in msgs)
    assert any("use 'value'" in m for m in msgs)


def test_range_pair_order(tmp_path: Path) -> None:
    line = entry_line("linshi_emergency_min_multiplier", '"2"')
    prob = one(check_policy_file(variant(tmp_path, line, line.replace('"2"', '"5"'))))
    assert prob.parameter == "linshi_emergency_max_multiplier"
    assert "exceeds" in prob.message


def test_not_toml_and_no_header(tmp_path: Path) -> None:
    p = tmp_path / "x.toml"
    p.write_text("[policy\n", encoding="utf-8")
    assert "not valid TOML" in one(check_policy_file(p)).message
    p.write_text("", encoding="utf-8")
    msgs = [x.message for x in check_policy_file(p)]
    assert "missing [policy] table (id, region, version, name)" in msgs
    assert sum(1 for x in check_policy_file(p) if x.parameter in SPECS) >= 30
    assert "cannot read" in one(check_policy_file(tmp_path / "absent.toml")).message


def test_datetime_instead_of_date(tmp_path: Path) -> None:
    p = variant(
        tmp_path,
        "from = 2023-01-01, value_fen = 95000",
        "from = 2023-01-01T00:00:00, value_fen = 95000",
    )
    prob = one(check_policy_file(p))
    assert "'from' must be a TOML date" in prob.message


# --------------------------------------------------------------------------- references


def test_prose_reference_is_refused_naming_the_table(tmp_path: Path) -> None:
    # Issue 12: "…（示例值，需由地区设定）" in prose could not be told from a citation.
    line = entry_line("bianyuan_multiplier", '"1.5"')
    bad = re.sub(r"reference = \{[^}]*\}", 'reference = "某某规定（示例值）"', line)
    prob = one(check_policy_file(variant(tmp_path, line, bad)))
    assert (prob.parameter, prob.entry) == ("bianyuan_multiplier", 0)
    assert "'reference' must be a table" in prob.message


@pytest.mark.parametrize(
    ("new_ref", "fragment"),
    [
        ('{ status = "seed" }', "reference.document (文号) is required when status is 'seed'"),
        ('{ status = "national", section = "第二条" }', "reference.document (文号) is required"),
        ('{ status = "example", document = "某文" }', "status 'example' states that no document"),
        ('{ status = "guess", note = "x" }', "reference.status must be one of seed, regional"),
        ('{ status = "seed", document = "  " }', "reference.document must be a non-empty"),
        ('{ status = "seed", document = "甲\\n乙" }', "one-line"),
        ('{ status = "example", page = 3 }', "unknown keys in 'reference': ['page']"),
    ],
)
def test_structured_reference_is_checked(tmp_path: Path, new_ref: str, fragment: str) -> None:
    line = entry_line("bianyuan_multiplier", '"1.5"')
    bad = re.sub(r"reference = \{[^}]*\}", lambda _m: f"reference = {new_ref}", line)
    problems = [p for p in check_policy_file(variant(tmp_path, line, bad))]
    assert problems, new_ref
    assert all(p.parameter == "bianyuan_multiplier" for p in problems)
    assert any(fragment in p.message for p in problems), [p.message for p in problems]


def test_a_band_needs_its_base(tmp_path: Path) -> None:
    start = GOLDEN.read_text(encoding="utf-8").index("[parameters.linshi_illness_base]")
    text = GOLDEN.read_text(encoding="utf-8")
    end = text.index("[parameters.", start + 1)
    p = tmp_path / "bad.toml"
    p.write_text(text[:start] + text[end:], encoding="utf-8")
    prob = one(check_policy_file(p))
    assert prob.parameter == "linshi_illness_base"
    assert "needs linshi_illness_min_multiplier, linshi_illness_max_multiplier" in prob.message


def test_base_is_a_known_word(tmp_path: Path) -> None:
    line = entry_line("linshi_illness_base", '"urban"')
    prob = one(check_policy_file(variant(tmp_path, line, line.replace('"urban"', '"city"'))))
    assert prob.parameter == "linshi_illness_base"
    assert "allowed: ['household', 'urban']" in prob.message


@pytest.mark.parametrize("region", ["３７０３２２", "370322\n", "37032"])
def test_policy_header_region_is_six_ascii_digits(tmp_path: Path, region: str) -> None:
    text = GOLDEN.read_text(encoding="utf-8").replace(
        'region = "370322"', f"region = {json.dumps(region, ensure_ascii=False)}"
    )
    p = tmp_path / "bad.toml"
    p.write_text(text, encoding="utf-8")
    message = one(check_policy_file(p)).message
    assert message.startswith("[policy] region")
    assert "is not a 6-digit code" in message or "one line" in message


# --------------------------------------------------------------------------- fidelity

DOCUMENTS = {
    "370322": "高政字〔2021〕27号",
    "370305": "临政字〔2021〕75号",
    "370281": "胶政发〔2020〕106号",
    "371522": "莘政办发〔2024〕12号",
    "341824": "绩办〔2021〕27号",
}
BANDS = {
    # 高青, 临淄: 重特大疾病 3–12 and 就学 3–6 × the urban standard.
    "370322": {"illness": ("3", "12", "urban"), "schooling": ("3", "6", "urban")},
    "370305": {"illness": ("3", "12", "urban"), "schooling": ("3", "6", "urban")},
    # 胶州, 莘县: no bands stated → none (provincial and national rule).
    "370281": {},
    "371522": {},
    # 绩溪: 急难型 2–4, 支出型 2–10 × the monthly standard.
    "341824": {"emergency": ("2", "4", "household"), "expense": ("2", "10", "household")},
}


@pytest.mark.parametrize("region", SEED_COUNTIES)
def test_each_county_gets_only_what_its_document_states(region: str) -> None:
    from verifier.policy.params import LINSHI_BANDS, Status

    p = load_policy(region)
    day = date(2025, 6, 10)
    for name, param in p.parameters.items():
        for e in param.entries:
            ref = e.reference
            if ref.status is Status.SEED:
                # A seed value cites this county's own seed document, never another's.
                assert ref.document == DOCUMENTS[region], (region, name)
            assert "国发〔2016〕14号" not in (ref.document or ""), name
    bands = {
        b: (
            str(p.entry(f"linshi_{b}_min_multiplier", day).value),
            str(p.entry(f"linshi_{b}_max_multiplier", day).value),
            str(p.entry(f"linshi_{b}_base", day).value),
        )
        for b in LINSHI_BANDS
        if p.has(f"linshi_{b}_min_multiplier", day)
    }
    assert bands == BANDS[region]
    for b in bands:
        assert p.entry(f"linshi_{b}_min_multiplier", day).reference.status is Status.SEED
    assert p.has("linshi_case_by_case", day) == bool(bands)
    minor = p.entry("tekun_minor_age", day)
    assert (minor.value, minor.reference.status) == (18, Status.SEED)
    taper = (p.entry("taper_min_months", day), p.entry("taper_max_months", day))
    assert [t.value for t in taper] == [1, 6]
    assert all(t.reference.status is Status.SEED for t in taper)
    # The standards themselves are stated by no seed: examples, and they say so.
    assert p.entry("dibao_standard_urban", day).reference.status is Status.EXAMPLE
    assert p.entry("fen_tie_rule", day).value == "family"
