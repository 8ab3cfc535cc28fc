"""The rule trace names every vocabulary word in Chinese, from the one label table."""

from __future__ import annotations

from verifier.domain.labels import OUTCOME_LABELS, ROUTE_LABELS, SOURCE_LABELS
from verifier.policy import explain


def test_explain_names_outcomes_routes_and_evidence_sources_in_chinese() -> None:
    doc = {
        "assessments": {
            "dibao": {
                "name": "最低生活保障",
                "outcome": "NEEDS_REVIEW",
                "members": [{"member": 1, "route": "single_person", "outcome": "ELIGIBLE"}],
            }
        },
        "discrepancies": [
            {
                "text": "申报工资性收入与核对结果不符",
                "evidence": [{"source": "tax", "record_id": "T-1"}],
            }
        ],
    }
    out = explain(doc)
    assert f"【最低生活保障】{OUTCOME_LABELS['NEEDS_REVIEW']}" in out
    assert f"成员 1（{ROUTE_LABELS['single_person']}）：{OUTCOME_LABELS['ELIGIBLE']}" in out
    assert f"记录：{SOURCE_LABELS['tax']}:T-1" in out
    assert "tax:" not in out and "single_person" not in out
