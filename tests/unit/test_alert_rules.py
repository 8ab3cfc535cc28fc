"""Alert terms from the region's dated parameters: every reason code has one risk level
in the packaged files, the act-by date counts working days on China's calendar, an
unlisted change code raises nothing, and the cross-checks refuse a bad file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from verifier.domain.alerts import ALERT_REASONS, ALWAYS_RAISED, RiskLevel
from verifier.domain.changes import ChangeCode
from verifier.domain.workdays import add_working_days
from verifier.policy.params import (
    REGIONS_DIR,
    Policy,
    check_policy_bytes,
    load_policy,
    packaged_regions,
)
from verifier.service.monitoring.rules import AlertRules

DAY = date(2026, 12, 1)


@pytest.mark.parametrize("region", packaged_regions())
def test_every_reason_has_one_level_in_every_packaged_region(region: str) -> None:
    pol = load_policy(region)
    listed: list[str] = []
    for level in ("high", "medium", "low"):
        value = pol.entry(f"alert_{level}_risk_reasons", DAY).value
        assert isinstance(value, tuple)
        listed += [str(v) for v in value]
        assert pol.entry(f"alert_{level}_risk_working_days", DAY).reference.is_example
    assert sorted(listed) == sorted(ALERT_REASONS)


def test_terms_cite_their_parameters_and_count_working_days() -> None:
    rules = AlertRules()
    terms = rules.terms("370322", ChangeCode.HUKOU_CANCELLED.value, DAY)
    assert terms is not None and terms.risk_level is RiskLevel.HIGH
    assert terms.act_by == add_working_days(DAY, 5)
    assert terms.basis["risk"]["parameter"] == "alert_high_risk_reasons"
    assert terms.basis["risk"]["status"] == "example"
    assert terms.basis["deadline"]["working_days"] == 5
    # National Day 2025: 1-8 October off, Saturday 11 October a make-up working day.
    autumn = rules.terms("370322", ChangeCode.VEHICLE_ADDED.value, date(2025, 9, 30))
    assert autumn is not None and autumn.risk_level is RiskLevel.MEDIUM
    assert autumn.act_by == add_working_days(date(2025, 9, 30), 10) == date(2025, 10, 21)


def _packaged_text(region: str = "370322") -> str:
    return (REGIONS_DIR / f"{region}.toml").read_text(encoding="utf-8")


def _policy(text: str) -> Policy:
    problems, pol = check_policy_bytes(text.encode(), "test.toml")
    assert pol is not None, problems
    return pol


def test_a_change_code_listed_at_no_level_raises_nothing() -> None:
    text = _packaged_text().replace('["SOURCE_NEWLY_FAILING", ', "[", 1)
    rules = AlertRules(lambda region: _policy(text))
    assert rules.terms("370322", ChangeCode.SOURCE_NEWLY_FAILING.value, DAY) is None
    assert rules.terms("370322", ChangeCode.VEHICLE_REMOVED.value, DAY) is not None


def _problems(text: str) -> list[str]:
    problems, pol = check_policy_bytes(text.encode(), "test.toml")
    assert pol is None
    return [str(p) for p in problems]


def test_a_reason_at_two_levels_is_refused() -> None:
    text = _packaged_text().replace('["SOURCE_NEWLY_FAILING", ', '["HUKOU_CANCELLED", ', 1)
    (problem,) = _problems(text)
    assert "HUKOU_CANCELLED is also in alert_high_risk_reasons" in problem


def test_a_reason_that_always_raises_must_have_a_level() -> None:
    text = _packaged_text().replace(', "REAUTHORIZATION_NEEDED"]', "]", 1)
    (problem,) = _problems(text)
    assert "REAUTHORIZATION_NEEDED" in problem and "need a risk level" in problem
    assert "REAUTHORIZATION_NEEDED" in ALWAYS_RAISED


def test_the_six_go_together_and_unknown_codes_are_refused() -> None:
    text = _packaged_text()
    # the last section of the packaged file
    cut = text[: text.index("[parameters.alert_low_risk_working_days]")]
    (problem,) = _problems(cut)
    assert "alert parameters go together" in problem and "alert_low_risk_working_days" in problem
    bad = text.replace('"TAPER_ENDED"', '"TAPER_ENDED_X"', 1)
    assert any("unknown values ['TAPER_ENDED_X']" in p for p in _problems(bad))


def test_a_region_without_alert_parameters_raises_high_without_deadline(tmp_path: Path) -> None:
    text = _packaged_text()
    cut = text[: text.index("\n# 监测预警")]
    rules = AlertRules(lambda region: _policy(cut))
    terms = rules.terms("370322", ChangeCode.VEHICLE_ADDED.value, DAY)
    assert terms is not None
    assert (terms.risk_level, terms.act_by) == (RiskLevel.HIGH, None)
    assert "states no alert parameters" in terms.basis["unparameterized"]
